"""Structure identity and (de)serialisation between pymatgen, ASE and the database."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

HASH_DECIMALS = 4  # fractional coordinates and lattice (Å) are rounded before hashing
G_CM3_PER_AMU_ANG3 = 1.66053906660  # 1 amu/Å^3 in g/cm^3


def content_hash(structure: Structure) -> str:
    """SHA-256 of a canonical form: lattice and sorted (species, wrapped fractional coords).

    Two structures that differ only in site order, or in periodic images of their sites,
    hash equal; any change of a coordinate above 1e-4 (fractional) gives a new hash.
    """
    frac = np.round(np.mod(structure.frac_coords, 1.0), HASH_DECIMALS) % 1.0
    sites = sorted(
        (site.species_string, *(f"{x:.{HASH_DECIMALS}f}" for x in coords))
        for site, coords in zip(structure, frac, strict=True)
    )
    lattice = [f"{x:.{HASH_DECIMALS}f}" for x in np.ravel(structure.lattice.matrix)]
    payload = json.dumps({"lattice": lattice, "sites": sites}, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def structure_to_json(structure: Structure) -> str:
    return json.dumps(structure.as_dict())


def structure_from_json(text: str) -> Structure:
    return Structure.from_dict(json.loads(text))


def to_atoms(structure: Structure) -> Atoms:
    return AseAtomsAdaptor.get_atoms(structure)


def to_structure(atoms: Atoms) -> Structure:
    return AseAtomsAdaptor.get_structure(atoms)


@dataclass(frozen=True)
class LatticeSummary:
    """Lattice parameters (Å, degrees), volume per atom (Å^3) and density (g/cm^3)."""

    a: float
    b: float
    c: float
    alpha: float
    beta: float
    gamma: float
    volume_per_atom: float
    density_g_cm3: float

    @classmethod
    def from_structure(cls, structure: Structure) -> LatticeSummary:
        lattice = structure.lattice
        return cls(
            a=lattice.a,
            b=lattice.b,
            c=lattice.c,
            alpha=lattice.alpha,
            beta=lattice.beta,
            gamma=lattice.gamma,
            volume_per_atom=lattice.volume / len(structure),
            density_g_cm3=density_g_cm3(structure),
        )


def density_g_cm3(structure: Structure) -> float:
    """Mass density in g/cm^3 from the sites' masses (pymatgen's unit-aware path costs ~1 ms)."""
    masses = sum(site.species.weight for site in structure)
    return float(masses) * G_CM3_PER_AMU_ANG3 / structure.lattice.volume
