"""Composition grids over sublattices: enumeration, charge balance, realisability, formulas."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np
from pymatgen.core import Composition, Element, Structure

from enumerate.errors import CompositionError, OxidationStateError, UnrealisableCompositionError
from enumerate.space import (
    VACANCY,
    CompositionPoint,
    Sublattice,
    check_distinct,
    site_counts,
    sublattice_sites,
)

logger = logging.getLogger(__name__)

Supercell = tuple[int, int, int]


def _simplex(sublattice: Sublattice) -> list[dict[str, Fraction]]:
    """Species fractions on the simplex at multiples of ``sublattice.step`` (or its points)."""
    if sublattice.step is None:
        return [dict(p) for p in sublattice.points or ()]
    n = int(1 / sublattice.step)
    k = len(sublattice.species)
    counts = (c for c in itertools.product(range(n, -1, -1), repeat=k) if sum(c) == n)
    return [
        {s: Fraction(c, n) for s, c in zip(sublattice.species, cs, strict=True)} for cs in counts
    ]


def _copied(
    occ: Mapping[str, Fraction], leader: Sublattice, follower: Sublattice
) -> dict[str, Fraction]:
    """The fractions ``occ`` of ``leader`` carried over to ``follower``'s species, in order."""
    return {
        mine: occ.get(theirs, Fraction(0))
        for mine, theirs in zip(follower.species, leader.species, strict=True)
    }


def composition_grid(sublattices: Sequence[Sublattice]) -> list[CompositionPoint]:
    """Every composition of the space: the cartesian product of each sublattice's points.

    A sublattice with ``follows`` adds no axis: it copies, species by species in order, the
    fractions of the sublattice it follows. Order is deterministic: sublattices in the given
    order, the first species of each sublattice running from 1 down to 0.

    Raises:
        SublatticeError: see :func:`enumerate.space.check_distinct`.
    """
    check_distinct(sublattices)
    free = {sl.name: sl for sl in sublattices if sl.follows is None}
    points: list[CompositionPoint] = []
    for combo in itertools.product(*(_simplex(sl) for sl in free.values())):
        chosen = dict(zip(free, combo, strict=True))
        points.append(
            CompositionPoint(
                {
                    sl.name: chosen[sl.name]
                    if sl.follows is None
                    else _copied(chosen[sl.follows], free[sl.follows], sl)
                    for sl in sublattices
                }
            )
        )
    names = [sl.name for sl in sublattices]
    logger.debug("composition grid: %d points over %s", len(points), names)
    return points


def _cell_amounts(
    point: CompositionPoint, parent: Structure, sublattices: Sequence[Sublattice]
) -> dict[str, Fraction]:
    """Species amounts per parent cell (vacancies included) after substitution."""
    counts = site_counts(parent, sublattices)
    substituted = {i for sl in sublattices for i in sublattice_sites(parent, sl)}
    amounts: dict[str, Fraction] = {}
    for i, site in enumerate(parent):
        if i not in substituted:
            amounts[site.specie.symbol] = amounts.get(site.specie.symbol, Fraction(0)) + 1
    for sl in sublattices:
        for species, fraction in point.occupation(sl).items():
            amounts[species] = amounts.get(species, Fraction(0)) + counts[sl.name] * fraction
    return amounts


def charge_of(
    point: CompositionPoint,
    parent: Structure,
    sublattices: Sequence[Sublattice],
    oxidation_states: Mapping[str, int],
) -> Fraction:
    """Net formal charge per parent cell (vacancies carry 0; unsubstituted sites keep theirs).

    Raises:
        OxidationStateError: an element has no entry in ``oxidation_states``.
    """
    total = Fraction(0)
    for species, amount in _cell_amounts(point, parent, sublattices).items():
        if species == VACANCY or amount == 0:
            continue
        if species not in oxidation_states:
            raise OxidationStateError(
                f"no oxidation state given for {species} (known: {dict(oxidation_states)})"
            )
        total += amount * oxidation_states[species]
    return total


def charge_neutral(
    points: Sequence[CompositionPoint],
    parent: Structure,
    sublattices: Sequence[Sublattice],
    oxidation_states: Mapping[str, int],
) -> list[CompositionPoint]:
    """The points whose parent cell is charge neutral, in their given order."""
    kept = [p for p in points if charge_of(p, parent, sublattices, oxidation_states) == 0]
    logger.debug("charge balance keeps %d of %d compositions", len(kept), len(points))
    return kept


def guess_oxidation_states(parent: Structure, sublattices: Sequence[Sublattice]) -> dict[str, int]:
    """Guess integer oxidation states for the parent's elements and every substituent.

    The parent's come from pymatgen's ``oxi_state_guesses`` (a single integer guess is
    required). A substituent takes the state of the element it replaces when that is one of
    its common states (isovalent substitution), else its only common state.

    Raises:
        OxidationStateError: no unique guess exists; pass the states explicitly instead.
    """
    formula = parent.composition.reduced_formula
    guesses = parent.composition.oxi_state_guesses()
    if len(guesses) != 1:
        raise OxidationStateError(
            f"cannot guess oxidation states of {formula}: pymatgen gives {len(guesses)}"
            f" candidates {list(guesses)}; give them explicitly"
        )
    states: dict[str, int] = {}
    for element, value in guesses[0].items():
        if abs(value - round(value)) > 1e-6:
            raise OxidationStateError(
                f"cannot guess oxidation states of {formula}: {element} would be {value:.3f}"
                " (mixed valence); give them explicitly"
            )
        states[element] = round(value)
    for sl in sublattices:
        replaced = parent[sublattice_sites(parent, sl)[0]].specie.symbol
        for species in sl.species:
            if species == VACANCY or species in states:
                continue
            common = Element(species).common_oxidation_states
            if states.get(replaced) in common:
                states[species] = states[replaced]
            elif len(common) == 1:
                states[species] = common[0]
            else:
                raise OxidationStateError(
                    f"cannot guess the oxidation state of {species} on sublattice {sl.name!r}"
                    f" (common states {list(common)}, replaced {replaced} is"
                    f" {states.get(replaced)}); give it explicitly"
                )
    return states


def _required_multiple(point: CompositionPoint, counts: Mapping[str, Fraction]) -> int:
    """Smallest number of parent cells in which every species count is an integer."""
    denominators = [
        (fraction * counts[name]).denominator
        for name, occ in point.fractions.items()
        for fraction in occ.values()
    ]
    return math.lcm(*denominators)


def _most_compact(n_cells: int, parent: Structure) -> Supercell:
    """Repetition (na, nb, nc) with na*nb*nc == n_cells that is closest to cubic.

    Maximises the smallest perpendicular width of the supercell (growing the thinnest
    directions first), then minimises the largest; ties favour growth along a, then b.
    """
    matrix = parent.lattice.matrix
    volume = abs(np.linalg.det(matrix))
    widths = [
        volume / np.linalg.norm(np.cross(matrix[j], matrix[k])) for j, k in ((1, 2), (2, 0), (0, 1))
    ]
    options = [
        (na, nb, n_cells // (na * nb))
        for na in range(1, n_cells + 1)
        if n_cells % na == 0
        for nb in range(1, n_cells // na + 1)
        if (n_cells // na) % nb == 0
    ]

    def key(reps: Supercell) -> tuple[float, float, tuple[int, ...]]:
        sizes = [round(n * w, 6) for n, w in zip(reps, widths, strict=True)]
        return (-min(sizes), max(sizes), tuple(-n for n in reps))

    return min(options, key=key)


def most_compact_supercell(n_cells: int, parent: Structure) -> Supercell:
    """The repetition of ``parent`` into ``n_cells`` cells that is closest to cubic."""
    return _most_compact(n_cells, parent)


def smallest_realising_supercell(
    point: CompositionPoint, parent: Structure, sublattices: Sequence[Sublattice]
) -> Supercell:
    """Smallest, then most nearly cubic, repetition of ``parent`` with integer species counts."""
    counts = {k: Fraction(v) for k, v in site_counts(parent, sublattices).items()}
    for sl in sublattices:
        point.occupation(sl)
    return _most_compact(_required_multiple(point, counts), parent)


def check_realisable(
    point: CompositionPoint,
    site_counts_in_supercell: Mapping[str, int],
    supercell: Supercell,
    parent: Structure,
) -> None:
    """Check that ``point`` gives an integer number of each species in the supercell.

    ``site_counts_in_supercell`` maps sublattice name to its number of sites in the
    ``supercell`` repetition of ``parent``.

    Raises:
        UnrealisableCompositionError: names the first fractional count and suggests the
            smallest supercell that realises the composition.
    """
    for name, occ in point.fractions.items():
        if name not in site_counts_in_supercell:
            raise CompositionError(
                f"composition {point.label()} refers to unknown sublattice {name!r}"
            )
        n_sites = site_counts_in_supercell[name]
        for species, fraction in occ.items():
            if (fraction * n_sites).denominator == 1:
                continue
            n_cells = math.prod(supercell)
            per_cell = {k: Fraction(v, n_cells) for k, v in site_counts_in_supercell.items()}
            best = _most_compact(_required_multiple(point, per_cell), parent)
            raise UnrealisableCompositionError(
                f"composition {point.label()} is not realisable in a"
                f" {'x'.join(map(str, supercell))} supercell: {species} at {fraction} of the"
                f" {n_sites} {name!r} sites is {float(fraction * n_sites):g} atoms;"
                f" the smallest supercell that realises it is {list(best)}"
            )


def formula_of(
    point: CompositionPoint, parent: Structure, sublattices: Sequence[Sublattice]
) -> str:
    """pymatgen reduced formula of the substituted parent cell, vacancies removed."""
    amounts = {
        s: a for s, a in _cell_amounts(point, parent, sublattices).items() if s != VACANCY and a
    }
    scale = math.lcm(*(a.denominator for a in amounts.values()))
    return Composition({s: int(a * scale) for s, a in amounts.items()}).reduced_formula
