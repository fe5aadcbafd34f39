"""How sublattice species are spelled for icet: one chemical symbol per (sublattice, species).

icet keys random-alloy targets by chemical symbol and groups sites into sublattices by their
species lists, and it has no symbol for a vacancy. So each vacancy, and each real species that
a mixed sublattice shares with an earlier sublattice, is stood in for by a placeholder element
absent from the structure. :class:`ParentLattice` is the parent's primitive cell spelled that
way, the common ground of ordering enumeration and cluster expansions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from numpy.typing import ArrayLike
from pymatgen.core import Lattice, Structure

from enumerate.errors import SublatticeError
from enumerate.space import VACANCY, Sublattice, site_counts, sublattice_sites

_NOBLE_GASES = ("Ne", "Ar", "Kr", "Xe", "He", "Rn")
_PLACEHOLDERS = _NOBLE_GASES + tuple(s for s in chemical_symbols[1:87] if s not in _NOBLE_GASES)
_SITE_TOLERANCE = 1e-3  # fractional coordinate tolerance when matching sites


def _placeholder_pool(structure: Structure, sublattices: Sequence[Sublattice]) -> list[str]:
    taken = {site.specie.symbol for site in structure}
    taken |= {s for sl in sublattices for s in sl.species}
    return [s for s in _PLACEHOLDERS if s not in taken]


def icet_symbols(
    structure: Structure, sublattices: Sequence[Sublattice], occupied: Sequence[Iterable[str]]
) -> list[dict[str, str]]:
    """Per sublattice, the icet symbol of each of its ``occupied`` species (sorted by species).

    ``occupied[i]`` are the species present on ``sublattices[i]``. A vacancy always gets a
    placeholder; a real species does when its sublattice is mixed and an earlier sublattice
    already holds it.

    Raises:
        SublatticeError: no element is left to serve as a placeholder.
    """
    pool = iter(_placeholder_pool(structure, sublattices))
    seen: set[str] = set()
    maps: list[dict[str, str]] = []
    for species in occupied:
        ordered = sorted(species)
        mapping: dict[str, str] = {}
        for s in ordered:
            symbol = s
            if s == VACANCY or (len(ordered) > 1 and s in seen):
                symbol = next(pool, "")
                if not symbol:
                    raise SublatticeError("no element left to stand in for vacancies")
            mapping[s] = symbol
        seen.update(ordered)
        maps.append(mapping)
    return maps


def to_structure(
    lattice: Lattice | ArrayLike,
    frac_coords: ArrayLike,
    symbols: Sequence[str],
    to_species: Mapping[str, str],
) -> Structure:
    """The structure with icet ``symbols`` mapped back to species and vacancies removed."""
    species = [to_species.get(s, s) for s in symbols]
    kept = [i for i, s in enumerate(species) if s != VACANCY]
    coords = np.asarray(frac_coords)[kept]
    return Structure(lattice, [species[i] for i in kept], coords)


@dataclass(frozen=True)
class ParentLattice:
    """The parent's primitive cell as icet sees it; plain data, JSON-ready via :meth:`to_dict`.

    ``sublattice_of`` names each site's sublattice (None for a fixed site); ``symbols`` maps
    sublattice name -> species -> icet symbol, over every species the sublattice allows.
    """

    cell: tuple[tuple[float, float, float], ...]
    frac_coords: tuple[tuple[float, float, float], ...]
    elements: tuple[str, ...]
    sublattice_of: tuple[str | None, ...]
    symbols: Mapping[str, Mapping[str, str]]

    @classmethod
    def from_parent(cls, parent: Structure, sublattices: Sequence[Sublattice]) -> ParentLattice:
        """Primitive cell of ``parent`` with the icet symbols of ``sublattices``.

        Raises:
            SublatticeError: a sublattice selects no site, or two select the same sites.
        """
        primitive = parent.get_primitive_structure(use_site_props=True)
        site_counts(primitive, sublattices)
        names: list[str | None] = [None] * len(primitive)
        for sl in sublattices:
            for i in sublattice_sites(primitive, sl):
                names[i] = sl.name
        maps = icet_symbols(primitive, sublattices, [sl.species for sl in sublattices])
        return cls(
            cell=tuple(tuple(map(float, v)) for v in primitive.lattice.matrix),
            frac_coords=tuple(tuple(map(float, f)) for f in primitive.frac_coords),
            elements=tuple(site.specie.symbol for site in primitive),
            sublattice_of=tuple(names),
            symbols={sl.name: m for sl, m in zip(sublattices, maps, strict=True)},
        )

    def __len__(self) -> int:
        return len(self.elements)

    @property
    def allowed(self) -> list[list[str]]:
        """icet symbols allowed on each site (a fixed site allows its element only)."""
        return [
            [e] if name is None else list(self.symbols[name].values())
            for e, name in zip(self.elements, self.sublattice_of, strict=True)
        ]

    @property
    def to_species(self) -> dict[str, str]:
        """icet symbol -> species (``"vacancy"`` for a vacancy placeholder)."""
        return {sym: sp for m in self.symbols.values() for sp, sym in m.items()}

    def primitive(self) -> Atoms:
        """The primitive cell with the parent's elements (whose symmetry icet uses)."""
        return Atoms(self.elements, scaled_positions=self.frac_coords, cell=self.cell, pbc=True)

    def site_indices(self, positions: ArrayLike) -> list[int]:
        """Primitive site of each Cartesian position (Å) on this lattice.

        Raises:
            SublatticeError: a position is not on a lattice site.
        """
        frac = np.asarray(positions) @ np.linalg.inv(np.asarray(self.cell))
        delta = frac[:, None, :] - np.asarray(self.frac_coords)[None, :, :]
        delta -= np.round(delta)
        distance = np.abs(delta).max(axis=2)
        nearest = distance.argmin(axis=1)
        if (distance[np.arange(len(frac)), nearest] > _SITE_TOLERANCE).any():
            worst = float(distance[np.arange(len(frac)), nearest].max())
            raise SublatticeError(
                f"a position lies {worst:.3g} (fractional) off the parent lattice's sites"
            )
        return nearest.tolist()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` inverts it."""
        return {
            "cell": [list(v) for v in self.cell],
            "frac_coords": [list(f) for f in self.frac_coords],
            "elements": list(self.elements),
            "sublattice_of": list(self.sublattice_of),
            "symbols": {name: dict(m) for name, m in self.symbols.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParentLattice:
        """Inverse of :meth:`to_dict`."""
        return cls(
            cell=tuple(tuple(v) for v in data["cell"]),
            frac_coords=tuple(tuple(f) for f in data["frac_coords"]),
            elements=tuple(data["elements"]),
            sublattice_of=tuple(data["sublattice_of"]),
            symbols={name: dict(m) for name, m in data["symbols"].items()},
        )
