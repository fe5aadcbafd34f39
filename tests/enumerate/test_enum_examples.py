"""The example campaigns in examples/: each validates and its grid is the chemistry's."""

from __future__ import annotations

import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from pymatgen.core import Composition, Element

from enumerate import grid, sqs
from enumerate.errors import SublatticeError
from enumerate.space import SITE_LABEL, CompositionPoint, Sublattice, sublattice_sites
from screening.campaign import CampaignPlan, load_plan, parse_campaign, plan_campaign
from screening.errors import CampaignError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HALF = Fraction(1, 2)


def per_formula_unit(
    plan: CampaignPlan, point: CompositionPoint, unit: str, n: int
) -> dict[str, Fraction]:
    """Species counts of ``point`` scaled so that element ``unit`` counts ``n``."""
    composition = Composition(grid.formula_of(point, plan.parent, plan.sublattices))
    scale = Fraction(n) / Fraction(composition[unit]).limit_denominator(1000)
    return {
        str(el): Fraction(amount).limit_denominator(1000) * scale
        for el, amount in composition.items()
    }


@pytest.fixture(scope="module")
def nasicon() -> CampaignPlan:
    return load_plan(EXAMPLES / "nasicon.toml")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_example_validates(path: Path) -> None:
    assert load_plan(path).compositions


def test_nasicon_na_is_one_plus_si(nasicon: CampaignPlan) -> None:
    xs = []
    for point in nasicon.compositions:
        fu = per_formula_unit(nasicon, point, "Zr", 2)
        si = fu.get("Si", Fraction(0))
        assert fu["Na"] == 1 + si
        assert fu.get("P", Fraction(0)) == 3 - si
        assert fu["O"] == 12
        assert (
            grid.charge_of(point, nasicon.parent, nasicon.sublattices, nasicon.oxidation_states)
            == 0
        )
        xs.append(si)
    # x = 0, 1/2, ..., 3; Na1 full or half empty for each x, except x = 3 (all Na sites full)
    assert sorted(set(xs)) == [Fraction(k, 2) for k in range(7)]
    assert [xs.count(Fraction(k, 2)) for k in range(7)] == [2, 2, 2, 2, 2, 2, 1]


def test_nasicon_na_sites_are_addressed_by_label(nasicon: CampaignPlan) -> None:
    by_name = {sl.name: sl for sl in nasicon.sublattices}
    labels = nasicon.supercell.site_properties[SITE_LABEL]
    for name, label, n_sites in (("na1", "Na1", 6), ("na2", "Na2", 18)):
        indices = sublattice_sites(nasicon.supercell, by_name[name])
        assert len(indices) == n_sites
        assert {labels[i] for i in indices} == {label}
    na1 = {p.fractions["na1"].get("Na") for p in nasicon.compositions}
    assert na1 == {Fraction(1), Fraction(1, 2)}


def test_oxidation_guess_sees_the_element_behind_a_label(nasicon: CampaignPlan) -> None:
    # Tl (common states 1 and 3) takes the +1 of the Na behind the label Na2
    space = [
        Sublattice("na2", "Na2", ("Tl", "vacancy"), step=Fraction(1, 2)),
        Sublattice("tetra", "Si", ("Ge", "Si"), step=Fraction(1, 2)),
    ]
    states = grid.guess_oxidation_states(nasicon.parent, space)
    assert states == {"Na": 1, "Zr": 4, "Si": 4, "O": -2, "Tl": 1, "Ge": 4}


def test_nasicon_sqs_has_the_coupled_counts(nasicon: CampaignPlan) -> None:
    point = next(
        p
        for p in nasicon.compositions
        if p.fractions["tetra"].get("Si") == Fraction(2, 3) and p.fractions["na1"] == {"Na": 1}
    )
    result = sqs.generate_sqs(nasicon.supercell, nasicon.sublattices, point, seed=1, n_steps=50)
    assert result.structure.composition.formula == "Na18 Zr12 Si12 P6 O72"  # Na3Zr2Si2PO12, Z = 6


def test_liga_is_a_fixed_stoichiometry() -> None:
    plan = load_plan(EXAMPLES / "liga.toml")
    assert len(plan.parent) == 16
    assert [grid.formula_of(p, plan.parent, plan.sublattices) for p in plan.compositions] == [
        "LiGa"
    ]


@pytest.fixture(scope="module")
def lpgso() -> CampaignPlan:
    return load_plan(EXAMPLES / "lpgso.toml")


def test_lpgso_li_is_three_plus_ge_and_o_is_four_ge(lpgso: CampaignPlan) -> None:
    xs = []
    for point in lpgso.compositions:
        cell = Composition(grid.formula_of(point, lpgso.parent, lpgso.sublattices))
        per_fu = {el: Fraction(n).limit_denominator(1000) for el, n in cell.items()}
        scale = per_fu[Element("P")] + per_fu.get(Element("Ge"), Fraction(0))
        fu = {str(el): n / scale for el, n in per_fu.items()}
        x = fu.get("Ge", Fraction(0))
        assert fu["Li"] == 3 + x
        assert fu.get("O", Fraction(0)) == 4 * x
        assert fu["S"] == 4 - 4 * x
        assert fu["P"] == 1 - x
        assert grid.charge_of(point, lpgso.parent, lpgso.sublattices, lpgso.oxidation_states) == 0
        xs.append(x)
    assert xs == [Fraction(k, 8) for k in range(5)]


def test_lpgso_extra_li_goes_to_li3_and_o_follows_ge(lpgso: CampaignPlan) -> None:
    for point in lpgso.compositions:
        ge = point.fractions["tetra"].get("Ge", Fraction(0))
        assert point.fractions["anion"].get("O", Fraction(0)) == ge
        assert point.fractions["li3"].get("Li", Fraction(0)) == ge  # 8 Li3 sites, 8 P sites
    by_name = {sl.name: sl for sl in lpgso.sublattices}
    assert len(sublattice_sites(lpgso.supercell, by_name["li3"])) == 8
    assert lpgso.supercell.composition.formula == "Li32 P8 S32"


def test_lpgso_sqs_has_the_coupled_counts(lpgso: CampaignPlan) -> None:
    point = lpgso.compositions[2]  # x = 1/4 in the 1x1x2 cell: 2 Ge, 8 O, 2 Li on Li3
    result = sqs.generate_sqs(lpgso.supercell, lpgso.sublattices, point, seed=1, n_steps=50)
    assert result.structure.composition.formula == "Li26 Ge2 P6 S24 O8"


def anion(**changes: Any) -> Sublattice:
    """The LPGSO anion sublattice, S/O following 'tetra' (P/Ge), with ``changes``."""
    fields: dict[str, Any] = {"replaces": "S", "species": ("S", "O"), "follows": "tetra"}
    return Sublattice("anion", **(fields | changes))


def test_follows_copies_fractions_in_species_order() -> None:
    space = [anion(), Sublattice("tetra", "P", ("P", "Ge"), step=HALF)]
    points = grid.composition_grid(space)
    assert [p.fractions for p in points] == [
        {"anion": {"S": 1}, "tetra": {"P": 1}},
        {"anion": {"O": HALF, "S": HALF}, "tetra": {"Ge": HALF, "P": HALF}},
        {"anion": {"O": 1}, "tetra": {"Ge": 1}},
    ]


@pytest.mark.parametrize(
    ("follower", "message"),
    [
        ({"follows": "nowhere"}, "not a sublattice"),
        ({"follows": "chained"}, "itself follows"),
        ({"species": ("S", "O", "Se")}, "differ in number"),
    ],
)
def test_follows_must_name_a_free_sublattice_of_equal_size(
    follower: dict[str, Any], message: str
) -> None:
    space = [
        Sublattice("tetra", "P", ("P", "Ge"), step=HALF),
        Sublattice("chained", "Li", ("Li", "vacancy"), follows="tetra"),
        anion(**follower),
    ]
    with pytest.raises(SublatticeError, match=message):
        grid.composition_grid(space)


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"step": HALF}, "follows excludes step and points"), ({"follows": "anion"}, "another")],
)
def test_follows_alone_and_not_itself(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(SublatticeError, match=message):
        anion(**extra)


@pytest.mark.parametrize(
    ("anion", "message"),
    [
        (
            {"follows": "tetra", "step": 0.5},
            r"sublattices\.anion: .*exactly one of 'step', 'points' or 'follows'",
        ),
        (
            {"follows": "tetrahedra"},
            r"sublattices: sublattice 'anion' follows 'tetrahedra', which is not",
        ),
    ],
)
def test_campaign_refuses_a_bad_follows(anion: dict[str, Any], message: str) -> None:
    data = tomllib.loads((EXAMPLES / "lpgso.toml").read_text())
    data["sublattices"]["anion"] = {"replaces": "S", "species": ["S", "O"]} | anion
    with pytest.raises(CampaignError, match=message):
        plan_campaign(parse_campaign(data), EXAMPLES)


def nasicon_data(**sublattices: dict[str, object]) -> dict[str, Any]:
    data = tomllib.loads((EXAMPLES / "nasicon.toml").read_text())
    data["sublattices"].update(sublattices)
    return data


def test_unknown_site_label_is_refused() -> None:
    data = nasicon_data(na2={"replaces": "Na3", "species": ["Na", "vacancy"], "step": 0.5})
    with pytest.raises(CampaignError, match=r"sublattices\.na2\.replaces: .*no Na3 site") as info:
        plan_campaign(parse_campaign(data), EXAMPLES)
    assert "site labels Na1, Na2, O1, O2, Si1, Zr1" in str(info.value)


def test_overlapping_sublattices_are_refused() -> None:
    data = nasicon_data(na={"replaces": "Na", "species": ["Na", "vacancy"], "step": 0.5})
    with pytest.raises(CampaignError, match="select the same parent sites"):
        plan_campaign(parse_campaign(data), EXAMPLES)


@pytest.mark.parametrize("replaces", ["", "Na 1", "1Na"])
def test_malformed_replaces_is_refused(replaces: str) -> None:
    data = nasicon_data(na2={"replaces": replaces, "species": ["Na", "vacancy"], "step": 0.5})
    with pytest.raises(CampaignError, match="neither an element nor a site label"):
        parse_campaign(data)
