"""Cost of the transport analysis next to the MD it analyses.

A synthetic random walk of 200 atoms (64 mobile) in a monoclinic cell, N frames, through
screening.diffusion.analyze_diffusion (unwrapping, FFT MSD along lattice axes and planes,
fit window, He and block errors, Haven ratio). Run:
.venv/bin/python benchmarks/analysis_cost.py [--frames 100000 25000]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from pymatgen.core import Lattice

from screening.diffusion import analyze_diffusion
from screening.trajectory import Trajectory


def _walk(n_frames: int, seed: int = 0) -> Trajectory:
    rng = np.random.default_rng(seed)
    cell = Lattice.monoclinic(12.8, 11.1, 12.8, 109.8).matrix
    n_atoms, n_mobile = 200, 64
    start = rng.random((n_atoms, 3)) @ cell
    steps = np.zeros((n_frames, n_atoms, 3))
    steps[1:, :n_mobile] = rng.normal(0.0, 0.15, (n_frames - 1, n_mobile, 3))
    steps[1:, n_mobile:] = rng.normal(0.0, 0.02, (n_frames - 1, n_atoms - n_mobile, 3))
    positions = start + np.cumsum(steps, axis=0)
    frac = np.linalg.solve(cell.T, positions.reshape(-1, 3).T).T % 1.0  # wrapped, as files are
    symbols = ("Li",) * n_mobile + ("Cl",) * (n_atoms - n_mobile)
    return Trajectory(
        symbols=symbols,
        positions_ang=(frac @ cell).reshape(n_frames, n_atoms, 3),
        cells_ang=np.broadcast_to(cell, (n_frames, 3, 3)).copy(),
        times_ps=np.arange(n_frames) * 0.02,
        energies_ev=np.zeros(n_frames),
        temperatures_k=np.full(n_frames, 800.0),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, nargs="+", default=[25_000, 100_000])
    print(f"{'frames':>8} {'analysis s':>11} {'peak RSS GB':>12}")
    for n_frames in parser.parse_args().frames:
        trajectory = _walk(n_frames)
        started = time.perf_counter()
        analyze_diffusion(trajectory, "Li")
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print(f"{n_frames:>8} {elapsed:>11.1f} {peak:>12.2f}")


if __name__ == "__main__":
    main()
