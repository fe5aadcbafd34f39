"""Sublattices, composition grids, charge balance, realisability and formulas."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from pymatgen.core import Structure

from enumerate import grid
from enumerate.errors import (
    CompositionError,
    OxidationStateError,
    SublatticeError,
    UnrealisableCompositionError,
)
from enumerate.prototypes import build_prototype
from enumerate.space import CompositionPoint, Sublattice, site_counts, sublattice_sites

HALF = Fraction(1, 2)


@pytest.fixture(scope="module")
def parent() -> Structure:
    return build_prototype("Li3InCl6")


def demo_space(metal_step: Fraction = HALF) -> list[Sublattice]:
    return [
        Sublattice("metal", "In", ("In", "Y"), step=metal_step),
        Sublattice("halide", "Cl", ("Br", "Cl"), step=HALF),
    ]


def test_demo_space_has_nine_neutral_points(parent: Structure) -> None:
    space = demo_space()
    points = grid.composition_grid(space)
    assert len(points) == 9
    assert len(set(points)) == 9
    states = grid.guess_oxidation_states(parent, space)
    assert states == {"Li": 1, "In": 3, "Y": 3, "Cl": -1, "Br": -1}
    assert grid.charge_neutral(points, parent, space, states) == points
    formulas = [grid.formula_of(p, parent, space) for p in points]
    # pymatgen's reduced formula groups equal counts: Li6InYBr6Cl6 -> Li6YIn(BrCl)6
    assert formulas == [
        "Li3InBr6",
        "Li3In(BrCl)3",
        "Li3InCl6",
        "Li6YInBr12",
        "Li6YIn(BrCl)6",
        "Li6YInCl12",
        "Li3YBr6",
        "Li3Y(BrCl)3",
        "Li3YCl6",
    ]


def test_grid_order_and_label() -> None:
    points = grid.composition_grid(demo_space())
    assert points[0].fractions == {"metal": {"In": 1}, "halide": {"Br": 1}}
    assert points[4].label() == "metal: In0.5 Y0.5 | halide: Br0.5 Cl0.5"


def test_ternary_simplex() -> None:
    sl = Sublattice("a", "In", ("In", "Y", "Sc"), step=Fraction(1, 4))
    points = grid.composition_grid([sl])
    assert len(points) == 15  # C(4 + 2, 2)
    assert all(sum(p.fractions["a"].values()) == 1 for p in points)


def test_explicit_points() -> None:
    sl = Sublattice("a", "In", ("In", "Y"), points=({"In": 0.75, "Y": 0.25}, {"Y": 1}))
    points = grid.composition_grid([sl])
    assert [p.fractions["a"] for p in points] == [
        {"In": Fraction(3, 4), "Y": Fraction(1, 4)},
        {"Y": Fraction(1)},
    ]


def test_composition_point_json_is_canonical() -> None:
    a = CompositionPoint({"metal": {"Y": HALF, "In": HALF}, "halide": {"Cl": 1, "Br": 0}})
    b = CompositionPoint({"halide": {"Cl": Fraction(1)}, "metal": {"In": 0.5, "Y": 0.5}})
    assert a == b
    assert hash(a) == hash(b)
    assert a.to_json() == b.to_json() == '{"halide":{"Cl":1.0},"metal":{"In":0.5,"Y":0.5}}'
    assert json.loads(a.to_json()) == {"halide": {"Cl": 1.0}, "metal": {"In": 0.5, "Y": 0.5}}
    assert CompositionPoint.from_json(a.to_json()) == a
    with pytest.raises(CompositionError, match="sum to 1"):
        CompositionPoint({"metal": {"In": HALF}})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"species": ("In", "Y")}, "exactly one of step and points"),
        ({"species": ("In", "Y"), "step": HALF, "points": ({"In": 1},)}, "exactly one"),
        ({"species": ("In", "Y"), "step": Fraction(3, 10)}, "must divide 1"),
        ({"species": ("In", "Y"), "step": 0}, "must divide 1"),
        ({"species": ("In", "Y"), "points": ({"In": 0.5, "Y": 0.25},)}, "sum to 1"),
        ({"species": ("In", "Y"), "points": ({"Sc": 1},)}, "not among species"),
        ({"species": ("In", "Yy"), "step": HALF}, "neither elements nor 'vacancy'"),
        ({"species": ("In", "In"), "step": HALF}, "duplicates"),
    ],
)
def test_sublattice_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(SublatticeError, match=message):
        Sublattice(name="metal", replaces="In", **kwargs)


def test_duplicate_sublattices_refused() -> None:
    twice = [Sublattice("m", "In", ("In", "Y"), step=HALF)] * 2
    with pytest.raises(SublatticeError, match="same name"):
        grid.composition_grid(twice)


def test_sites_and_counts(parent: Structure) -> None:
    space = demo_space()
    assert site_counts(parent, space) == {"metal": 2, "halide": 12}
    assert all(parent[i].specie.symbol == "In" for i in sublattice_sites(parent, space[0]))
    with pytest.raises(SublatticeError, match=r"no Na site .*contains Cl, In, Li"):
        sublattice_sites(parent, Sublattice("m", "Na", ("Na", "vacancy"), step=HALF))


def test_charge_balance_with_vacancies(parent: Structure) -> None:
    space = [
        Sublattice("metal", "In", ("In", "Zr"), step=HALF),
        Sublattice("mobile", "Li", ("Li", "vacancy"), step=Fraction(1, 6)),
    ]
    points = grid.composition_grid(space)
    assert len(points) == 21
    states = grid.guess_oxidation_states(parent, space)
    assert states["Zr"] == 4
    neutral = grid.charge_neutral(points, parent, space, states)
    assert [p.label() for p in neutral] == [
        "metal: In1 | mobile: Li1",
        "metal: In0.5 Zr0.5 | mobile: Li0.833333 vacancy0.166667",
        "metal: Zr1 | mobile: Li0.666667 vacancy0.333333",
    ]
    assert grid.charge_of(points[0], parent, space, states) == 0
    assert grid.charge_of(points[1], parent, space, states) == -1  # one Li removed
    assert grid.formula_of(neutral[1], parent, space) == "Li5ZrInCl12"


def test_missing_oxidation_state(parent: Structure) -> None:
    point = grid.composition_grid(demo_space())[4]
    with pytest.raises(OxidationStateError, match="no oxidation state given for Y"):
        grid.charge_of(point, parent, demo_space(), {"Li": 1, "In": 3, "Cl": -1, "Br": -1})


def test_ambiguous_oxidation_state(parent: Structure) -> None:
    space = [Sublattice("mobile", "Li", ("Li", "Mn"), step=HALF)]
    with pytest.raises(OxidationStateError, match="oxidation state of Mn"):
        grid.guess_oxidation_states(parent, space)


def test_quarter_step_needs_a_supercell(parent: Structure) -> None:
    space = demo_space(metal_step=Fraction(1, 4))
    point = CompositionPoint({"metal": {"In": 0.75, "Y": 0.25}, "halide": {"Cl": 1}})
    counts = site_counts(parent, space)
    # a and c are nearly equal; c*sin(beta) is the thinner width, so c is doubled
    with pytest.raises(UnrealisableCompositionError, match=r"\[1, 1, 2\]") as info:
        grid.check_realisable(point, counts, (1, 1, 1), parent)
    message = str(info.value)
    assert "metal: In0.75 Y0.25" in message
    assert "1.5 atoms" in message
    assert message.endswith("the smallest supercell that realises it is [1, 1, 2]")
    assert grid.smallest_realising_supercell(point, parent, space) == (1, 1, 2)
    # the suggestion realises it, as does the other doubling [2, 1, 1] of the same size
    bigger = parent.copy()
    bigger.make_supercell([1, 1, 2])
    grid.check_realisable(point, site_counts(bigger, space), (1, 1, 2), parent)
    grid.check_realisable(point, {k: 2 * v for k, v in counts.items()}, (2, 1, 1), parent)


def test_supercell_suggestion_prefers_cubic_growth() -> None:
    rock_salt = build_prototype("LiCl")  # 4 Li sites per cubic cell
    space = [Sublattice("mobile", "Li", ("Li", "vacancy"), step=Fraction(1, 16))]
    eighth = CompositionPoint({"mobile": {"Li": Fraction(7, 8), "vacancy": Fraction(1, 8)}})
    sixteenth = CompositionPoint({"mobile": {"Li": Fraction(15, 16), "vacancy": Fraction(1, 16)}})
    assert grid.smallest_realising_supercell(eighth, rock_salt, space) == (2, 1, 1)
    assert grid.smallest_realising_supercell(sixteenth, rock_salt, space) == (2, 2, 1)


def test_point_must_match_sublattices(parent: Structure) -> None:
    point = CompositionPoint({"metal": {"Sc": 1}, "halide": {"Cl": 1}})
    with pytest.raises(CompositionError, match=r"puts \['Sc'\] on sublattice 'metal'"):
        grid.formula_of(point, parent, demo_space())
    with pytest.raises(CompositionError, match="no entry for sublattice 'halide'"):
        grid.formula_of(CompositionPoint({"metal": {"In": 1}}), parent, demo_space())
