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


def test_registry_names_and_sources() -> None:
    assert prototype_names() == ["Li3InCl6", "LiCl", "LiBr", "Cu-fcc", "Au-fcc"]
    assert all(PROTOTYPES[name].source for name in prototype_names())


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
