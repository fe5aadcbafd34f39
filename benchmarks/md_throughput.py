"""MD throughput per potential and cell size: steps/s and atom-steps/s on this machine.

Langevin NVT at 600 K on Li3InCl6 cells (20, 80, 160 atoms) with CHGNet, and fcc Cu
(32, 108, 256 atoms) with EMT, one torch thread, under the stability monitor, as the
md stage runs them. Any other potential spec (``mace:PATH``, ``sevennet``) runs the
Li3InCl6 cells. Run: .venv/bin/python benchmarks/md_throughput.py [--steps N]
[--potential chgnet|emt|SPEC] [--repeat 2x2x2 ...] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch
from ase.build import bulk

from enumerate import prototypes
from screening.md import MDSettings, run_md
from screening.potentials import PotentialSpec, load_calculator
from screening.structures import to_structure

CASES = {
    "chgnet": ("Li", [(1, 1, 1), (2, 1, 2), (2, 2, 2)]),
    "emt": ("Cu", [(2, 2, 2), (3, 3, 3), (4, 4, 4)]),
}


def _cell(potential: str, repeat: tuple[int, int, int]):
    if potential != "emt":
        return prototypes.build_prototype("Li3InCl6").make_supercell(list(repeat), in_place=False)
    return to_structure(bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--potential", action="append", help="chgnet, emt or any spec")
    parser.add_argument("--repeat", action="append", help="supercell such as 2x2x2")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    steps = args.steps
    torch.set_num_threads(args.threads)
    print(f"{'potential':<8} {'atoms':>6} {'steps/s':>9} {'atom-steps/s':>13}")
    for name in args.potential or ["chgnet", "emt"]:
        mobile, repeats = CASES.get(name, CASES["chgnet"])
        if args.repeat:
            repeats = [tuple(int(n) for n in r.split("x")) for r in args.repeat]
        calculator = load_calculator(PotentialSpec.parse(name), "cpu")
        for repeat in repeats:
            cell = _cell(name, repeat)
            settings = MDSettings(
                temperature_k=600,
                steps=steps,
                equilibration_steps=0,
                sample_every=10,
                mobile_species=mobile,
            )
            run_md(
                cell,
                calculator,
                MDSettings(
                    temperature_k=600, steps=2, mobile_species=mobile, equilibration_steps=0
                ),
            )  # warm-up
            started = time.perf_counter()
            run_md(cell, calculator, settings)
            rate = steps / (time.perf_counter() - started)
            print(f"{name[:8]:<8} {len(cell):>6} {rate:>9.2f} {rate * len(cell):>13.0f}")


if __name__ == "__main__":
    main()
