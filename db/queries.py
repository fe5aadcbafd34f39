"""Typed read queries for the CLI and the explorer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Engine, Select, func, select, text
from sqlalchemy.orm import Session

from db.errors import DatabaseError
from db.models import (
    Arrhenius,
    Campaign,
    CampaignStructure,
    Composition,
    Hull,
    Job,
    MdRun,
    NebHop,
    NebRun,
    Potential,
    Relaxation,
    Structure,
)
from db.views import COMPOSITION_SUMMARY, COMPOSITION_SUMMARY_COLUMNS

# The relaxed cell of a relaxation row: a, b, c (Å), angles (degrees), Å^3/atom, g/cm^3.
RELAXED_CELL_COLUMNS = (
    Relaxation.a,
    Relaxation.b,
    Relaxation.c,
    Relaxation.alpha,
    Relaxation.beta,
    Relaxation.gamma,
    Relaxation.volume_per_atom,
    Relaxation.density_g_cm3,
)

_SUMMARY_SQL = text(
    f"SELECT {', '.join(COMPOSITION_SUMMARY_COLUMNS)} FROM {COMPOSITION_SUMMARY}"
    " WHERE campaign = :campaign ORDER BY formula, composition_id, potential"
)


class StatusCount(NamedTuple):
    kind: str
    status: str
    count: int


@dataclass(frozen=True)
class FailedJob:
    job_id: int
    kind: str
    structure_id: int
    formula: str
    attempts: int
    error: str | None
    worker: str | None
    finished_at: dt.datetime | None


def composition_summary(
    source: Session | Connection | Engine, campaign_name: str
) -> list[dict[str, Any]]:
    """Rows of the ``composition_summary`` view for one campaign, ordered by formula.

    Each dict has the view's columns in order; ``is_stable`` is converted to
    ``bool`` (None while no hull exists). Units are in the column names (eV/atom,
    Å, degrees, Å^3/atom, g/cm^3, cm^2/s, mS/cm).
    """
    if isinstance(source, Engine):
        with source.connect() as connection:
            return composition_summary(connection, campaign_name)
    rows = source.execute(_SUMMARY_SQL, {"campaign": campaign_name}).mappings()
    return [_with_bool_stability(dict(row)) for row in rows]


def job_status_counts(session: Session, campaign_id: int) -> list[StatusCount]:
    """(kind, status, count) of the campaign's jobs, sorted by kind then status.

    A campaign's jobs are those of its structures (candidates and references)
    run with the campaign's potential.
    """
    statement = (
        select(Job.kind, Job.status, func.count())
        .where(jobs_in_campaign(campaign_id))
        .group_by(Job.kind, Job.status)
        .order_by(Job.kind, Job.status)
    )
    return [StatusCount(kind, status, count) for kind, status, count in session.execute(statement)]


def failed_jobs(session: Session, campaign_id: int, limit: int = 20) -> list[FailedJob]:
    """The campaign's failed jobs with their error text, most recently finished first."""
    statement = (
        select(
            Job.id,
            Job.kind,
            Job.structure_id,
            Structure.formula,
            Job.attempts,
            Job.error,
            Job.worker,
            Job.finished_at,
        )
        .join(Structure, Structure.id == Job.structure_id)
        .where(jobs_in_campaign(campaign_id), Job.status == "failed")
        .order_by(Job.finished_at.desc().nulls_last(), Job.id.desc())
        .limit(limit)
    )
    return [FailedJob(*row) for row in session.execute(statement)]


@dataclass(frozen=True)
class StageThroughput:
    """Finished jobs of a stage and their rate: over the stage's whole active span (first
    start to last finish) and over the last hour before ``now``."""

    kind: str
    finished: int
    jobs_per_hour: float | None
    last_hour: int
    mean_job_s: float | None


def stage_throughput(
    session: Session, campaign_id: int, now: dt.datetime | None = None
) -> list[StageThroughput]:
    """Throughput per stage of the campaign's done and failed jobs, by kind."""
    now = now or dt.datetime.now(dt.UTC)
    rows = session.execute(
        select(Job.kind, Job.started_at, Job.finished_at).where(
            jobs_in_campaign(campaign_id),
            Job.status.in_(("done", "failed")),
            Job.finished_at.is_not(None),
        )
    ).all()
    by_kind: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    for kind, started, finished in rows:
        finished = _aware(finished)
        by_kind.setdefault(kind, []).append((_aware(started) or finished, finished))
    result = []
    for kind, spans in sorted(by_kind.items()):
        hours = (max(f for _, f in spans) - min(s for s, _ in spans)).total_seconds() / 3600
        durations = [(f - s).total_seconds() for s, f in spans]
        result.append(
            StageThroughput(
                kind,
                len(spans),
                len(spans) / hours if hours > 0 else None,
                sum(now - f <= dt.timedelta(hours=1) for _, f in spans),
                sum(durations) / len(durations),
            )
        )
    return result


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; everything stored is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment


@dataclass(frozen=True)
class FailureGroup:
    """Failed jobs sharing a stage and the first line of their error."""

    kind: str
    reason: str
    count: int
    job_ids: list[int]


def failure_groups(session: Session, campaign_id: int) -> list[FailureGroup]:
    """The campaign's failed jobs grouped by stage and reason, most frequent first."""
    rows = session.execute(
        select(Job.id, Job.kind, Job.error)
        .where(jobs_in_campaign(campaign_id), Job.status == "failed")
        .order_by(Job.id)
    ).all()
    groups: dict[tuple[str, str], list[int]] = {}
    for job_id, kind, error in rows:
        reason = error.splitlines()[0] if error else "no reason recorded"
        groups.setdefault((kind, reason), []).append(job_id)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [FailureGroup(kind, reason, len(ids), ids) for (kind, reason), ids in ordered]


def jobs_in_campaign(campaign_id: int) -> ColumnElement[bool]:
    """Condition on Job: its structure is in the campaign and it uses the campaign's potential."""
    members = select(CampaignStructure.structure_id).where(
        CampaignStructure.campaign_id == campaign_id
    )
    potential = select(Campaign.potential_id).where(Campaign.id == campaign_id).scalar_subquery()
    return Job.structure_id.in_(members) & (Job.potential_id == potential)


def _with_bool_stability(row: dict[str, Any]) -> dict[str, Any]:
    if row["is_stable"] is not None:
        row["is_stable"] = bool(row["is_stable"])
    return row


def campaign_id(session: Session, name: str) -> int:
    """The id of the campaign called ``name``; DatabaseError naming the known ones if absent."""
    found = session.scalar(select(Campaign.id).where(Campaign.name == name))
    if found is None:
        known = ", ".join(session.scalars(select(Campaign.name).order_by(Campaign.name))) or "none"
        raise DatabaseError(f"no campaign named {name!r} in this database (campaigns: {known})")
    return found


def structure_results(connection: Connection, campaign_name: str) -> list[dict[str, Any]]:
    """One row per relaxation of the campaign's structures (candidates and references).

    Columns: structure_id, role, composition_id, formula, origin_kind, n_atoms, potential,
    converged, steps, energy_ev_atom, max_force_ev_ang, a, b, c, alpha, beta, gamma
    (Å, degrees), volume_per_atom (Å^3), density_g_cm3, e_hull_ev_atom, is_stable.
    """
    statement = (
        select(
            Structure.id.label("structure_id"),
            CampaignStructure.role,
            CampaignStructure.composition_id,
            Structure.formula,
            Structure.origin_kind,
            Structure.n_atoms,
            Potential.name.label("potential"),
            Relaxation.converged,
            Relaxation.steps,
            Relaxation.energy_ev_atom,
            Relaxation.max_force_ev_ang,
            *RELAXED_CELL_COLUMNS,
            Hull.e_hull_ev_atom,
            Hull.is_stable,
        )
        .join(Campaign, Campaign.id == CampaignStructure.campaign_id)
        .join(Structure, Structure.id == CampaignStructure.structure_id)
        .join(Relaxation, Relaxation.structure_id == Structure.id)
        .join(Job, (Job.id == Relaxation.job_id) & (Job.status == "done"))
        .join(Potential, Potential.id == Relaxation.potential_id)
        .outerjoin(
            Hull,
            (Hull.campaign_id == Campaign.id)
            & (Hull.structure_id == Structure.id)
            & (Hull.potential_id == Relaxation.potential_id),
        )
        .where(Campaign.name == campaign_name)
        .order_by(CampaignStructure.role, Structure.formula, Structure.id)
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


def transport_results(
    connection: Connection, campaign_name: str, directions: tuple[str, ...] = ("total",)
) -> list[dict[str, Any]]:
    """Arrhenius fits in ``directions`` ('total', 'a', ..., 'bc') of the campaign's candidate
    structures, by formula, structure and the order of ``directions``.

    Columns: formula, structure_id, direction, source, e_a_ev, e_a_err_ev, d_300k_cm2_s,
    sigma_300k_ms_cm and its 95% interval (sigma_300k_low_ms_cm, sigma_300k_high_ms_cm),
    temperatures_json (K).
    """
    statement = (
        select(
            Composition.formula,
            Arrhenius.structure_id,
            Arrhenius.direction,
            Arrhenius.source,
            Arrhenius.e_a_ev,
            Arrhenius.e_a_err_ev,
            Arrhenius.d_300k_cm2_s,
            Arrhenius.sigma_300k_ms_cm,
            Arrhenius.sigma_300k_low_ms_cm,
            Arrhenius.sigma_300k_high_ms_cm,
            Arrhenius.temperatures_json,
        )
        .join(CampaignStructure, CampaignStructure.structure_id == Arrhenius.structure_id)
        .join(Composition, Composition.id == CampaignStructure.composition_id)
        .join(Campaign, Campaign.id == CampaignStructure.campaign_id)
        .where(
            Campaign.name == campaign_name,
            Arrhenius.potential_id == Campaign.potential_id,
            Arrhenius.direction.in_(directions),
        )
        .order_by(Composition.formula, Arrhenius.structure_id)
    )
    rows = [dict(row) for row in connection.execute(statement).mappings()]
    rank = {direction: i for i, direction in enumerate(directions)}
    return sorted(rows, key=lambda r: (r["formula"], r["structure_id"], rank[r["direction"]]))


def _per_structure_rows(
    connection: Connection, statement: Select, result: Any, campaign_name: str, last_key: Any
) -> list[dict[str, Any]]:
    """Rows of a per-structure result table (md_run, neb_run) for the campaign's candidates
    under its current potential, by formula, structure and ``last_key``."""
    statement = (
        statement.join(CampaignStructure, CampaignStructure.structure_id == result.structure_id)
        .join(Composition, Composition.id == CampaignStructure.composition_id)
        .join(Campaign, Campaign.id == CampaignStructure.campaign_id)
        .where(Campaign.name == campaign_name, result.potential_id == Campaign.potential_id)
        .order_by(Composition.formula, result.structure_id, last_key)
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


def md_runs(connection: Connection, campaign_name: str) -> list[dict[str, Any]]:
    """The campaign's MD runs under its potential, one row per structure and temperature.

    Columns: formula, structure_id, temperature_k (K), production_ps (ps asked for), n_atoms,
    n_mobile, stable, instability_reason, catastrophic_step, diffusive, d_cm2_s, d_err_cm2_s,
    fit_start_ps, fit_end_ps, haven_ratio.
    """
    statement = select(
        Composition.formula,
        MdRun.structure_id,
        MdRun.temperature_k,
        (MdRun.steps * MdRun.timestep_fs / 1000.0).label("production_ps"),
        MdRun.n_atoms,
        MdRun.n_mobile,
        MdRun.stable,
        MdRun.instability_reason,
        MdRun.catastrophic_step,
        MdRun.diffusive,
        MdRun.d_cm2_s,
        MdRun.d_err_cm2_s,
        MdRun.fit_start_ps,
        MdRun.fit_end_ps,
        MdRun.haven_ratio,
    )
    return _per_structure_rows(connection, statement, MdRun, campaign_name, MdRun.temperature_k)


def neb_runs(connection: Connection, campaign_name: str) -> list[dict[str, Any]]:
    """The campaign's NEB runs under its potential, one row per structure and run.

    Columns: formula, structure_id, spacegroup, grouping, n_symmetry_classes,
    n_hops_computed, n_converged (bands), barrier_1d_ev, barrier_2d_ev, barrier_3d_ev.
    """
    converged = (
        select(func.count())
        .where(NebHop.neb_run_id == NebRun.id, NebHop.converged.is_(True))
        .scalar_subquery()
    )
    statement = select(
        Composition.formula,
        NebRun.structure_id,
        NebRun.spacegroup,
        NebRun.grouping,
        NebRun.n_symmetry_classes,
        NebRun.n_hops_computed,
        converged.label("n_converged"),
        NebRun.barrier_1d_ev,
        NebRun.barrier_2d_ev,
        NebRun.barrier_3d_ev,
    )
    return _per_structure_rows(connection, statement, NebRun, campaign_name, NebRun.id)


def candidate_structures(session: Session, campaign_id: int) -> Iterator[dict[str, Any]]:
    """The campaign's candidate structures for export, by formula and structure id, streamed.

    Keys: structure_id, composition_id, formula and fractions_json (of the composition),
    n_atoms, origin_kind, origin_json, structure_json (the ideal structure), and the
    relaxed_structure_json and energy_ev_atom (eV/atom) of its lowest-energy done
    relaxation with the campaign's potential (None before any).
    """
    members = select(CampaignStructure.structure_id).where(
        CampaignStructure.campaign_id == campaign_id
    )
    potential = select(Campaign.potential_id).where(Campaign.id == campaign_id).scalar_subquery()
    ranked = (
        select(
            Relaxation.structure_id,
            Relaxation.final_structure_json,
            Relaxation.energy_ev_atom,
            func.row_number()
            .over(
                partition_by=Relaxation.structure_id,
                order_by=(Relaxation.energy_ev_atom, Relaxation.id),
            )
            .label("energy_rank"),
        )
        .join(Job, (Job.id == Relaxation.job_id) & (Job.status == "done"))
        .where(Relaxation.structure_id.in_(members), Relaxation.potential_id == potential)
        .subquery()
    )
    statement = (
        select(
            Structure.id.label("structure_id"),
            CampaignStructure.composition_id,
            Composition.formula,
            Composition.fractions_json,
            Structure.n_atoms,
            Structure.origin_kind,
            Structure.origin_json,
            Structure.structure_json,
            ranked.c.final_structure_json.label("relaxed_structure_json"),
            ranked.c.energy_ev_atom,
        )
        .join(CampaignStructure, CampaignStructure.structure_id == Structure.id)
        .join(Composition, Composition.id == CampaignStructure.composition_id)
        .outerjoin(ranked, (ranked.c.structure_id == Structure.id) & (ranked.c.energy_rank == 1))
        .where(CampaignStructure.campaign_id == campaign_id, CampaignStructure.role == "candidate")
        .order_by(Composition.formula, Structure.id)
    )
    for row in session.execute(statement, execution_options={"yield_per": 100}).mappings():
        yield dict(row)
