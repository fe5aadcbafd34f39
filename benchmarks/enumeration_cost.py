"""Cost of enumeration next to the MLIP work it feeds: SQS and cluster-expansion Monte Carlo.

Li3InCl6 (C2/m, 20-atom conventional cell) with In/Y on the metal and Br/Cl on the halide
sublattice at In0.5Y0.5 / Br0.5Cl0.5. SQS: enumerate.sqs.generate_sqs (pair cutoff 6 Å,
clipped to the cell) on 2, 4 and 8 conventional cells (40, 80, 160 atoms; 48/96/192 are no
multiple of the 20-atom cell). Monte Carlo: enumerate.monte_carlo on a cluster expansion of
that lattice with seeded random ECIs (the cost does not depend on their values), canonical
sampling and annealing, setup timed apart from the trial steps, in supercells wide enough
that no cluster meets its own periodic image. Run:
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
_SQS_SEEDS = 3
_SETUP_STEPS = 10  # a run this short is all setup (cluster expansion, calculator, ensemble)
POINT = CompositionPoint({"metal": {"In": HALF, "Y": HALF}, "halide": {"Br": HALF, "Cl": HALF}})


def _supercell(parent: Structure, n_cells: int) -> Structure:
    supercell = parent.copy()
    supercell.make_supercell(list(most_compact_supercell(n_cells, parent)))
    return supercell


def _random_model(parent: Structure, cutoffs_ang: tuple[float, ...]) -> ClusterExpansionModel:
    lattice = ParentLattice.from_parent(parent, SPACE)
    n_params = len(build_cluster_space(lattice, cutoffs_ang))
    ecis = np.random.default_rng(0).normal(0.0, 0.01, n_params)
    return ClusterExpansionModel(lattice, cutoffs_ang, tuple(ecis), 0.0, 0.0, 0, "random", 0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sqs-steps", type=int, default=3000)
    parser.add_argument("--mc-steps", type=int, default=100_000)
    args = parser.parse_args()
    parent = build_prototype("Li3InCl6")

    print(f"SQS, {args.sqs_steps} MC steps, mean of {_SQS_SEEDS} seeds")
    print(f"{'atoms':>6} {'cutoff Å':>9} {'s/SQS':>7} {'best objective':>15}")
    for n_cells in (2, 4, 8):
        supercell = _supercell(parent, n_cells)
        started = time.perf_counter()
        results = [
            sqs.generate_sqs(supercell, SPACE, POINT, seed=seed, n_steps=args.sqs_steps)
            for seed in range(_SQS_SEEDS)
        ]
        elapsed = (time.perf_counter() - started) / _SQS_SEEDS
        cutoff, best = results[0].cutoffs[0], min(r.objective for r in results)
        print(f"{len(supercell):>6} {cutoff:>9.2f} {elapsed:>7.2f} {best:>15.3f}")

    print(f"\nMonte Carlo, {args.mc_steps} trial steps")
    print(f"{'atoms':>6} {'cutoffs Å':>10} {'ECIs':>5} {'method':>9} {'setup s':>8} {'steps s':>8}")
    for cutoffs, n_cells in (((6.0,), 8), ((6.0,), 32), ((7.0, 5.0), 32), ((7.0, 5.0), 64)):
        model = _random_model(parent, cutoffs)
        supercell = _supercell(parent, n_cells)
        for method in ("canonical", "anneal"):
            timings = []
            for n_steps in (_SETUP_STEPS, args.mc_steps):
                started = time.perf_counter()
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
                timings.append(time.perf_counter() - started)
            setup, total = timings
            print(
                f"{len(supercell):>6} {'/'.join(map(str, cutoffs)):>10} {len(model.ecis):>5}"
                f" {method:>9} {setup:>8.2f} {total - setup:>8.2f}"
            )


if __name__ == "__main__":
    main()
