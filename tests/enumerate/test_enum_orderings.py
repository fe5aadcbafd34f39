"""Symmetry-distinct orderings with icet: fcc and rock-salt counts, restrictions, vacancies."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pytest
from pymatgen.core import Structure

from enumerate.errors import OrderingError, TooManyOrderingsError
from enumerate.orderings import Ordering, enumerate_orderings
from enumerate.prototypes import build_prototype
from enumerate.space import Sublattice

QUARTER = Fraction(1, 4)
HALF = Fraction(1, 2)
# Distinct binary fcc orderings per cell size (1-8 sites), superperiodic cells excluded, so
# the two pure cells are counted at size 1 only (Hart & Forcade, PRB 77, 224115 (2008)).
FCC_PER_SIZE = [2, 2, 6, 19, 28, 80, 104, 390]
# Those at exactly half filling. Swapping the two species maps x to 1 - x, so at size 4 the
# 19 split 7 (x=1/4) + 5 + 7; at size 2 the two are L1_0 (CuAu) and L1_1 (CuPt).
FCC_HALF_PER_SIZE = {2: 2, 4: 5, 6: 20, 8: 94}


def _per_size(orderings: list[Ordering]) -> dict[int, int]:
    return dict(sorted(Counter(o.n_sites for o in orderings).items()))


def _per_size_and_point(orderings: list[Ordering]) -> Counter[tuple[int, str]]:
    return Counter((o.n_sites, o.point.to_json()) for o in orderings)


@pytest.fixture(scope="module")
def fcc() -> Structure:
    return build_prototype("Cu-fcc")


@pytest.fixture(scope="module")
def binary(fcc: Structure) -> list[Ordering]:
    space = [Sublattice("metal", "Cu", ("Au", "Cu"), step=QUARTER)]
    return enumerate_orderings(fcc, space, max_sites=8)


def test_binary_fcc_counts_per_size(binary: list[Ordering]) -> None:
    assert list(_per_size(binary).values()) == FCC_PER_SIZE
    assert [o.index for o in binary] == list(range(len(binary)))
    pure = [o for o in binary if len(o.point.fractions["metal"]) == 1]
    assert sorted(o.structure.composition.reduced_formula for o in pure) == ["Au", "Cu"]
    assert all(o.n_sites == 1 for o in pure)
    for o in binary:
        au = o.point.fractions["metal"].get("Au", 0)
        assert o.structure.composition["Au"] == au * o.n_sites


def test_half_filling_restriction(fcc: Structure, binary: list[Ordering]) -> None:
    space = [Sublattice("metal", "Cu", ("Au", "Cu"), step=QUARTER)]
    half = enumerate_orderings(
        fcc, space, max_sites=8, restrictions={"metal": {"Au": (HALF, HALF)}}
    )
    assert _per_size(half) == FCC_HALF_PER_SIZE
    filtered = [o for o in binary if o.point.fractions["metal"].get("Au") == HALF]
    assert _per_size_and_point(half) == _per_size_and_point(filtered)
    low = enumerate_orderings(fcc, space, max_sites=4, restrictions={"metal": {"Au": (0, 0.25)}})
    assert _per_size(low) == {1: 1, 4: 7}  # pure Cu and the seven Cu3Au orderings


def test_vacancies_count_as_a_species(fcc: Structure) -> None:
    space = [Sublattice("metal", "Cu", ("Cu", "vacancy"), step=QUARTER)]
    orderings = enumerate_orderings(fcc, space, max_sites=8)
    # as for the binary, less the empty primitive cell
    assert list(_per_size(orderings).values()) == [1, *FCC_PER_SIZE[1:]]
    for o in orderings:
        vacant = o.point.fractions["metal"].get("vacancy", 0) * o.n_sites
        assert len(o.structure) == o.n_sites - vacant
        assert o.structure.composition.elements[0].symbol == "Cu"


def test_rock_salt_cation_vacancies() -> None:
    parent = build_prototype("LiCl")  # Cl fixed, so the cation fcc keeps its full symmetry
    space = [Sublattice("cation", "Li", ("Li", "vacancy"), step=QUARTER)]
    orderings = enumerate_orderings(parent, space, max_sites=8)
    assert _per_size(orderings) == {2: 2, 4: 2, 6: 6, 8: 19}
    assert all(o.structure.composition["Cl"] * 2 == o.n_sites for o in orderings)


def test_restriction_counts_fixed_sites_of_the_same_element() -> None:
    # Li on the anion sites is the icet symbol of the fixed cation sites too.
    parent = build_prototype("LiCl")
    space = [Sublattice("anion", "Cl", ("Cl", "Li"), step=QUARTER)]
    half = enumerate_orderings(
        parent, space, max_sites=8, restrictions={"anion": {"Li": (HALF, HALF)}}
    )
    assert _per_size(half) == {2 * n: c for n, c in FCC_HALF_PER_SIZE.items() if n <= 4}
    assert all(o.structure.composition.as_dict() == {"Li": 3, "Cl": 1} for o in half[:2])


def test_two_sublattices_restricted_equals_filtered() -> None:
    parent = build_prototype("LiCl")
    space = [
        Sublattice("cation", "Li", ("Li", "vacancy"), step=QUARTER),
        Sublattice("anion", "Cl", ("Br", "Cl"), step=QUARTER),
    ]
    everything = enumerate_orderings(parent, space, max_sites=6)
    restrictions = {"cation": {"vacancy": (0, HALF)}, "anion": {"Br": (HALF, HALF)}}
    restricted = enumerate_orderings(parent, space, max_sites=6, restrictions=restrictions)

    def keep(o: Ordering) -> bool:
        fractions = o.point.fractions
        return (
            fractions["cation"].get("vacancy", 0) <= HALF and fractions["anion"].get("Br") == HALF
        )

    filtered = [o for o in everything if keep(o)]
    assert _per_size_and_point(restricted) == _per_size_and_point(filtered)
    assert 0 < len(restricted) < len(everything)


def test_cap_names_the_count_and_a_smaller_size(fcc: Structure) -> None:
    space = [Sublattice("metal", "Cu", ("Au", "Cu"), step=QUARTER)]
    with pytest.raises(TooManyOrderingsError, match=r"more than 100 .* lower max_sites to 5 \(57"):
        enumerate_orderings(fcc, space, max_sites=8, max_structures=100)


def test_bad_requests_are_refused(fcc: Structure) -> None:
    li3incl6 = build_prototype("Li3InCl6")
    metal = [Sublattice("metal", "In", ("In", "Y"), step=HALF)]
    with pytest.raises(OrderingError, match="below the 10 sites"):
        enumerate_orderings(li3incl6, metal, max_sites=8)
    with pytest.raises(OrderingError, match="does not allow"):
        enumerate_orderings(li3incl6, metal, max_sites=10, restrictions={"metal": {"Sc": (0, 1)}})
    with pytest.raises(OrderingError, match="unknown sublattice"):
        enumerate_orderings(li3incl6, metal, max_sites=10, restrictions={"X": {"In": (0, 1)}})
