"""Built-in prototypes and parent loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from enumerate.errors import EnumerationError, PrototypeError
from enumerate.prototypes import PROTOTYPES, build_prototype, load_parent, prototype_names
from enumerate.space import SITE_LABEL


def test_registry_names_and_sources() -> None:
    assert prototype_names() == [
        "Li3InCl6",
        "Na4Zr2Si3O12",
        "LiGa",
        "beta-Li3PS4",
        "LiCl",
        "LiBr",
        "Cu-fcc",
        "Au-fcc",
    ]
    assert all(PROTOTYPES[name].source for name in prototype_names())


@pytest.mark.parametrize(
    ("name", "number", "abc", "angles", "formula"),
    [
        ("Na4Zr2Si3O12", 167, (9.1863, 9.1863, 22.181), (90, 90, 120), "Na24 Zr12 Si18 O72"),
        ("LiGa", 227, (6.17, 6.17, 6.17), (90, 90, 90), "Li8 Ga8"),
    ],
)
def test_published_cell_and_space_group(
    name: str,
    number: int,
    abc: tuple[float, float, float],
    angles: tuple[float, float, float],
    formula: str,
) -> None:
    s = build_prototype(name)
    assert s.composition.formula == formula
    assert SpacegroupAnalyzer(s, symprec=1e-3).get_space_group_number() == number
    np.testing.assert_allclose(s.lattice.abc, abc, atol=1e-6)
    np.testing.assert_allclose(s.lattice.angles, angles, atol=1e-6)
    assert (s.distance_matrix + 10 * np.eye(len(s))).min() > 1.55


def test_nasicon_sites_and_polyhedra() -> None:
    s = build_prototype("Na4Zr2Si3O12")
    labels = s.site_properties[SITE_LABEL]
    counts = {label: labels.count(label) for label in set(labels)}
    assert counts == {"Na1": 6, "Na2": 18, "Zr1": 12, "Si1": 18, "O1": 36, "O2": 36}
    wyckoff = SpacegroupAnalyzer(s, symprec=1e-3).get_symmetrized_structure().wyckoff_symbols
    assert sorted(wyckoff) == ["12c", "18e", "18e", "36f", "36f", "6b"]
    # Na1 octahedral, Zr octahedral, Si tetrahedral, all to O at refined distances (Å)
    for label, n_o, low, high in (
        ("Na1", 6, 2.5, 2.52),
        ("Zr1", 6, 1.87, 2.11),
        ("Si1", 4, 1.62, 1.73),
    ):
        site = s[labels.index(label)]
        shell = s.get_neighbors(site, high + 0.05)
        assert len(shell) == n_o
        assert {n.specie.symbol for n in shell} == {"O"}
        assert all(low <= n.nn_distance <= high for n in shell)


def test_liga_is_natl_type() -> None:
    s = build_prototype("LiGa")
    nearest = 6.17 * np.sqrt(3) / 4
    for site in s:
        shell = s.get_neighbors(site, nearest + 0.01)
        assert sorted(n.specie.symbol for n in shell) == ["Ga"] * 4 + ["Li"] * 4
    wyckoff = SpacegroupAnalyzer(s).get_symmetrized_structure().wyckoff_symbols
    assert sorted(wyckoff) == ["8a", "8b"]


def test_beta_li3ps4_cell_and_sites() -> None:
    s = build_prototype("beta-Li3PS4")
    assert s.composition.formula == "Li16 P4 S16"  # every published Li site filled
    analyzer = SpacegroupAnalyzer(s, symprec=1e-3)
    assert analyzer.get_space_group_symbol() == "Pnma"
    np.testing.assert_allclose(s.lattice.abc, (12.8190, 8.2195, 6.1236), atol=1e-6)
    np.testing.assert_allclose(s.lattice.angles, (90, 90, 90), atol=1e-6)
    labels = s.site_properties[SITE_LABEL]
    counts = {label: labels.count(label) for label in set(labels)}
    assert counts == {"Li1": 8, "Li2": 4, "Li3": 4, "P1": 4, "S1": 8, "S2": 4, "S3": 4}
    wyckoff = analyzer.get_symmetrized_structure().wyckoff_symbols
    assert sorted(wyckoff) == ["4b", "4c", "4c", "4c", "4c", "8d", "8d"]


def test_beta_li3ps4_ordered_model_is_sound() -> None:
    s = build_prototype("beta-Li3PS4")
    labels = s.site_properties[SITE_LABEL]
    s.remove_sites([i for i, label in enumerate(labels) if label == "Li3"])
    assert s.composition.formula == "Li12 P4 S16"  # Li1 + Li2: Li3PS4, Z = 4
    assert SpacegroupAnalyzer(s, symprec=1e-3).get_space_group_number() == 62
    assert (s.distance_matrix + 10 * np.eye(len(s))).min() > 2.0
    for site in s:
        if site.specie.symbol == "P":  # isolated PS4 tetrahedra, P-S 2.01-2.07 Å
            shell = s.get_neighbors(site, 2.6)
            assert sorted(n.specie.symbol for n in shell) == ["S"] * 4
            assert all(2.0 < n.nn_distance < 2.1 for n in shell)
        elif site.specie.symbol == "Li":
            assert min(n.nn_distance for n in s.get_neighbors(site, 3.0)) > 2.15


def test_beta_li3ps4_li3_contact_is_as_published() -> None:
    # The published Li3 (4c, occupancy 0.30) is 1.42 Å from S3: documented in the source.
    s = build_prototype("beta-Li3PS4")
    labels = s.site_properties[SITE_LABEL]
    li3 = [s[i] for i, label in enumerate(labels) if label == "Li3"]
    nearest = [min(n.nn_distance for n in s.get_neighbors(site, 2.0)) for site in li3]
    np.testing.assert_allclose(nearest, 1.42, atol=0.01)
    assert "1.42" in PROTOTYPES["beta-Li3PS4"].source


def test_labels_survive_supercells() -> None:
    s = build_prototype("Na4Zr2Si3O12").make_supercell([1, 1, 2], in_place=False)
    assert s.site_properties[SITE_LABEL].count("Na2") == 36


def test_li3incl6_cell_and_symmetry() -> None:
    s = build_prototype("Li3InCl6")
    assert len(s) == 20
    assert s.composition.formula == "Li6 In2 Cl12"
    analyzer = SpacegroupAnalyzer(s)
    assert analyzer.get_space_group_symbol() == "C2/m"
    assert analyzer.get_space_group_number() == 12
    np.testing.assert_allclose(s.lattice.abc, (6.41, 11.10, 6.39), atol=1e-6)
    np.testing.assert_allclose(s.lattice.angles, (90.0, 109.8, 90.0), atol=1e-6)


def test_li3incl6_octahedra() -> None:
    s = build_prototype("Li3InCl6")
    distances = s.distance_matrix + np.eye(len(s)) * 100
    assert distances.min() > 2.3
    bounds = {"In": (2.5, 2.6), "Li": (2.5, 2.7)}
    for site in s:
        if site.specie.symbol == "Cl":
            continue
        shell = s.get_neighbors(site, 3.2)
        assert len(shell) == 6
        assert {n.specie.symbol for n in shell} == {"Cl"}
        low, high = bounds[site.specie.symbol]
        assert all(low <= n.nn_distance <= high for n in shell)


@pytest.mark.parametrize(
    ("name", "a", "n_atoms"),
    [("LiCl", 5.13, 8), ("LiBr", 5.50, 8), ("Cu-fcc", 3.615, 4), ("Au-fcc", 4.078, 4)],
)
def test_cubic_references(name: str, a: float, n_atoms: int) -> None:
    s = build_prototype(name)
    assert len(s) == n_atoms
    assert SpacegroupAnalyzer(s).get_space_group_symbol() == "Fm-3m"
    np.testing.assert_allclose(s.lattice.abc, (a, a, a))


def test_names_are_case_insensitive() -> None:
    assert build_prototype("cu-FCC") == build_prototype("Cu-fcc")
    assert load_parent("li3incl6") == build_prototype("Li3InCl6")


def test_unknown_prototype_lists_available() -> None:
    with pytest.raises(PrototypeError, match="unknown prototype 'Li3YCl6'") as info:
        build_prototype("Li3YCl6")
    message = str(info.value)
    assert "\n" not in message
    assert all(name in message for name in prototype_names())
    assert isinstance(info.value, EnumerationError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("filename", ["parent.cif", "POSCAR"])
def test_load_parent_from_file(tmp_path: Path, filename: str) -> None:
    reference = build_prototype("Li3InCl6")
    path = tmp_path / filename
    if filename.endswith(".cif"):
        CifWriter(reference).write_file(path)
    else:
        reference.to(filename=str(path), fmt="poscar")
    loaded = load_parent(str(path))
    assert loaded.composition == reference.composition
    assert SpacegroupAnalyzer(loaded).get_space_group_number() == 12


def test_cif_labels_become_site_labels(tmp_path: Path) -> None:
    path = tmp_path / "nasicon.cif"
    CifWriter(build_prototype("Na4Zr2Si3O12"), symprec=1e-3).write_file(path)
    labels = load_parent(str(path)).site_properties[SITE_LABEL]
    na = sorted(labels.count(label) for label in set(labels) if label.startswith("Na"))
    assert na == [6, 18]


def test_load_parent_strips_oxidation_states(tmp_path: Path) -> None:
    decorated = build_prototype("LiCl")
    decorated.add_oxidation_state_by_element({"Li": 1, "Cl": -1})
    path = tmp_path / "licl.json"
    decorated.to(filename=str(path))
    assert {site.species_string for site in load_parent(str(path))} == {"Li", "Cl"}


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.cif"
    with pytest.raises(PrototypeError, match="neither a built-in prototype") as info:
        load_parent(str(missing))
    assert str(missing) in str(info.value)


def test_unparsable_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.cif"
    path.write_text("this is not\na crystal\n")
    with pytest.raises(PrototypeError, match="cannot read parent file") as info:
        load_parent(str(path))
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_disordered_cif_is_refused(tmp_path: Path) -> None:
    disordered = Structure(
        build_prototype("Cu-fcc").lattice,
        [{"Cu": 0.5, "Au": 0.5}] * 4,
        build_prototype("Cu-fcc").frac_coords,
    )
    path = tmp_path / "cuau.cif"
    CifWriter(disordered).write_file(path)
    with pytest.raises(PrototypeError, match="partially occupied"):
        load_parent(str(path))
