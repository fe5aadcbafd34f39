"""SQS generation with icet on small Li3InCl6 supercells."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pymatgen.core import Structure

from enumerate import sqs
from enumerate.errors import UnrealisableCompositionError
from enumerate.prototypes import build_prototype
from enumerate.space import CompositionPoint, Sublattice

HALF = Fraction(1, 2)
SPACE = [
    Sublattice("metal", "In", ("In", "Y"), step=HALF),
    Sublattice("halide", "Cl", ("Br", "Cl"), step=HALF),
]
MIXED = CompositionPoint({"metal": {"In": HALF, "Y": HALF}, "halide": {"Br": HALF, "Cl": HALF}})


@pytest.fixture(scope="module")
def parent() -> Structure:
    return build_prototype("Li3InCl6")


@pytest.fixture(scope="module")
def cell_211(parent: Structure) -> Structure:
    supercell = parent.copy()
    supercell.make_supercell([2, 1, 1])
    return supercell


def test_sqs_beats_random_with_exact_counts(cell_211: Structure) -> None:
    assert len(cell_211) == 40
    result = sqs.generate_sqs(cell_211, SPACE, MIXED, seed=7)
    assert result.structure.composition.as_dict() == {
        "Li": 12,
        "In": 2,
        "Y": 2,
        "Br": 12,
        "Cl": 12,
    }
    assert result.structure.lattice == cell_211.lattice
    assert (result.seed, result.n_steps, result.cutoffs) == (7, 3000, (6.0,))
    random = sqs.random_occupation(cell_211, SPACE, MIXED, seed=7)
    assert random.structure.composition == result.structure.composition
    assert random.n_steps == 0
    assert result.objective < random.objective


def test_sqs_is_reproducible(cell_211: Structure) -> None:
    first = sqs.generate_sqs(cell_211, SPACE, MIXED, seed=3, n_steps=300)
    second = sqs.generate_sqs(cell_211, SPACE, MIXED, seed=3, n_steps=300)
    assert first.structure == second.structure
    assert first.objective == second.objective


def test_vacancies_are_removed(cell_211: Structure) -> None:
    space = [Sublattice("mobile", "Li", ("Li", "vacancy"), step=Fraction(1, 6))]
    point = CompositionPoint({"mobile": {"Li": Fraction(5, 6), "vacancy": Fraction(1, 6)}})
    result = sqs.generate_sqs(cell_211, space, point, seed=1, n_steps=500)
    assert len(result.structure) == 38
    assert result.structure.composition.as_dict() == {"Li": 10, "In": 4, "Cl": 24}


def test_species_shared_by_two_sublattices(cell_211: Structure) -> None:
    space = [
        Sublattice("metal", "In", ("In", "Li"), step=HALF),
        Sublattice("mobile", "Li", ("Li", "vacancy"), step=Fraction(1, 6)),
    ]
    point = CompositionPoint(
        {
            "metal": {"In": HALF, "Li": HALF},
            "mobile": {"Li": Fraction(5, 6), "vacancy": Fraction(1, 6)},
        }
    )
    result = sqs.generate_sqs(cell_211, space, point, seed=2, n_steps=500)
    assert result.structure.composition.as_dict() == {"Li": 12, "In": 2, "Cl": 24}
    metal_sites = [
        s for s in result.structure if abs(s.frac_coords[2]) < 1e-6 and s.specie.symbol != "Cl"
    ]
    assert sorted(s.specie.symbol for s in metal_sites) == ["In", "In", "Li", "Li"]


def test_pure_composition_skips_annealing(parent: Structure) -> None:
    point = CompositionPoint({"metal": {"Y": 1}, "halide": {"Br": 1}})
    result = sqs.generate_sqs(parent, SPACE, point, seed=0)
    assert (result.objective, result.n_steps, result.cutoffs) == (0.0, 0, ())
    assert result.structure.composition.reduced_formula == "Li3YBr6"
    assert result.structure.frac_coords.tolist() == parent.frac_coords.tolist()


def test_cutoff_is_clipped_to_the_supercell(parent: Structure) -> None:
    point = CompositionPoint({"metal": {"In": 1}, "halide": {"Br": HALF, "Cl": HALF}})
    result = sqs.generate_sqs(
        parent, SPACE, point, seed=0, n_steps=100, pair_cutoff=9.0, triplet_cutoff=4.0
    )
    limit = sqs.shortest_image_distance(parent)
    assert limit == pytest.approx(6.39)
    assert result.cutoffs[0] < limit
    assert result.cutoffs[0] > limit - 0.1
    assert result.cutoffs[1] == 4.0


def test_unrealisable_point_is_refused(parent: Structure) -> None:
    point = CompositionPoint({"metal": {"In": 0.75, "Y": 0.25}, "halide": {"Cl": 1}})
    space = [Sublattice("metal", "In", ("In", "Y"), step=Fraction(1, 4)), SPACE[1]]
    with pytest.raises(UnrealisableCompositionError, match=r"\[1, 1, 2\]"):
        sqs.generate_sqs(parent, space, point, seed=0)
