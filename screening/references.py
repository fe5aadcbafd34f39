"""Reference phases for the hull: one structure per element, from ASE's reference states.

Crystals that ``ase.build.bulk`` can build (fcc, bcc, hcp, diamond, bct, ...) are used as
such and relaxed with their cell. Elements whose standard state is molecular (H, N, O, F,
Cl, Br, I) are a diatomic molecule in a 15 Å box, relaxed at fixed cell. Elements whose
complex standard crystal ASE cannot build (Ga, P, S, ...) fall back to fcc with
touching covalent spheres (a = 2√2 r_cov), flagged ``approximate``: supply the real
phase as a competing phase when formation energies of such elements matter (E_hull
within a substitution space does not depend on them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers, covalent_radii, reference_states
from pymatgen.core import Structure

from screening.structures import to_structure

MOLECULAR_ELEMENTS = {"H", "N", "O", "F", "Cl", "Br", "I"}
MOLECULE_BOX_ANG = 15.0


@dataclass(frozen=True)
class ReferencePhase:
    """A reference structure, whether its cell may relax, and how it was made."""

    element: str
    structure: Structure
    relax_cell: bool
    note: str


def elemental_reference(element: str) -> ReferencePhase:
    """The reference phase of one element (see the module docstring for the rules)."""
    if element in MOLECULAR_ELEMENTS:
        return ReferencePhase(element, to_structure(_dimer(element)), False, "diatomic in a box")
    state = reference_states[atomic_numbers[element]] or {}
    try:
        atoms = bulk(element)
        note = f"ASE reference state ({state.get('symmetry')})"
    except (ValueError, KeyError, RuntimeError):
        atoms = _fcc_fallback(element)
        note = f"approximate: fcc stand-in for {state.get('symmetry')} standard state"
    return ReferencePhase(element, to_structure(atoms), True, note)


def _dimer(element: str) -> Atoms:
    bond = 2.0 * covalent_radii[atomic_numbers[element]]
    centre = MOLECULE_BOX_ANG / 2
    return Atoms(
        [element, element],
        positions=[[centre, centre, centre - bond / 2], [centre, centre, centre + bond / 2]],
        cell=np.eye(3) * MOLECULE_BOX_ANG,
        pbc=True,
    )


def _fcc_fallback(element: str) -> Atoms:
    radius = covalent_radii[atomic_numbers[element]]
    lattice_constant = 2.0 * np.sqrt(2.0) * radius
    return bulk(element, "fcc", a=lattice_constant)
