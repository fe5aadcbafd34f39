"""NEB cost per band by cell size and potential: force calls, band steps and wall time.

One nearest-neighbour vacancy hop per case, run as stage neb runs it (``run_neb``:
endpoints relaxed at fixed cell, 5 IDPP images, climbing image, FIRE to 0.05 eV/Å), on
a cell relaxed first with the same potential, one torch thread:

- EMT (ASE): fcc Cu in 2x2x2, 3x3x3 and 4x4x4 conventional cells (31, 107, 255 atoms);
- CHGNet: rock-salt LiCl in the 2x2x2 conventional cell (63 atoms) and the 4x4x4
  primitive cell (127 atoms).

CPU s is this process's CPU time for the band (one thread), the cost on a core of its
own; wall s is longer when other processes share the cores.

Run: .venv/bin/python benchmarks/neb_cost.py [--quick]  (--quick: the smaller cells only)
"""

from __future__ import annotations

import argparse
import time

import torch
from ase.build import bulk
from pymatgen.core import Structure

from enumerate import prototypes
from screening.hops import HopSettings, find_hops
from screening.neb import NEBSettings, run_neb
from screening.potentials import PotentialSpec, load_calculator
from screening.relax import relax_structure
from screening.structures import to_structure

# potential -> (mobile species, nearest-neighbour cutoff in Å, cells to run: (label,
# structure builder, supercell_min_length in Å, in --quick))
CASES = {
    "emt": (
        "Cu",
        3.0,
        [
            ("Cu fcc 2x2x2", "copper", 7.0, True),
            ("Cu fcc 3x3x3", "copper", 10.5, True),
            ("Cu fcc 4x4x4", "copper", 14.0, False),
        ],
    ),
    "chgnet": (
        "Li",
        3.8,
        [
            ("LiCl 2x2x2 conventional", "licl_conventional", 10.0, True),
            ("LiCl 4x4x4 primitive", "licl_primitive", 11.0, False),
        ],
    ),
}


def _cell(name: str) -> Structure:
    if name == "copper":
        return to_structure(bulk("Cu", "fcc", a=3.61, cubic=True))
    conventional = prototypes.build_prototype("LiCl")
    return conventional if name == "licl_conventional" else conventional.get_primitive_structure()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the smaller cells only")
    quick = parser.parse_args().quick
    torch.set_num_threads(1)
    print(
        f"{'potential':<8} {'cell':<24} {'atoms':>5} {'steps':>5} {'calls':>6} "
        f"{'wall s':>7} {'CPU s':>7} {'CPU ms/call':>11} {'barrier eV':>10} converged"
    )
    for potential, (mobile, cutoff, cells) in CASES.items():
        spec = PotentialSpec.parse(potential)
        relax_calc = load_calculator(spec, "cpu")
        band_calc = load_calculator(spec, "cpu", need_stress=False)
        for label, builder, min_length, in_quick in cells:
            if quick and not in_quick:
                continue
            relaxed = relax_structure(_cell(builder), relax_calc).structure
            hop = find_hops(relaxed, HopSettings(mobile_species=mobile, cutoff_ang=cutoff))
            settings = NEBSettings(images=5, fmax=0.05, supercell_min_length_ang=min_length)
            started = time.process_time()
            band = run_neb(relaxed, hop.classes[0].representative, band_calc, settings)
            cpu_s = time.process_time() - started
            print(
                f"{potential:<8} {label:<24} {band.n_atoms:>5} {band.steps:>5} "
                f"{band.force_calls:>6} {band.wall_time_s:>7.1f} {cpu_s:>7.1f} "
                f"{1e3 * cpu_s / band.force_calls:>11.1f} {band.barrier_ev:>10.3f} "
                f"{band.converged}",
                flush=True,
            )


if __name__ == "__main__":
    main()
