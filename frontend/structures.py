"""Structures as the explorer shows them: pymatgen from stored JSON, CIF text, densities."""

from __future__ import annotations

import json

from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter


class UnreadableStructure(ValueError):
    """Stored structure JSON that is not a pymatgen ``Structure.as_dict()``."""


def load_structure(structure_json: str | None) -> Structure:
    """The pymatgen Structure stored as ``Structure.as_dict()`` JSON.

    Raises:
        UnreadableStructure: missing, or not a pymatgen structure.
    """
    try:
        return Structure.from_dict(json.loads(structure_json or ""))
    except (ValueError, KeyError, TypeError) as err:
        raise UnreadableStructure(f"stored structure cannot be read ({err!r})") from err


def cif_text(structure: Structure) -> str:
    return str(CifWriter(structure))


def md_cell_counts(structure: Structure, md_n_atoms: int) -> dict[str, float]:
    """Atoms of each element in an MD cell that repeats ``structure`` to ``md_n_atoms``."""
    repeats = md_n_atoms / len(structure)
    counts = structure.composition.element_composition.get_el_amt_dict()
    return {element: amount * repeats for element, amount in counts.items()}
