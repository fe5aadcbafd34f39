"""Every symmetry-distinct ordering of a parent's sublattices up to a cell size (icet).

icet's ``enumerate_structures`` implements Hart and Forcade's algorithm (Phys. Rev. B 77,
224115 (2008); 80, 014120 (2009)): every decoration of every supercell of the primitive parent,
less those related by a parent symmetry or a lattice translation, and less superperiodic ones.
A decoration that repeats a smaller cell is listed at its smallest size only, so each pure
composition appears once, in the primitive cell. Counts are per cell size, not cumulative.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from ase import Atoms
from icet.tools import enumerate_structures
from pymatgen.core import Structure

from enumerate.errors import OrderingError, TooManyOrderingsError
from enumerate.placeholders import ParentLattice, to_structure
from enumerate.space import CompositionPoint, Sublattice, as_fraction

logger = logging.getLogger(__name__)

FractionRange = tuple[Fraction | float | str, Fraction | float | str]
"""Inclusive (lowest, highest) site fraction of a species on its sublattice."""


@dataclass(frozen=True)
class Ordering:
    """One symmetry-distinct ordering.

    ``structure`` holds real species with vacancies removed; ``n_sites`` counts its lattice
    sites, vacant ones included; ``point`` is its composition; ``index`` its rank in the
    deterministic enumeration order (with the arguments, it names how it was made).
    """

    structure: Structure
    point: CompositionPoint
    n_sites: int
    index: int


def _icet_restrictions(
    lattice: ParentLattice,
    sublattices: Sequence[Sublattice],
    restrictions: Mapping[str, Mapping[str, FractionRange]],
) -> dict[str, tuple[float, float]]:
    """Per-sublattice site-fraction ranges as icet's fractions of all sites of the cell.

    An icet symbol occurs on at most one mixed sublattice; elsewhere only on sites that allow
    nothing else, whose count is fixed, so the translation is exact.
    """
    by_name = {sl.name: sl for sl in sublattices}
    allowed = lattice.allowed
    translated: dict[str, tuple[float, float]] = {}
    for name, ranges in restrictions.items():
        if name not in by_name:
            raise OrderingError(f"restriction on unknown sublattice {name!r}; have {list(by_name)}")
        for species, (low, high) in ranges.items():
            if species not in by_name[name].species:
                raise OrderingError(
                    f"restriction on {species!r}, which sublattice {name!r} does not allow"
                    f" (it allows {list(by_name[name].species)})"
                )
            low_f, high_f = as_fraction(low), as_fraction(high)
            if not 0 <= low_f <= high_f <= 1:
                raise OrderingError(
                    f"restriction {species} on {name!r}: need 0 <= {low_f} <= {high_f} <= 1"
                )
            symbol = lattice.symbols[name][species]
            n_own = lattice.sublattice_of.count(name)
            n_fixed = sum(
                a == [symbol] and owner != name
                for a, owner in zip(allowed, lattice.sublattice_of, strict=True)
            )
            n = len(lattice)
            translated[symbol] = (
                float((n_own * low_f + n_fixed) / n),
                float((n_own * high_f + n_fixed) / n),
            )
    return translated


def _ordering(
    lattice: ParentLattice, sublattices: Sequence[Sublattice], atoms: Atoms, index: int
) -> Ordering:
    symbols = atoms.get_chemical_symbols()
    owners = [lattice.sublattice_of[i] for i in lattice.site_indices(atoms.positions)]
    fractions: dict[str, dict[str, Fraction]] = {}
    for sl in sublattices:
        on = [sym for sym, owner in zip(symbols, owners, strict=True) if owner == sl.name]
        fractions[sl.name] = {
            species: Fraction(on.count(sym), len(on))
            for species, sym in lattice.symbols[sl.name].items()
        }
    structure = to_structure(
        atoms.cell[:], atoms.get_scaled_positions(), symbols, lattice.to_species
    )
    return Ordering(structure, CompositionPoint(fractions), len(atoms), index)


def _too_many(
    formula: str, per_size: Counter[int], max_structures: int, n_prim: int, size: int
) -> TooManyOrderingsError:
    done = sum(c for s, c in per_size.items() if s < size)
    smaller = size - n_prim
    advice = (
        f"lower max_sites to {smaller} ({done} orderings)"
        if smaller >= n_prim
        else "the primitive cell alone exceeds it"
    )
    return TooManyOrderingsError(
        f"more than {max_structures} orderings of {formula}: the cap was reached in"
        f" {size}-site cells ({per_size[size]} of that size so far, {done} in smaller cells);"
        f" {advice}, add concentration restrictions, or raise max_structures"
    )


def enumerate_orderings(
    parent: Structure,
    sublattices: Sequence[Sublattice],
    *,
    max_sites: int,
    restrictions: Mapping[str, Mapping[str, FractionRange]] | None = None,
    max_structures: int = 10_000,
) -> list[Ordering]:
    """All symmetry-distinct orderings in supercells of the primitive parent of ``max_sites``
    sites or fewer, smallest cells first.

    ``restrictions`` maps sublattice name -> species -> inclusive (lowest, highest) site
    fraction on that sublattice. Sublattices' ``step``/``points`` are not applied here.
    Orderings with every site vacant (nothing to compute) are left out.

    Raises:
        OrderingError: ``max_sites`` is below the primitive cell, or a restriction is malformed.
        TooManyOrderingsError: more than ``max_structures`` orderings; the message gives the
            count reached and a ``max_sites`` that stays below the cap.
        SublatticeError: a sublattice selects no site of the parent.
    """
    lattice = ParentLattice.from_parent(parent, sublattices)
    formula = parent.composition.reduced_formula
    n_prim = len(lattice)
    if max_sites < n_prim:
        raise OrderingError(
            f"max_sites {max_sites} is below the {n_prim} sites of the primitive {formula} cell"
        )
    icet_restrictions = _icet_restrictions(lattice, sublattices, restrictions or {})
    generator = enumerate_structures(
        lattice.primitive(),
        range(1, max_sites // n_prim + 1),
        lattice.allowed,
        concentration_restrictions=icet_restrictions or None,
    )
    orderings: list[Ordering] = []
    per_size: Counter[int] = Counter()
    for atoms in generator:
        per_size[len(atoms)] += 1
        if sum(per_size.values()) > max_structures:
            raise _too_many(formula, per_size, max_structures, n_prim, len(atoms))
        ordering = _ordering(lattice, sublattices, atoms, sum(per_size.values()) - 1)
        if len(ordering.structure):
            orderings.append(ordering)
    logger.info(
        "%d orderings of %s up to %d sites (per size: %s)",
        len(orderings),
        formula,
        max_sites,
        dict(sorted(per_size.items())),
    )
    return orderings
