"""Cost of enumeration next to the MLIP work it feeds: SQS and cluster-expansion Monte Carlo.

Two sublattices at half filling each. SQS: enumerate.sqs.generate_sqs (pair cutoff 6 Å,
clipped to the cell) on rock-salt LiCl with Li/Na on the cation and Br/Cl on the anion
sublattice (Li0.5Na0.5 / Br0.5Cl0.5) in 6, 12 and 24 conventional cells (48, 96, 192
atoms), and on Li3InCl6 (C2/m, 20-atom conventional cell) with In/Y on the metal and Br/Cl
on the halide sublattice (In0.5Y0.5 / Br0.5Cl0.5) in 2, 4 and 8 cells (40, 80, 160 atoms;
48/96/192 are no multiple of its cell). Monte Carlo: enumerate.monte_carlo on a cluster
expansion of the Li3InCl6 lattice with seeded random ECIs (the cost does not depend on their
values), canonical sampling and annealing, setup timed apart from the trial steps, in
supercells wide enough that no cluster meets its own periodic image. Times are wall and
CPU seconds of this single-threaded process (equal on an idle core; on a shared machine the
CPU seconds are the cost). Run:
.venv/bin/python benchmarks/enumeration_cost.py [--sqs-steps 3000] [--mc-steps 100000]
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

import numpy as np
from pymatgen.core import Structure

from enumerate import monte_carlo, sqs
from enumerate.cluster_expansion import ClusterExpansionModel, build_cluster_space
from enumerate.grid import most_compact_supercell
from enumerate.placeholders import ParentLattice
from enumerate.prototypes import build_prototype
from enumerate.space import CompositionPoint, Sublattice

HALF = Fraction(1, 2)
SPACE = [
    Sublattice("metal", "In", ("In", "Y"), step=HALF),
    Sublattice("halide", "Cl", ("Br", "Cl"), step=HALF),
]
POINT = CompositionPoint({"metal": {"In": HALF, "Y": HALF}, "halide": {"Br": HALF, "Cl": HALF}})
ROCK_SALT_SPACE = [
    Sublattice("cation", "Li", ("Li", "Na"), step=HALF),
    Sublattice("anion", "Cl", ("Br", "Cl"), step=HALF),
]
ROCK_SALT_POINT = CompositionPoint(
    {"cation": {"Li": HALF, "Na": HALF}, "anion": {"Br": HALF, "Cl": HALF}}
)
_SQS_SEEDS = 3
_SETUP_STEPS = 10  # a run this short is all setup (cluster expansion, calculator, ensemble)


def _supercell(parent: Structure, n_cells: int) -> Structure:
    supercell = parent.copy()
    supercell.make_supercell(list(most_compact_supercell(n_cells, parent)))
    return supercell


def _random_model(parent: Structure, cutoffs_ang: tuple[float, ...]) -> ClusterExpansionModel:
    lattice = ParentLattice.from_parent(parent, SPACE)
    n_params = len(build_cluster_space(lattice, cutoffs_ang))
    ecis = np.random.default_rng(0).normal(0.0, 0.01, n_params)
    return ClusterExpansionModel(lattice, cutoffs_ang, tuple(ecis), 0.0, 0.0, 0, "random", 0, 0)


def _time_sqs(
    name: str,
    space: list[Sublattice],
    point: CompositionPoint,
    cells: tuple[int, ...],
    n_steps: int,
) -> None:
    """One row per supercell: cutoff used (Å), mean wall and CPU seconds per SQS run, and
    the best objective over the seeds."""
    parent = build_prototype(name)
    for n_cells in cells:
        supercell = _supercell(parent, n_cells)
        wall, cpu = time.perf_counter(), time.process_time()
        results = [
            sqs.generate_sqs(supercell, space, point, seed=seed, n_steps=n_steps)
            for seed in range(_SQS_SEEDS)
        ]
        wall = (time.perf_counter() - wall) / _SQS_SEEDS
        cpu = (time.process_time() - cpu) / _SQS_SEEDS
        cutoff, best = results[0].cutoffs[0], min(r.objective for r in results)
        print(
            f"{name:>9} {len(supercell):>6} {cutoff:>9.2f} {wall:>7.2f} {cpu:>7.2f} {best:>15.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sqs-steps", type=int, default=3000)
    parser.add_argument("--mc-steps", type=int, default=100_000)
    args = parser.parse_args()
    parent = build_prototype("Li3InCl6")

    print(f"SQS, {args.sqs_steps} MC steps, mean of {_SQS_SEEDS} seeds")
    print(
        f"{'parent':>9} {'atoms':>6} {'cutoff Å':>9} {'s/SQS':>7} {'CPU s':>7}"
        f" {'best objective':>15}"
    )
    _time_sqs("LiCl", ROCK_SALT_SPACE, ROCK_SALT_POINT, (6, 12, 24), args.sqs_steps)
    _time_sqs("Li3InCl6", SPACE, POINT, (2, 4, 8), args.sqs_steps)

    print(f"\nMonte Carlo, {args.mc_steps} trial steps")
    print(
        f"{'atoms':>6} {'cutoffs Å':>10} {'ECIs':>5} {'method':>9} {'setup s':>8}"
        f" {'steps s':>8} {'CPU s':>8}"
    )
    for cutoffs, n_cells in (((6.0,), 8), ((6.0,), 32), ((7.0, 5.0), 32), ((7.0, 5.0), 64)):
        model = _random_model(parent, cutoffs)
        supercell = _supercell(parent, n_cells)
        for method in ("canonical", "anneal"):
            timings = []
            for n_steps in (_SETUP_STEPS, args.mc_steps):
                started = time.perf_counter(), time.process_time()
                if method == "anneal":
                    monte_carlo.anneal(model, supercell, SPACE, POINT, seed=0, n_steps=n_steps)
                else:
                    monte_carlo.sample_canonical(
                        model,
                        supercell,
                        SPACE,
                        POINT,
                        temperature_k=600.0,
                        seed=0,
                        n_equilibration_steps=0,
                        sample_interval=n_steps,
                    )
                timings.append((time.perf_counter() - started[0], time.process_time() - started[1]))
            (setup, setup_cpu), (total, total_cpu) = timings
            print(
                f"{len(supercell):>6} {'/'.join(map(str, cutoffs)):>10} {len(model.ecis):>5}"
                f" {method:>9} {setup:>8.2f} {total - setup:>8.2f} {total_cpu - setup_cpu:>8.2f}"
            )


if __name__ == "__main__":
    main()
