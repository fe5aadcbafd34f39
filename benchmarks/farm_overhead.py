"""The farm's own cost: jobs/s end to end with a near-free potential, driver memory, and
the overhead ratio next to a real one.

1. ``throughput``: N EMT relaxations of 4-atom fcc Cu cells (each a few ms of compute)
   through a real LocalCluster into PostgreSQL, claimed, computed and persisted in
   batched transactions: jobs/s over the run and the driver's RSS as jobs finish (flat
   means no growth with the number of finished jobs).
2. ``ceiling``: the same jobs with no farm, in plain loops in one process and in one
   process per worker at once: the most these cores give the throughput mode.
3. ``overhead``: the same campaign machinery with CHGNet on 20-atom Li3InCl6 cells, one
   worker (torch threads = cores), against the same relaxations run directly in one
   process with as many threads, before and after the farm run (the machine's speed
   drifts): the ratio farm wall / mean sum of direct relaxation walls (target <= 1.10).

Run: .venv/bin/python benchmarks/farm_overhead.py throughput --jobs 10000
     .venv/bin/python benchmarks/farm_overhead.py ceiling --jobs 10000
     .venv/bin/python benchmarks/farm_overhead.py overhead --jobs 60
Needs PostgreSQL on 127.0.0.1:5432 (a throwaway database is created and dropped).
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
from pymatgen.core import Lattice, Structure
from sqlalchemy import create_engine, func, select, text

CAMPAIGN = """
name = "farm-bench"
parent = "{parent}"
supercell = {supercell}
potential = "{potential}"
charge_balance = false

[sublattices.site]
replaces = "{site}"
species = ["{site}"]
step = 1.0

[hull]
elemental_references = false

[relax]
fmax = {fmax}
max_steps = 200
relax_cell = {relax_cell}
"""


FCC_CU_A_ANG = 3.6
FCC_CU_FRACTIONAL = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


class TimedProgress:
    """Counts finished relax jobs and samples the driver's RSS every 1,000 of them."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.done = 0
        self.rss_mib: list[tuple[int, float]] = []
        self._process = psutil.Process()

    def start(self, stage: str, total: int) -> None:
        print(f"{stage}: {total} jobs")

    def advance(self, stage: str, ok: bool = True) -> None:
        if stage != "relax":  # the enumeration's job ends before the cluster starts
            return
        now = time.perf_counter()
        self.first = self.first or now
        self.last = now
        self.done += 1
        if self.done % 1000 == 0:
            self.rss_mib.append((self.done, self._process.memory_info().rss / 2**20))

    def add(self, stage: str, count: int = 1) -> None:
        return None

    def note(self, text: str) -> None:
        print(text)


def _database() -> tuple[str, Callable[[], None]]:
    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test").execution_options(
        isolation_level="AUTOCOMMIT"
    )
    name = f"farm_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def _add_candidates(url: str, plan, structures: list[Structure]) -> None:
    """Register the campaign and add ``structures`` as candidates of its one composition."""
    from sqlalchemy.orm import Session

    from db.engine import make_engine
    from db.migrate import ensure_schema
    from db.models import Campaign, Composition
    from screening.driver import prepare_campaign
    from screening.progress import SilentProgress
    from screening.store import ensure_structure, link_structure

    ensure_schema(url)
    engine = make_engine(url)
    with Session(engine) as session:
        prepare_campaign(session, plan, SilentProgress())
        campaign = session.scalar(select(Campaign))
        composition = session.scalar(select(Composition))
        for index, structure in enumerate(structures):
            row = ensure_structure(session, structure, "benchmark", {"index": index})
            link_structure(session, campaign, row, "candidate", composition)
            if index % 1000 == 999:
                session.flush()
        session.commit()
    engine.dispose()


def _plan(
    tmp: Path,
    parent: str,
    supercell: list[int],
    potential: str,
    site: str,
    fmax: float,
    relax_cell: bool,
):
    from screening.campaign import load_plan

    path = tmp / "farm-bench.toml"
    path.write_text(
        CAMPAIGN.format(
            parent=parent,
            supercell=supercell,
            potential=potential,
            site=site,
            fmax=fmax,
            relax_cell=str(relax_cell).lower(),
        )
    )
    return load_plan(path)


def _cu_cells(jobs: int) -> list[Structure]:
    """One cubic cell for every job, atoms rattled by ~0.02 Å: ASE's EMT then keeps its
    neighbour list from job to job (a new cell costs ~7 ms of neighbour-list building in
    Python, which would measure ASE rather than the farm)."""
    rng = np.random.default_rng(0)
    return [
        Structure(
            Lattice.cubic(FCC_CU_A_ANG),
            ["Cu"] * 4,
            FCC_CU_FRACTIONAL + rng.normal(0, 0.02 / FCC_CU_A_ANG, (4, 3)),
        )
        for _ in range(jobs)
    ]


def _plain_loop(structures_json: list[str]) -> float:
    """Seconds to run these EMT relax jobs one after another, as a worker's task would."""
    from screening.relax import RelaxSettings
    from screening.stages.relax import run_relax

    params = RelaxSettings(fmax=5.0, max_steps=200, relax_cell=False).as_dict()
    payloads = [
        {"params": params, "structure_json": text, "potential": "emt", "torch_threads": 1}
        for text in structures_json
    ]
    run_relax(payloads[0])  # warm-up: imports and the first neighbour list
    started = time.perf_counter()
    for payload in payloads:
        run_relax(payload)
    return time.perf_counter() - started


def ceiling(jobs: int, workers: int) -> None:
    """The throughput mode's jobs with no farm: plain loops in 1 and in ``workers`` processes
    at once, the most these cores give with zero Dask and database cost."""
    from concurrent.futures import ProcessPoolExecutor

    from screening.structures import structure_to_json

    texts = [structure_to_json(cell) for cell in _cu_cells(jobs)]
    for processes in (1, workers):
        shares = [texts[i::processes] for i in range(processes)]
        with ProcessPoolExecutor(processes) as pool:
            walls = list(pool.map(_plain_loop, shares))
        per_job = ", ".join(f"{1000 * w / len(c):.2f}" for w, c in zip(walls, shares, strict=True))
        print(
            f"{processes} process(es): {jobs / max(walls):.0f} jobs/s together; "
            f"ms per job in each: {per_job}"
        )


def throughput(jobs: int, workers: int, window: int | None) -> None:
    from db.engine import make_engine
    from screening.driver import RunOptions, run_campaign

    cells = _cu_cells(jobs)
    url, drop = _database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # fixed cells: one EMT call (~2 ms); a cell filter's matrix logarithms cost more
            plan = _plan(Path(tmp), "Cu-fcc", [1, 1, 1], "emt", "Cu", 5.0, False)
            _add_candidates(url, plan, cells)
            progress = TimedProgress()
            started = time.perf_counter()
            options = RunOptions(workers=workers, window=window, artifact_root=Path(tmp) / "a")
            summary = run_campaign(make_engine(url), plan, options, progress)
            total = time.perf_counter() - started
        span = progress.last - progress.first
        print(f"{summary.done} jobs done, {summary.failed} failed; whole run {total:.1f} s")
        print(f"persisted {progress.done / span:.0f} jobs/s from first to last result")
        print(
            "driver RSS (MiB) after N jobs:",
            ", ".join(f"{n}: {m:.0f}" for n, m in progress.rss_mib),
        )
    finally:
        drop()


def overhead(jobs: int) -> None:
    import torch

    from db.engine import make_engine
    from db.models import Relaxation
    from enumerate import prototypes
    from screening.driver import RunOptions, run_campaign
    from screening.farm import local_torch_threads
    from screening.potentials import PotentialSpec, load_calculator
    from screening.relax import relax_structure

    threads = local_torch_threads(1)  # what the one local worker's tasks get
    torch.set_num_threads(threads)
    rng = np.random.default_rng(1)
    base = prototypes.build_prototype("Li3InCl6")
    cells = []
    for _ in range(jobs):
        cell = base.copy()
        cell.perturb(0.05, min_distance=0.0, seed=int(rng.integers(1 << 30)))
        cells.append(cell)
    with tempfile.TemporaryDirectory() as tmp:
        plan = _plan(Path(tmp), "Li3InCl6", [1, 1, 1], "chgnet", "In", 0.05, True)
        settings = plan.spec.relax.settings(relax_cell=True)
        calculator = load_calculator(PotentialSpec.parse("chgnet"), "cpu")
        relax_structure(cells[0], calculator, settings)  # warm-up, as a worker's first task

        def direct() -> float:
            total = 0.0
            for cell in cells:
                started = time.perf_counter()
                relax_structure(cell, calculator, settings)
                total += time.perf_counter() - started
            return total

        before = direct()
        url, drop = _database()
        try:
            _add_candidates(url, plan, cells)
            progress = TimedProgress()
            started = time.perf_counter()
            options = RunOptions(workers=1, artifact_root=Path(tmp) / "a")
            engine = make_engine(url)
            run_campaign(engine, plan, options, progress)
            farm = time.perf_counter() - started
            with engine.connect() as connection:  # timed on the worker, around each relaxation
                on_worker = connection.scalar(select(func.sum(Relaxation.wall_time_s)))
            engine.dispose()
        finally:
            drop()
        after = direct()  # the machine's speed drifts: the farm run is bracketed
    mean = (before + after) / 2
    span = progress.last - progress.first  # first to last result: jobs - 1 of them
    print(f"{jobs} CHGNet relaxations of {len(base)}-atom cells, {threads} torch threads")
    print(f"direct in one process: {before:.1f} s before the farm run, {after:.1f} s after")
    print(f"whole run_campaign: {farm:.1f} s; the relaxations inside it: {on_worker:.1f} s")
    print("in the same run, against the relaxations' own time on the worker:")
    print(f"  ratio, whole run (cluster start, model load, hull included): {farm / on_worker:.3f}")
    print(f"  ratio, first to last result: {span / (on_worker * (jobs - 1) / jobs):.3f}")
    print("against the same relaxations direct in this process (before and after):")
    print(f"  ratio, whole run: {farm / mean:.3f}")
    print(f"  ratio, first to last result: {span / (mean * (jobs - 1) / jobs):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["throughput", "ceiling", "overhead"])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--window", type=int, default=None)
    args = parser.parse_args()
    if args.what == "throughput":
        throughput(args.jobs, args.workers, args.window)
    elif args.what == "ceiling":
        ceiling(args.jobs, args.workers)
    else:
        overhead(args.jobs)


if __name__ == "__main__":
    main()
