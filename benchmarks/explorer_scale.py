"""Explorer page times at campaign scale: 10,000 compositions, 100,000 relaxed structures.

Target: every page of the Streamlit explorer (frontend/, db/explorer_queries.py) renders in
under 2 s against PostgreSQL at that size. The script seeds a database through the real
schema (Alembic ``upgrade``, batched inserts into the ORM tables): one campaign on an
In/Y x Br/Cl grid of compositions, ``--structures`` candidates spread evenly over them,
every 50th relax job failed (no relaxation or hull row). The first structure of each
composition is its lowest-energy one (E_hull 0, stable). Where its relaxation is done it
carries three md jobs and runs (500/600/700 K, the 600 K one with an MD analysis
artifact), a total-direction Arrhenius fit, and a done neb job with a neb_run (1D/2D/3D
percolating barriers) of three neb_hops (one unconverged) and an energy-profile artifact.
All runs share one analysis blob and one profile blob in a temporary artifact store. The
structures of composition 1 (the composition page's default) hold a real 80-atom
structure; the rest hold ``{}``. The script then times

- each explorer query on its own (one read-only connection), before the summary cache is
  filled (the map and the table read the live view) and after,
- the refresh of the summary cache (``db.summary_cache.refresh_summary``, what a run pays
  as it ends), and
- each page through ``streamlit.testing.v1.AppTest``: a fresh app session, its
  ``st.cache_data`` cleared, switches to the page (cold) and reruns it (cached), plus two
  interactions on the map (colour by the NEB barrier, by D(T) at 600 K),

in wall seconds and in CPU seconds of this process and its PostgreSQL backends (see
:class:`Clock`; on a machine shared with other work, the CPU seconds are the better
estimate of an idle machine's wall time).

By default the script creates a throwaway database ``explorer_bench_<hex>`` on
``postgresql+psycopg://postgres@127.0.0.1:5432/`` and drops it at the end; ``--database URL``
uses an existing empty database instead (kept afterwards). Run:
.venv/bin/python benchmarks/explorer_scale.py [--compositions 10000] [--structures 100000]
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Lattice
from pymatgen.core import Structure as PmgStructure
from sqlalchemy import Connection, insert, text

from db import explorer_queries as q
from db.artifacts import ARTIFACTS_ENV, ArtifactStore
from db.engine import make_engine, normalize_url
from db.migrate import upgrade
from db.models import (
    Arrhenius,
    Artifact,
    Base,
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
from db.summary_cache import refresh_summary

SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
APP = Path(__file__).resolve().parent.parent / "frontend" / "app.py"
PAGES = ("campaigns", "composition_map", "composition", "table", "sql", "potentials")
CAMPAIGN = "big"
MD_TEMPERATURES_K = (500.0, 600.0, 700.0)
NEB_HOPS = (  # length (Å), forward and reverse barrier (eV), multiplicity, converged
    (2.9, 0.25, 0.25, 2, True),
    (3.4, 0.42, 0.38, 4, True),
    (3.9, 0.71, 0.71, 2, False),
)
FAILED_EVERY = 50  # every 50th relax job failed: no relaxation, no hull row
BATCH = 10_000

Rows = Iterable[dict[str, Any]]


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """Create an empty database on ``server_url``'s server, yield its URL, drop it after."""
    engine = make_engine(server_url)
    name = f"explorer_bench_{secrets.token_hex(4)}"
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                yield (
                    normalize_url(server_url)
                    .set(database=name)
                    .render_as_string(hide_password=False)
                )
            finally:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


class Layout:
    """Which structure belongs to which composition, and the ids of its jobs.

    Structure ``sid`` (1-based) belongs to composition ``(sid - 1) % n + 1`` and is that
    composition's ``k``-th lowest in energy, ``k = (sid - 1) // n``. Relax job id = sid;
    md and neb job ids follow, only for lowest-energy structures whose relaxation is done.
    """

    def __init__(self, n_compositions: int, n_structures: int) -> None:
        self.n_compositions = n_compositions
        self.n_structures = n_structures

    def composition(self, sid: int) -> int:
        return (sid - 1) % self.n_compositions + 1

    def rank(self, sid: int) -> int:
        return (sid - 1) // self.n_compositions

    @staticmethod
    def relaxed(sid: int) -> bool:
        return sid % FAILED_EVERY != 0

    def transport(self) -> Iterator[int]:
        """Lowest-energy structures with a done relaxation: they carry MD and NEB."""
        return (sid for sid in range(1, self.n_compositions + 1) if self.relaxed(sid))

    def md_job(self, sid: int, t_index: int) -> int:
        return self.n_structures + len(MD_TEMPERATURES_K) * (sid - 1) + t_index + 1

    def neb_job(self, sid: int) -> int:
        return self.n_structures + len(MD_TEMPERATURES_K) * self.n_compositions + sid


def _real_structure_json() -> str:
    """An 80-atom Li24In8Cl48 cell (positions on a grid): enough for the 3D view and CIF."""
    species = ["Li"] * 24 + ["In"] * 8 + ["Cl"] * 48
    grid = [(i / 4, j / 4, k / 5) for i in range(4) for j in range(4) for k in range(5)]
    cell = PmgStructure(Lattice.orthorhombic(13.0, 11.6, 14.5), species, grid)
    return json.dumps(cell.as_dict())


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _artifacts(root: Path) -> dict[str, tuple[str, int]]:
    """The shared MD analysis and NEB profile blobs stored under ``root``: kind -> (SHA-256,
    bytes)."""
    time_ps = np.linspace(0.0, 20.0, 2001)
    r_ang = np.linspace(0.05, 8.0, 400)
    t = np.linspace(0.0, 1.0, 9)
    analysis = {
        "time_ps": time_ps,
        "msd_total_ang2": 0.12 * time_ps,
        "fit_window_ps": np.array([2.0, 10.0]),
        "rdf_Cl_Li_r_ang": r_ang,
        "rdf_Cl_Li_g": 1.0 + 2.0 * np.exp(-((r_ang - 2.6) ** 2) / 0.05),
        "density_per_ang3": np.random.default_rng(0).random((40, 40, 40)),
        "density_cell_ang": np.diag([26.0, 23.2, 29.0]),
    }
    profiles = {}
    for index, (length, forward, reverse, *_) in enumerate(NEB_HOPS):
        profiles[f"hop{index}_coordinate_ang"] = t * length * 1.2
        profiles[f"hop{index}_energy_ev"] = np.where(
            t <= 0.5,
            forward * np.sin(np.pi * t) ** 2,
            forward - reverse * np.sin(np.pi * (t - 0.5)) ** 2,
        )
    store = ArtifactStore(root)
    blobs = {"md_analysis": _npz(analysis), "neb_profiles": _npz(profiles)}
    return {kind: (store.put(blob), len(blob)) for kind, blob in blobs.items()}


def _tables(
    layout: Layout, artifacts: dict[str, tuple[str, int]]
) -> Iterator[tuple[type[Base], Rows]]:
    """(model, rows) of every table in foreign-key order; rows are generated lazily."""
    n, structures = layout.n_compositions, range(1, layout.n_structures + 1)
    side = max(1, round(n**0.5))
    spec = {"sublattices": {"metal": {"species": ["In", "Y"]}, "halide": {"species": ["Br", "Cl"]}}}
    sha = {kind: digest for kind, (digest, _) in artifacts.items()}
    real = _real_structure_json()

    def composition(i: int) -> dict[str, Any]:
        x, y = (i % side) / max(side - 1, 1), (i // side) / max(side - 1, 1)
        fractions = {"metal": {"In": x, "Y": 1 - x}, "halide": {"Br": y, "Cl": 1 - y}}
        return {
            "id": i + 1,
            "campaign_id": 1,
            "formula": f"F{i}",
            "fractions_json": json.dumps(fractions),
        }

    def job(job_id: int, sid: int, kind: str, key: str, status: str = "done") -> dict[str, Any]:
        failed = status == "failed"
        return {
            "id": job_id,
            "structure_id": sid,
            "kind": kind,
            "params_hash": key.ljust(64, "p"),
            "params_json": "{}",
            "potential_id": 1,
            "status": status,
            "attempts": 1,
            "error": "CalculationFailed: forces exploded" if failed else None,
        }

    def relaxation(sid: int) -> dict[str, Any]:
        return {
            "job_id": sid,
            "structure_id": sid,
            "potential_id": 1,
            "energy_ev": -304.0,
            "energy_ev_atom": -3.8 + 0.001 * layout.rank(sid),
            "a": 13.0,
            "b": 11.6,
            "c": 14.5,
            "alpha": 90.0,
            "beta": 109.8,
            "gamma": 90.0,
            "volume_per_atom": 24.0,
            "density_g_cm3": 2.4,
            "max_force_ev_ang": 0.03,
            "steps": 100,
            "converged": True,
            "final_structure_json": real if layout.composition(sid) == 1 else "{}",
            "wall_time_s": 1.0,
            "device": "cpu",
        }

    def md_run(sid: int, t_index: int, temperature: float) -> dict[str, Any]:
        d = 1e-6 * 2**t_index
        return {
            "job_id": layout.md_job(sid, t_index),
            "structure_id": sid,
            "potential_id": 1,
            "temperature_k": temperature,
            "timestep_fs": 2.0,
            "steps": 10000,
            "steps_done": 10500,
            "thermostat": "langevin",
            "n_atoms": 160,
            "n_mobile": 48,
            "volume_ang3": 3000.0,
            "stable": True,
            "diffusive": True,
            "d_cm2_s": d,
            "d_err_cm2_s": 0.1 * d,
            "fit_start_ps": 2.0,
            "fit_end_ps": 10.0,
            "analysis_sha256": sha["md_analysis"] if temperature == 600.0 else None,
            "wall_time_s": 1.0,
            "device": "cpu",
        }

    def neb_hop(sid: int, index: int) -> dict[str, Any]:
        length, forward, reverse, multiplicity, converged = NEB_HOPS[index]
        return {
            "neb_run_id": sid,
            "hop_index": index,
            "start_site": 0,
            "end_site": 1,
            "image_json": "[0, 0, 0]",
            "length_ang": length,
            "multiplicity": multiplicity,
            "n_members": 8 * multiplicity,
            "environment": "Cl4",
            "forward_barrier_ev": forward,
            "reverse_barrier_ev": reverse,
            "converged": converged,
            "endpoints_converged": True,
            "max_force_ev_ang": 0.04 if converged else 0.3,
            "steps": 150,
            "force_calls": 1050,
            "n_atoms": 159,
            "wall_time_s": 60.0,
        }

    yield Potential, [{"id": 1, "name": "chgnet", "spec": "chgnet", "weights_sha256": "a" * 64}]
    yield Campaign, [{"id": 1, "name": CAMPAIGN, "spec_json": json.dumps(spec), "potential_id": 1}]
    yield Composition, (composition(i) for i in range(n))
    yield (
        Structure,
        (
            {
                "id": sid,
                "content_hash": f"{sid:064d}",
                "formula": f"F{layout.composition(sid) - 1}",
                "n_atoms": 80,
                "origin_kind": "sqs",
                "origin_json": '{"seed": 1}',
                "structure_json": real if layout.composition(sid) == 1 else "{}",
            }
            for sid in structures
        ),
    )
    yield (
        CampaignStructure,
        (
            {
                "campaign_id": 1,
                "structure_id": sid,
                "composition_id": layout.composition(sid),
                "role": "candidate",
            }
            for sid in structures
        ),
    )
    relax_jobs = (
        job(sid, sid, "relax", "r", "done" if layout.relaxed(sid) else "failed")
        for sid in structures
    )
    md_jobs = (
        job(layout.md_job(sid, t), sid, "md", f"m{t}")
        for sid in layout.transport()
        for t in range(len(MD_TEMPERATURES_K))
    )
    neb_jobs = (job(layout.neb_job(sid), sid, "neb", "n") for sid in layout.transport())
    yield Job, itertools.chain(relax_jobs, md_jobs, neb_jobs)
    yield (
        Artifact,
        [
            {"sha256": digest, "kind": kind, "size_bytes": size}
            for kind, (digest, size) in artifacts.items()
        ],
    )
    yield Relaxation, (relaxation(sid) for sid in structures if layout.relaxed(sid))
    yield (
        Hull,
        (
            {
                "campaign_id": 1,
                "structure_id": sid,
                "potential_id": 1,
                "e_hull_ev_atom": 0.001 * layout.rank(sid),
                "e_form_ev_atom": -1.0,
                "decomposition_json": "{}",
                "is_stable": layout.rank(sid) == 0,
            }
            for sid in structures
            if layout.relaxed(sid)
        ),
    )
    yield (
        MdRun,
        (
            md_run(sid, t, temperature)
            for sid in layout.transport()
            for t, temperature in enumerate(MD_TEMPERATURES_K)
        ),
    )
    yield (
        Arrhenius,
        (
            {
                "structure_id": sid,
                "potential_id": 1,
                "direction": "total",
                "e_a_ev": 0.3,
                "e_a_err_ev": 0.01,
                "d0_cm2_s": 1e-3,
                "d_300k_cm2_s": 1e-8,
                "d_300k_low_cm2_s": 0.6e-8,
                "d_300k_high_cm2_s": 1.6e-8,
                "sigma_300k_ms_cm": 0.5,
                "sigma_300k_low_ms_cm": 0.3,
                "sigma_300k_high_ms_cm": 0.8,
                "temperatures_json": json.dumps(MD_TEMPERATURES_K),
            }
            for sid in layout.transport()
        ),
    )
    yield (
        NebRun,
        (
            {
                "id": sid,
                "job_id": layout.neb_job(sid),
                "structure_id": sid,
                "potential_id": 1,
                "mechanism": "vacancy",
                "cutoff_ang": 4.0,
                "spacegroup": "P1 (1)",
                "grouping": "environment",
                "n_symmetry_classes": 40,
                "n_hops_computed": len(NEB_HOPS),
                "skipped_json": "[]",
                "barrier_1d_ev": 0.25,
                "barrier_2d_ev": 0.42,
                "barrier_3d_ev": 0.42 + 0.1 * (sid % 5) / 4,
                "profiles_sha256": sha["neb_profiles"],
                "wall_time_s": 180.0,
                "device": "cpu",
            }
            for sid in layout.transport()
        ),
    )
    yield (
        NebHop,
        (neb_hop(sid, index) for sid in layout.transport() for index in range(len(NEB_HOPS))),
    )


def seed(url: str, layout: Layout, artifact_root: Path) -> tuple[float, dict[str, int]]:
    """Migrate ``url`` to head, insert the campaign, ANALYZE; return seconds and row counts."""
    start = time.perf_counter()
    upgrade(url)
    counts = {}
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for model, rows in _tables(layout, _artifacts(artifact_root)):
                counts[model.__tablename__] = _insert(connection, model, rows)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return time.perf_counter() - start, counts


def refresh(url: str, clock: Clock) -> tuple[float, float, int]:
    """Fill the campaign's summary cache as a run's end does, then ANALYZE it; return wall
    and CPU seconds of the refresh (its backend is connected before and after) and rows."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            connection.commit()
            timed = clock.measure(lambda: refresh_summary(connection, 1))
            connection.execute(text("ANALYZE composition_summary_cache"))
            connection.commit()
    finally:
        engine.dispose()
    return timed


def _insert(connection: Connection, model: type[Base], rows: Rows) -> int:
    """Insert ``rows`` in batches of :data:`BATCH`; return how many."""
    iterator, total = iter(rows), 0
    while batch := list(itertools.islice(iterator, BATCH)):
        connection.execute(insert(model), batch)
        total += len(batch)
    return total


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (NaN where /proc cannot tell)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clock:
    """Wall and CPU seconds of a call. CPU counts this process (all threads, AppTest's script
    thread included) and the PostgreSQL backends connected to the database, read from /proc:
    the server must run on this host (NaN otherwise). On a machine shared with other work,
    CPU seconds approximate the wall time the call would take on an idle one."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        self._database = normalize_url(url).database

    def _cpu(self) -> dict[int | str, float]:
        with self._engine.connect() as connection:
            pids = connection.scalars(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self._database},
            ).all()
        return {"self": time.process_time(), **{pid: _proc_cpu_s(pid) for pid in pids}}

    def measure(self, call: Callable[[], Any]) -> tuple[float, float, Any]:
        """(wall s, CPU s, result) of ``call()``."""
        before = self._cpu()
        start = time.perf_counter()
        result = call()
        wall = time.perf_counter() - start
        after = self._cpu()
        return wall, sum(cpu - before.get(key, 0.0) for key, cpu in after.items()), result

    def close(self) -> None:
        self._engine.dispose()


def time_queries(
    url: str, clock: Clock, composition_id: int
) -> list[tuple[str, float, float, int]]:
    """(query, wall s, CPU s, rows) of each explorer query, on one read-only connection."""
    engine = q.make_readonly_engine(url)
    summary = q.SummaryFilter(e_hull_max_ev_atom=0.005, sort_by="sigma_300k_ms_cm")
    queries: list[tuple[str, Callable[[Connection], Sequence[Any]]]] = [
        ("campaigns", q.campaigns),
        ("job_counts", q.job_counts),
        ("composition_map", lambda c: q.composition_map(c, 1)),
        ("map_intervals", lambda c: q.map_intervals(c, 1)),
        ("md_temperatures", lambda c: q.md_temperatures(c, 1)),
        ("diffusivity_at 600 K", lambda c: q.diffusivity_at(c, 1, 600.0)),
        ("compositions", lambda c: q.compositions(c, 1)),
        ("composition_row", lambda c: [q.composition_row(c, composition_id)]),
        ("composition_info", lambda c: [q.composition_info(c, composition_id)]),
        ("composition_structures", lambda c: q.composition_structures(c, composition_id)),
        ("md_runs", lambda c: q.md_runs(c, composition_id)),
        ("arrhenius_fits", lambda c: q.arrhenius_fits(c, composition_id)),
        ("neb_runs", lambda c: q.neb_runs(c, composition_id)),
        # The composition's lowest-energy structure and its neb_run share its id.
        ("neb_hops", lambda c: q.neb_hops(c, composition_id)),
        ("structure_json", lambda c: [q.structure_json(c, composition_id, 1)]),
        ("filtered_summary", lambda c: q.filtered_summary(c, CAMPAIGN, summary)),
        ("filtered_summary all", lambda c: q.filtered_summary(c, CAMPAIGN, q.SummaryFilter())),
        ("potentials", q.potentials),
    ]
    results = []
    try:
        with engine.connect() as connection:
            for name, query in queries:
                wall, cpu, rows = clock.measure(lambda query=query: query(connection))
                results.append((name, wall, cpu, len(rows)))
    finally:
        engine.dispose()
    return results


def _pick(label: str, option: str) -> Callable[[Any], None]:
    """An interaction: choose ``option`` in the selectbox labelled ``label``."""

    def act(app: Any) -> None:
        box = next(b for b in app.selectbox if b.label == label)
        box.select(next(o for o in box.options if o.startswith(option)))

    return act


PageTimes = dict[str, list[float]]
"""cold and cached, wall and CPU seconds, one value per repeat."""


def time_pages(url: str, clock: Clock, repeats: int) -> list[tuple[str, PageTimes, int]]:
    """(page, times, exceptions) of each page and map interaction through AppTest, after one
    warm-up pass (imports and Plotly's validators load once per server process, not per
    page view)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["SCREENING_DATABASE_URL"] = url
    scenarios: list[tuple[str, str, list[Callable[[Any], None]]]] = [
        (page, page, []) for page in PAGES
    ]
    scenarios += [
        ("map: NEB barrier", "composition_map", [_pick("Colour by", "NEB barrier")]),
        (
            "map: D(T) 600 K",
            "composition_map",
            [_pick("Colour by", "D(T)"), _pick("Temperature (K)", "600")],
        ),
    ]
    kinds = ("cold wall", "cold CPU", "cached wall", "cached CPU")
    times: dict[str, PageTimes] = {name: {k: [] for k in kinds} for name, *_ in scenarios}
    exceptions = dict.fromkeys(times, 0)
    for repeat in range(1 + repeats):
        for name, page, actions in scenarios:
            app = AppTest.from_file(str(APP), default_timeout=120).run()
            app.switch_page(f"views/{page}.py")
            for action in actions:  # the runs before an interaction are not timed
                app.run()
                action(app)
            st.cache_data.clear()
            measured = (*clock.measure(app.run)[:2], *clock.measure(app.run)[:2])
            if repeat > 0:
                for kind, seconds in zip(kinds, measured, strict=True):
                    times[name][kind].append(seconds)
                exceptions[name] += len(app.exception)
    return [(name, times[name], exceptions[name]) for name in times]


def run(url: str, n_compositions: int, n_structures: int, repeats: int) -> None:
    layout = Layout(n_compositions, n_structures)
    with tempfile.TemporaryDirectory(prefix="explorer-bench-artifacts-") as root:
        os.environ[ARTIFACTS_ENV] = root
        print(f"seeding {n_compositions} compositions, {n_structures} structures ...", flush=True)
        seconds, counts = seed(url, layout, Path(root))
        print(f"seeded in {seconds:.1f} s: {counts}\n", flush=True)
        clock = Clock(url)
        try:
            middle = n_compositions // 2 + 1  # relaxed, with MD and NEB (every 50th failed)
            live = time_queries(url, clock, composition_id=middle)
            wall, cpu, written = refresh(url, clock)
            print(f"summary cache refresh: {written} rows in {wall:.2f} s wall, {cpu:.2f} s CPU\n")
            cached = time_queries(url, clock, composition_id=middle)
            print(f"{'query':24s} {'live view: wall s, CPU s':>25s} {'cache: wall s, CPU s':>21s}")
            for (name, *before, _), (_, wall, cpu, n_rows) in zip(live, cached, strict=True):
                print(
                    f"{name:24s} {before[0]:12.3f} {before[1]:12.3f} {wall:10.3f} {cpu:10.3f}"
                    f" {n_rows:7d} rows"
                )
            print(f"\npages, median (max) of {repeats}: wall and CPU seconds, cold and cached")
            for page, times, exceptions in time_pages(url, clock, repeats):
                cells = "  ".join(
                    f"{kind} {np.median(values):5.2f} ({max(values):5.2f})"
                    for kind, values in times.items()
                )
                failed = f"  {exceptions} exceptions" if exceptions else ""
                print(f"{page:18s} {cells}{failed}", flush=True)
        finally:
            clock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database",
        help="URL of an existing empty PostgreSQL database (kept); default: a throwaway "
        f"database on {SERVER_URL.rsplit('/', 1)[0]}/ (created and dropped)",
    )
    parser.add_argument("--compositions", type=int, default=10_000)
    parser.add_argument("--structures", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed page loads (default 3)")
    args = parser.parse_args()
    if args.structures < args.compositions:
        parser.error("--structures must be at least --compositions")
    # AppTest and the cache clearing run without a Streamlit runtime, which warns each time.
    logging.disable(logging.WARNING)
    if args.database:
        run(args.database, args.compositions, args.structures, args.repeats)
        return
    with throwaway_database(SERVER_URL) as url:
        run(url, args.compositions, args.structures, args.repeats)


if __name__ == "__main__":
    main()
