"""Read-only queries of the explorer: a read-only engine, campaign progress, the composition
map, per-composition detail (structures, MD, Arrhenius, NEB), the filtered summary,
potentials, and a guarded SELECT runner. The map and the table read the summary cache
(``db.summary_cache``), and the live view only for a campaign never refreshed.

Every function only reads. Values come back as plain dicts or frozen dataclasses with
units in their names (eV, eV/atom, Å, K, ps, cm^2/s, mS/cm). User input reaches SQL only
as bound parameters, except in :func:`run_select`, which runs a user's single SELECT
after :func:`check_select` and inside a read-only transaction with a timeout.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import aliased
from sqlalchemy.pool import NullPool

from db.engine import PG_CONNECT_TIMEOUT_S, SQLITE_BUSY_TIMEOUT_S, normalize_url
from db.errors import DatabaseError, one_line
from db.models import (
    Arrhenius,
    Campaign,
    CampaignStructure,
    Composition,
    Dataset,
    Hull,
    Job,
    MdRun,
    NebHop,
    NebRun,
    Potential,
    Relaxation,
    Structure,
)
from db.queries import RELAXED_CELL_COLUMNS
from db.summary_cache import CACHE, SUMMARY_VIEW, campaign_view_rows, refreshed_at
from db.views import COMPOSITION_SUMMARY_COLUMNS

STATEMENT_TIMEOUT_S = 30
"""Server-side limit on every explorer statement (PostgreSQL)."""

_CACHED_SUMMARY = [CACHE.c[name] for name in COMPOSITION_SUMMARY_COLUMNS]


INTERVAL_COLUMNS = (
    "structure_id",
    "d_300k_low_cm2_s",
    "d_300k_high_cm2_s",
    "sigma_300k_low_ms_cm",
    "sigma_300k_high_ms_cm",
)


class UnsafeQueryError(ValueError):
    """A user's SQL is not a single SELECT statement."""


# ---------------------------------------------------------------------------- engine


def make_readonly_engine(url: str | URL, *, pooled: bool = True) -> Engine:
    """An engine that cannot write, without connecting.

    SQLite files open with ``mode=ro`` (the file is never modified) and
    ``PRAGMA query_only``; PostgreSQL sessions start with
    ``default_transaction_read_only=on`` and a 30 s ``statement_timeout``, so a role
    with only SELECT suffices. ``pooled=False`` gives every checkout a fresh
    connection (for user SQL, so no session state outlives a query).

    Raises:
        DatabaseError: the URL is malformed, names an unavailable driver or another backend.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if backend == "sqlite":
        parsed = _sqlite_readonly_url(parsed)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    elif backend == "postgresql":
        options = f"-c default_transaction_read_only=on -c statement_timeout={STATEMENT_TIMEOUT_S}s"
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"options": options}
        if "connect_timeout" not in parsed.query:
            kwargs["connect_args"]["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    else:
        raise DatabaseError(f"the explorer reads SQLite or PostgreSQL, not {backend}")
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as err:
        raise DatabaseError(f"cannot use the database URL: {one_line(err)}") from err
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_query_only)
    return engine


def _sqlite_readonly_url(url: URL) -> URL:
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise DatabaseError("the explorer needs a SQLite file, not an in-memory database")
    if url.query.get("uri") == "true":
        return url.update_query_dict({"mode": "ro"})
    return url.set(database=f"file:{database}").update_query_dict({"mode": "ro", "uri": "true"})


def _sqlite_query_only(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only = ON")
    finally:
        cursor.close()


# ------------------------------------------------------------------------- campaigns


@dataclass(frozen=True)
class CampaignInfo:
    id: int
    name: str
    potential: str
    created_at: Any
    n_compositions: int
    spec_json: str


@dataclass(frozen=True)
class JobCount:
    campaign_id: int
    kind: str
    status: str
    count: int


def campaigns(connection: Connection) -> list[CampaignInfo]:
    """Every campaign with its current potential and number of compositions, by name."""
    n_compositions = (
        select(func.count(Composition.id))
        .where(Composition.campaign_id == Campaign.id)
        .scalar_subquery()
    )
    statement = (
        select(
            Campaign.id,
            Campaign.name,
            Potential.name,
            Campaign.created_at,
            n_compositions,
            Campaign.spec_json,
        )
        .join(Potential, Potential.id == Campaign.potential_id)
        .order_by(Campaign.name)
    )
    return [CampaignInfo(*row) for row in connection.execute(statement)]


def job_counts(connection: Connection) -> list[JobCount]:
    """(campaign, kind, status, count) of every campaign's jobs, in one aggregate.

    A campaign's jobs are those on its member structures that use its current
    potential (the definition of ``db.queries.jobs_in_campaign``).
    """
    statement = (
        select(CampaignStructure.campaign_id, Job.kind, Job.status, func.count())
        .join(Job, Job.structure_id == CampaignStructure.structure_id)
        .join(
            Campaign,
            (Campaign.id == CampaignStructure.campaign_id)
            & (Campaign.potential_id == Job.potential_id),
        )
        .group_by(CampaignStructure.campaign_id, Job.kind, Job.status)
        .order_by(CampaignStructure.campaign_id, Job.kind, Job.status)
    )
    return [JobCount(*row) for row in connection.execute(statement)]


# ------------------------------------------------------------------ composition map


def _best_structures(members: ColumnElement[bool]) -> Any:
    """Subquery: the lowest-energy relaxed candidate (the view's choice) of each composition
    whose campaign_structure rows match ``members``."""
    rank = (
        func.row_number()
        .over(
            partition_by=CampaignStructure.composition_id,
            order_by=(Relaxation.energy_ev_atom, Relaxation.id),
        )
        .label("rank")
    )
    return (
        select(
            CampaignStructure.composition_id,
            CampaignStructure.structure_id,
            Campaign.potential_id,
            rank,
        )
        .join(Campaign, Campaign.id == CampaignStructure.campaign_id)
        .join(
            Relaxation,
            (Relaxation.structure_id == CampaignStructure.structure_id)
            & (Relaxation.potential_id == Campaign.potential_id),
        )
        .join(Job, (Job.id == Relaxation.job_id) & (Job.status == "done"))
        .where(members, CampaignStructure.role == "candidate")
        .subquery("best")
    )


def summary_refreshed_at(connection: Connection, campaign_id: int) -> dt.datetime | None:
    """When the campaign's summary cache was last refreshed (at the end of a run); None:
    never, and the summary queries below read the live view instead (slower)."""
    return refreshed_at(connection, campaign_id)


def _cached_rows(connection: Connection, rows: ColumnElement[bool]) -> list[dict[str, Any]]:
    """The summary cache's rows matching ``rows`` under their campaign's current
    potential, by formula, with ``is_stable`` as bool."""
    statement = (
        select(*_CACHED_SUMMARY)
        .join(
            Campaign,
            (Campaign.id == CACHE.c.campaign_id) & (Campaign.potential_id == CACHE.c.potential_id),
        )
        .where(rows)
        .order_by(CACHE.c.formula, CACHE.c.composition_id)
    )
    return [_bool_stability(dict(row)) for row in connection.execute(statement).mappings()]


def _summary_rows(connection: Connection, rows: ColumnElement[bool]) -> list[dict[str, Any]]:
    """The view's rows matching ``rows`` under their campaign's current potential, by
    formula, with ``is_stable`` as bool."""
    view = SUMMARY_VIEW.c
    statement = (
        select(SUMMARY_VIEW)
        .join(Campaign, Campaign.name == view.campaign)
        .join(
            Potential,
            (Potential.id == Campaign.potential_id) & (Potential.name == view.potential),
        )
        .where(rows)
        .order_by(view.formula, view.composition_id)
    )
    return [_bool_stability(dict(row)) for row in connection.execute(statement).mappings()]


def _intervals(connection: Connection, members: ColumnElement[bool]) -> list[dict[str, Any]]:
    """composition_id and :data:`INTERVAL_COLUMNS` of the compositions whose
    campaign_structure rows match ``members`` (those with a relaxed candidate)."""
    best = _best_structures(members)
    statement = (
        select(
            best.c.composition_id,
            best.c.structure_id,
            Arrhenius.d_300k_low_cm2_s,
            Arrhenius.d_300k_high_cm2_s,
            Arrhenius.sigma_300k_low_ms_cm,
            Arrhenius.sigma_300k_high_ms_cm,
        )
        .outerjoin(
            Arrhenius,
            (Arrhenius.structure_id == best.c.structure_id)
            & (Arrhenius.potential_id == best.c.potential_id)
            & (Arrhenius.direction == "total")
            & (Arrhenius.source == "mlip"),
        )
        .where(best.c.rank == 1)
        .order_by(best.c.composition_id)
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


def composition_map(connection: Connection, campaign_id: int) -> list[dict[str, Any]]:
    """``composition_summary``'s rows for the campaign's current potential, by formula
    (``is_stable`` as bool): from the summary cache, or the live view before the
    campaign's first refresh (:func:`summary_refreshed_at`)."""
    if summary_refreshed_at(connection, campaign_id) is None:
        return _summary_rows(connection, Campaign.id == campaign_id)
    return _cached_rows(connection, CACHE.c.campaign_id == campaign_id)


def map_intervals(connection: Connection, campaign_id: int) -> list[dict[str, Any]]:
    """Per composition of the campaign with a relaxed candidate: ``structure_id`` of its
    lowest-energy structure (the view's choice) and the 95% intervals of that structure's
    total-direction Arrhenius extrapolation (``d_300k_low_cm2_s``, ``d_300k_high_cm2_s``,
    ``sigma_300k_low_ms_cm``, ``sigma_300k_high_ms_cm``; NULL without a fit).

    A second query, merged by the caller: joining the view to this ranking in one
    statement lets PostgreSQL's planner nest loops over the view (minutes on 10,000
    compositions).
    """
    return _intervals(connection, CampaignStructure.campaign_id == campaign_id)


def composition_row(connection: Connection, composition_id: int) -> dict[str, Any] | None:
    """One composition's row of :func:`composition_map` with the columns of
    :func:`map_intervals` (NULL where it has no relaxed candidate); None if it does not
    exist. Far cheaper than the campaign's map when only one composition is shown. From
    the summary cache, else (not refreshed since the composition was added) the view."""
    rows = _cached_rows(connection, CACHE.c.composition_id == composition_id) or _summary_rows(
        connection, SUMMARY_VIEW.c.composition_id == composition_id
    )
    if not rows:
        return None
    found = _intervals(connection, CampaignStructure.composition_id == composition_id)
    return rows[0] | (found[0] if found else dict.fromkeys(INTERVAL_COLUMNS))


def compositions(connection: Connection, campaign_id: int) -> list[tuple[int, str]]:
    """(id, formula) of the campaign's compositions, by formula."""
    statement = (
        select(Composition.id, Composition.formula)
        .where(Composition.campaign_id == campaign_id)
        .order_by(Composition.formula, Composition.id)
    )
    return [(row.id, row.formula) for row in connection.execute(statement)]


def md_temperatures(connection: Connection, campaign_id: int) -> list[float]:
    """Temperatures (K) at which the campaign's own MD has a fitted total D, ascending."""
    statement = (
        select(MdRun.temperature_k)
        .join(CampaignStructure, CampaignStructure.structure_id == MdRun.structure_id)
        .join(Campaign, Campaign.id == CampaignStructure.campaign_id)
        .where(
            CampaignStructure.campaign_id == campaign_id,
            MdRun.potential_id == Campaign.potential_id,
            MdRun.source == "mlip",
            MdRun.d_cm2_s.is_not(None),
        )
        .distinct()
        .order_by(MdRun.temperature_k)
    )
    return list(connection.scalars(statement))


def diffusivity_at(
    connection: Connection, campaign_id: int, temperature_k: float
) -> list[dict[str, Any]]:
    """Total D (cm^2/s) and its error at ``temperature_k`` of each composition's
    lowest-energy structure: composition_id, d_cm2_s, d_err_cm2_s (stable runs only)."""
    best = _best_structures(CampaignStructure.campaign_id == campaign_id)
    statement = (
        select(best.c.composition_id, MdRun.d_cm2_s, MdRun.d_err_cm2_s)
        .join(
            MdRun,
            (MdRun.structure_id == best.c.structure_id)
            & (MdRun.potential_id == best.c.potential_id),
        )
        .where(
            best.c.rank == 1,
            MdRun.source == "mlip",
            MdRun.stable.is_(True),
            MdRun.temperature_k == temperature_k,
            MdRun.d_cm2_s.is_not(None),
        )
        .order_by(best.c.composition_id, MdRun.id)
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


# --------------------------------------------------------------- composition detail


@dataclass(frozen=True)
class CompositionInfo:
    id: int
    formula: str
    fractions_json: str
    campaign_id: int
    campaign: str
    potential_id: int
    potential: str


def composition_info(connection: Connection, composition_id: int) -> CompositionInfo | None:
    """The composition, its campaign and the campaign's potential; None if absent."""
    statement = (
        select(
            Composition.id,
            Composition.formula,
            Composition.fractions_json,
            Campaign.id,
            Campaign.name,
            Potential.id,
            Potential.name,
        )
        .join(Campaign, Campaign.id == Composition.campaign_id)
        .join(Potential, Potential.id == Campaign.potential_id)
        .where(Composition.id == composition_id)
    )
    row = connection.execute(statement).one_or_none()
    return None if row is None else CompositionInfo(*row)


def composition_structures(connection: Connection, composition_id: int) -> list[dict[str, Any]]:
    """The composition's candidate structures with their relax job under the campaign's
    potential: structure_id, origin_kind, origin_json, n_atoms, relax_status, energy_ev_atom,
    e_hull_ev_atom, is_stable, converged, max_force_ev_ang, a, b, c (Å), alpha, beta,
    gamma (degrees), volume_per_atom (Å^3), density_g_cm3; ordered by energy, unrelaxed last."""
    relax_job = aliased(Job)
    statement = (
        select(
            Structure.id.label("structure_id"),
            Structure.origin_kind,
            Structure.origin_json,
            Structure.n_atoms,
            relax_job.status.label("relax_status"),
            Relaxation.energy_ev_atom,
            Hull.e_hull_ev_atom,
            Hull.is_stable,
            Relaxation.converged,
            Relaxation.max_force_ev_ang,
            *RELAXED_CELL_COLUMNS,
        )
        .select_from(CampaignStructure)
        .join(Campaign, Campaign.id == CampaignStructure.campaign_id)
        .join(Structure, Structure.id == CampaignStructure.structure_id)
        .outerjoin(
            relax_job,
            (relax_job.structure_id == Structure.id)
            & (relax_job.potential_id == Campaign.potential_id)
            & (relax_job.kind == "relax"),
        )
        .outerjoin(
            Relaxation,
            (Relaxation.job_id == relax_job.id) & (relax_job.status == "done"),
        )
        .outerjoin(
            Hull,
            (Hull.campaign_id == Campaign.id)
            & (Hull.structure_id == Structure.id)
            & (Hull.potential_id == Campaign.potential_id),
        )
        .where(CampaignStructure.composition_id == composition_id)
        .order_by(Relaxation.energy_ev_atom.is_(None), Relaxation.energy_ev_atom, Structure.id)
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


def _members(composition_id: int) -> Any:
    """Subquery: the composition's candidate structure ids."""
    return select(CampaignStructure.structure_id).where(
        CampaignStructure.composition_id == composition_id
    )


def _campaign_potential(composition_id: int) -> Any:
    """Scalar subquery: the potential id of the composition's campaign."""
    return (
        select(Campaign.potential_id)
        .join(Composition, Composition.campaign_id == Campaign.id)
        .where(Composition.id == composition_id)
        .scalar_subquery()
    )


def _transport_owner(model: type[MdRun] | type[Arrhenius], composition_id: int) -> Any:
    """Condition: a candidate of the composition, from the campaign's MLIP or imported."""
    return and_(
        model.structure_id.in_(_members(composition_id)),
        or_(model.potential_id == _campaign_potential(composition_id), model.source != "mlip"),
    )


def md_runs(connection: Connection, composition_id: int) -> list[dict[str, Any]]:
    """Every md_run of the composition's candidates (all columns), by structure, source, T."""
    statement = (
        select(MdRun.__table__)
        .where(_transport_owner(MdRun, composition_id))
        .order_by(MdRun.structure_id, MdRun.source, MdRun.temperature_k, MdRun.id)
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


def arrhenius_fits(connection: Connection, composition_id: int) -> list[dict[str, Any]]:
    """Every Arrhenius fit of the composition's candidates (all columns)."""
    statement = (
        select(Arrhenius.__table__)
        .where(_transport_owner(Arrhenius, composition_id))
        .order_by(Arrhenius.structure_id, Arrhenius.source, Arrhenius.direction)
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


def neb_runs(connection: Connection, composition_id: int) -> list[dict[str, Any]]:
    """The NEB runs of the composition's candidates under its campaign's potential, by
    structure, newest first: id, structure_id, mechanism, cutoff_ang, spacegroup, grouping,
    n_symmetry_classes, n_hops_computed, n_converged (bands, counted in SQL),
    barrier_1d_ev, barrier_2d_ev, barrier_3d_ev (eV; NULL: no percolation in that many
    dimensions), skipped_json, profiles_sha256, wall_time_s, device."""
    n_converged = (
        select(func.count(NebHop.id))
        .where(NebHop.neb_run_id == NebRun.id, NebHop.converged.is_(True))
        .scalar_subquery()
    )
    statement = (
        select(
            NebRun.id,
            NebRun.structure_id,
            NebRun.mechanism,
            NebRun.cutoff_ang,
            NebRun.spacegroup,
            NebRun.grouping,
            NebRun.n_symmetry_classes,
            NebRun.n_hops_computed,
            n_converged.label("n_converged"),
            NebRun.barrier_1d_ev,
            NebRun.barrier_2d_ev,
            NebRun.barrier_3d_ev,
            NebRun.skipped_json,
            NebRun.profiles_sha256,
            NebRun.wall_time_s,
            NebRun.device,
        )
        .where(
            NebRun.structure_id.in_(_members(composition_id)),
            NebRun.potential_id == _campaign_potential(composition_id),
        )
        .order_by(NebRun.structure_id, NebRun.id.desc())
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


NEB_HOP_COLUMNS = (
    "hop_index",
    "length_ang",
    "forward_barrier_ev",
    "reverse_barrier_ev",
    "multiplicity",
    "n_members",
    "converged",
    "endpoints_converged",
    "max_force_ev_ang",
    "steps",
    "force_calls",
    "n_atoms",
    "environment",
    "wall_time_s",
)


def neb_hops(connection: Connection, neb_run_id: int) -> list[dict[str, Any]]:
    """The bands of one NEB run by hop index, with :data:`NEB_HOP_COLUMNS` (lengths Å,
    barriers eV from the initial and final endpoints, force calls summed over images)."""
    statement = (
        select(*(NebHop.__table__.c[name] for name in NEB_HOP_COLUMNS))
        .where(NebHop.neb_run_id == neb_run_id)
        .order_by(NebHop.hop_index)
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


def structure_json(connection: Connection, structure_id: int, potential_id: int) -> str | None:
    """The relaxed structure (pymatgen JSON) of a done relaxation with the potential,
    else the stored starting structure; None if the structure does not exist."""
    relaxed = connection.scalar(
        select(Relaxation.final_structure_json)
        .join(Job, (Job.id == Relaxation.job_id) & (Job.status == "done"))
        .where(Relaxation.structure_id == structure_id, Relaxation.potential_id == potential_id)
        .order_by(Relaxation.energy_ev_atom)
        .limit(1)
    )
    if relaxed is not None:
        return relaxed
    return connection.scalar(select(Structure.structure_json).where(Structure.id == structure_id))


# --------------------------------------------------------------------- table page


SUMMARY_SORT_COLUMNS = (
    "formula",
    "e_hull_ev_atom",
    "energy_ev_atom",
    "e_a_ev",
    "sigma_300k_ms_cm",
    "d_300k_cm2_s",
    "volume_per_atom",
    "neb_barrier_ev",
)


@dataclass(frozen=True)
class SummaryFilter:
    """Filters of the summary table; None means no condition. Units as the view's columns."""

    e_hull_max_ev_atom: float | None = None
    sigma_min_ms_cm: float | None = None
    e_a_max_ev: float | None = None
    neb_barrier_max_ev: float | None = None
    stable_only: bool = False
    formula_contains: str | None = None
    sort_by: str = "formula"
    descending: bool = False
    limit: int = 10_000


def filtered_summary(
    connection: Connection, campaign_name: str, where: SummaryFilter
) -> list[dict[str, Any]]:
    """``composition_summary`` rows of a campaign that pass ``where`` (bound parameters
    only): from the summary cache, or the live view before the campaign's first refresh.

    Raises:
        ValueError: ``sort_by`` is not one of :data:`SUMMARY_SORT_COLUMNS`.
    """
    if where.sort_by not in SUMMARY_SORT_COLUMNS:
        raise ValueError(f"cannot sort by {where.sort_by!r}")
    campaign_id = connection.scalar(select(Campaign.id).where(Campaign.name == campaign_name))
    if campaign_id is not None and summary_refreshed_at(connection, campaign_id) is not None:
        cached = select(*_CACHED_SUMMARY).where(CACHE.c.campaign_id == campaign_id)
        view = cached.subquery("campaign_rows").c
    else:
        view = campaign_view_rows(campaign_name).c
    conditions = []
    if where.e_hull_max_ev_atom is not None:
        conditions.append(view.e_hull_ev_atom <= where.e_hull_max_ev_atom)
    if where.sigma_min_ms_cm is not None:
        conditions.append(view.sigma_300k_ms_cm >= where.sigma_min_ms_cm)
    if where.e_a_max_ev is not None:
        conditions.append(view.e_a_ev <= where.e_a_max_ev)
    if where.neb_barrier_max_ev is not None:
        conditions.append(view.neb_barrier_ev <= where.neb_barrier_max_ev)
    if where.stable_only:
        conditions.append(view.is_stable == 1)
    if where.formula_contains:
        conditions.append(view.formula.contains(where.formula_contains, autoescape=True))
    key = view[where.sort_by]
    order = key.desc() if where.descending else key.asc()
    statement = (
        select(*view)
        .where(*conditions)
        .order_by(order.nulls_last(), view.composition_id, view.potential)
        .limit(where.limit)
    )
    return [_bool_stability(dict(row)) for row in connection.execute(statement).mappings()]


# ------------------------------------------------------------------------ potentials


def potentials(connection: Connection) -> list[dict[str, Any]]:
    """Every potential with its provenance and use: id, name, spec, weights_sha256,
    parent (name of the base model), dataset (fine-tuning data), test RMSEs of energy
    (meV/atom), force (meV/Å) and stress (GPa), created_at, campaigns (current potential
    of), relaxations, md_runs, neb_runs."""
    parent = aliased(Potential)

    def count(model: Any, key: Any) -> Any:
        return select(func.count()).select_from(model).where(key == Potential.id).scalar_subquery()

    statement = (
        select(
            Potential.id,
            Potential.name,
            Potential.spec,
            Potential.weights_sha256,
            parent.name.label("parent"),
            Dataset.name.label("dataset"),
            Potential.test_energy_rmse_mev_atom,
            Potential.test_force_rmse_mev_ang,
            Potential.test_stress_rmse_gpa,
            Potential.created_at,
            count(Campaign, Campaign.potential_id).label("campaigns"),
            count(Relaxation, Relaxation.potential_id).label("relaxations"),
            count(MdRun, MdRun.potential_id).label("md_runs"),
            count(NebRun, NebRun.potential_id).label("neb_runs"),
        )
        .outerjoin(parent, parent.id == Potential.parent_id)
        .outerjoin(Dataset, Dataset.id == Potential.dataset_id)
        .order_by(Potential.name)
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


# ------------------------------------------------------------------------ user SQL


@dataclass(frozen=True)
class SelectResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    """More rows existed than the cap."""
    elapsed_s: float


_LITERALS = re.compile(
    r"""'(?:[^']|'')*'            # string literal
      | "(?:[^"]|"")*"            # quoted identifier
      | --[^\n]*                  # line comment
      | /\*.*?\*/                 # block comment
      | \$(\w*)\$.*?\$\1\$        # PostgreSQL dollar quoting
    """,
    re.VERBOSE | re.DOTALL,
)
_FORBIDDEN = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|UPSERT|INTO|CREATE|ALTER|DROP|TRUNCATE|RENAME|GRANT"
    r"|REVOKE|ATTACH|DETACH|PRAGMA|VACUUM|REINDEX|ANALYZE|COPY|CALL|EXECUTE|PREPARE|DO"
    r"|LOCK|SET|RESET|BEGIN|START|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|LISTEN|NOTIFY|LOAD"
    r"|CLUSTER|REFRESH|COMMENT|DISCARD|IMPORT)\b",
    re.IGNORECASE,
)


def check_select(sql: str) -> str:
    """``sql`` without a trailing semicolon, if it is one SELECT (or WITH ... SELECT).

    The check is conservative: statements that merely mention a forbidden keyword
    outside literals (INSERT, UPDATE, DELETE, DDL, SET, INTO, ...) are refused too.

    Raises:
        UnsafeQueryError: empty, several statements, not a SELECT, or a forbidden keyword.
    """
    statement = sql.strip().rstrip(";").strip()
    code = _LITERALS.sub(" ", statement)
    if "'" in code or '"' in code or "/*" in code:
        raise UnsafeQueryError("unterminated quote or comment")
    words = code.split()
    if not words:
        raise UnsafeQueryError("no statement given")
    if ";" in code:
        raise UnsafeQueryError("only one statement at a time")
    if words[0].upper() not in ("SELECT", "WITH"):
        raise UnsafeQueryError(f"only SELECT statements run here, not {words[0].upper()}")
    forbidden = _FORBIDDEN.search(code)
    if forbidden:
        raise UnsafeQueryError(f"{forbidden.group(1).upper()} is not allowed in a read-only query")
    return statement


def run_select(
    connection: Connection, sql: str, *, row_cap: int = 1000, timeout_s: float = 5.0
) -> SelectResult:
    """Run a user's single SELECT in a read-only transaction, rolled back afterwards.

    At most ``row_cap`` rows are fetched; the statement is cancelled after ``timeout_s``
    (PostgreSQL ``statement_timeout``; SQLite's progress handler).

    Raises:
        UnsafeQueryError: see :func:`check_select`.
        DatabaseError: the database refused or cancelled the statement (one-line message).
    """
    statement = check_select(sql)
    started = time.perf_counter()
    dialect = connection.dialect.name
    transaction = connection.begin()
    try:
        if dialect == "postgresql":
            connection.execute(text("SET TRANSACTION READ ONLY"))
            connection.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(int(timeout_s * 1000))},
            )
        raw = connection.connection.driver_connection
        if dialect == "sqlite":
            deadline = started + timeout_s
            raw.set_progress_handler(lambda: int(time.perf_counter() > deadline), 10_000)
        try:
            result = connection.exec_driver_sql(statement)
            columns = list(result.keys())
            rows = [tuple(row) for row in result.fetchmany(row_cap + 1)]
            result.close()
        finally:
            if dialect == "sqlite":
                raw.set_progress_handler(None, 0)
    except SQLAlchemyError as err:
        raise DatabaseError(one_line(getattr(err, "orig", None) or err)) from err
    finally:
        transaction.rollback()
    return SelectResult(
        columns=columns,
        rows=rows[:row_cap],
        truncated=len(rows) > row_cap,
        elapsed_s=time.perf_counter() - started,
    )


def _bool_stability(row: dict[str, Any]) -> dict[str, Any]:
    if row["is_stable"] is not None:
        row["is_stable"] = bool(row["is_stable"])
    return row
