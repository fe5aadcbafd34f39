"""Hop finding: symmetry classes counted by hand, and the cap on low-symmetry cells."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.neighborlist import neighbor_list
from pymatgen.core import Lattice, Structure

from screening.hops import HopError, HopSettings, InterstitialHop, find_hops, find_site_hops
from screening.interstitials import find_interstitials
from screening.structures import to_structure


def counts(structure: Structure, species: str, cutoff: float) -> list[tuple[int, int]]:
    """(multiplicity per site, hops in the cell) of each class, shortest first."""
    hop_set = find_hops(structure, HopSettings(mobile_species=species, cutoff_ang=cutoff))
    assert hop_set.grouping == "symmetry"
    assert not hop_set.skipped
    return [(c.multiplicity, len(c.members)) for c in hop_set.classes]


def test_fcc_nearest_neighbour_hop_is_one_class_of_twelve() -> None:
    conventional = to_structure(bulk("Cu", "fcc", a=3.6, cubic=True))
    hop_set = find_hops(conventional, HopSettings(mobile_species="Cu", cutoff_ang=3.0))
    assert hop_set.spacegroup == "Fm-3m"
    (only,) = hop_set.classes
    assert only.length_ang == pytest.approx(3.6 / np.sqrt(2))
    assert only.multiplicity == 12
    assert len(only.members) == 4 * 12 // 2  # 4 sites x 12 neighbours, each hop once
    primitive = to_structure(bulk("Cu", "fcc", a=3.6))
    assert counts(primitive, "Cu", 3.0) == [(12, 6)]
    assert counts(conventional, "Cu", 4.0) == [(12, 24), (6, 12)]  # 2nd neighbours at a


def test_relaxation_noise_keeps_the_symmetry() -> None:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)  # pure translations join in too
    atoms.positions += np.random.default_rng(1).normal(0.0, 0.01, atoms.positions.shape)
    hop_set = find_hops(to_structure(atoms), HopSettings(mobile_species="Cu", cutoff_ang=3.0))
    assert hop_set.spacegroup == "Fm-3m"
    assert [(c.multiplicity, len(c.members)) for c in hop_set.classes] == [(12, 32 * 6)]


def test_bcc_first_and_second_neighbours_and_tetragonal_splitting() -> None:
    bcc = Structure(Lattice.cubic(3.5), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert counts(bcc, "Li", 3.6) == [(8, 8), (6, 6)]
    # Stretching c splits the six 2nd-neighbour hops into four along a, b and two along c.
    bct = Structure(Lattice.tetragonal(3.5, 3.9), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert counts(bct, "Li", 4.0) == [(8, 8), (4, 4), (2, 2)]


def test_equal_lengths_split_by_symmetry_not_length() -> None:
    # Li on a simple cubic lattice (a = 3 Å) with Cl at (½, ½, 0): P4/mmm. The six 3 Å hops
    # are all equally long, but those along a and b pass Cl and those along c do not.
    cell = Structure(Lattice.cubic(3.0), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0]])
    hop_set = find_hops(cell, HopSettings(mobile_species="Li", cutoff_ang=3.5))
    assert hop_set.spacegroup == "P4/mmm"
    assert [(c.multiplicity, len(c.members)) for c in hop_set.classes] == [(4, 2), (2, 1)]
    assert [c.environment for c in hop_set.classes] == ["Cl2", "Cl8"]


def test_cu3au_copper_hops_avoid_gold() -> None:
    cu3au = to_structure(bulk("Cu", "fcc", a=3.75, cubic=True))
    cu3au.replace(0, "Au")  # L1_2: each Cu has 8 Cu and 4 Au nearest neighbours
    assert counts(cu3au, "Cu", 3.0) == [(8, 12)]


def test_low_symmetry_cell_groups_by_environment_and_caps() -> None:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    rng = np.random.default_rng(7)
    symbols = atoms.get_chemical_symbols()
    for index in rng.choice(len(atoms), size=11, replace=False):
        symbols[index] = "Au"
    atoms.set_chemical_symbols(symbols)
    settings = HopSettings(mobile_species="Cu", cutoff_ang=3.0, max_hops=3)
    hop_set = find_hops(to_structure(atoms), settings)

    assert hop_set.grouping == "environment"
    assert hop_set.n_symmetry_classes > settings.max_hops
    assert len(hop_set.classes) == 3
    assert len(hop_set.skipped) > 0
    kept = [len(c.members) for c in hop_set.classes]
    assert kept == sorted(kept, reverse=True)
    assert min(kept) >= max(len(c.members) for c in hop_set.skipped)
    everything = [*hop_set.classes, *hop_set.skipped]
    assert [c.index for c in everything] == list(range(len(everything)))
    assert len({c.environment for c in everything}) > 1
    # Every Cu-Cu nearest-neighbour pair of the cell is in exactly one group.
    first, second = neighbor_list("ij", atoms, 3.0)
    copper = np.array(symbols) == "Cu"
    pairs = int(np.sum(copper[first] & copper[second])) // 2
    members = [hop for c in everything for hop in c.members]
    assert len(members) == len(set(members)) == pairs


def test_bad_structures_raise_hop_error() -> None:
    cell = to_structure(bulk("Cu", "fcc", a=3.6))
    with pytest.raises(HopError, match="no Li site"):
        find_hops(cell, HopSettings(mobile_species="Li"))
    cell.replace_species({"Cu": {"Cu": 0.5, "Au": 0.5}})
    with pytest.raises(HopError, match="ordered"):
        find_hops(cell, HopSettings(mobile_species="Cu"))


def test_interstitial_hop_takes_the_minimum_image() -> None:
    cell = Structure(Lattice.cubic(4.0), ["Cu"], [[0, 0, 0]])
    hop = InterstitialHop.from_positions(cell, "H", [0.1, 0.5, 0.5], [0.9, 0.5, 0.5])
    assert hop.end_frac == pytest.approx((-0.1, 0.5, 0.5))
    assert hop.length_ang == pytest.approx(0.8)


def test_fcc_interstitial_hops_by_hand() -> None:
    # Octahedral holes (4 per cubic cell) each have 8 tetrahedral neighbours at a*sqrt(3)/4;
    # tetrahedral holes (8) form a simple cubic lattice of spacing a/2: 6 neighbours each.
    a = 3.6
    for cell, n_oct in [(bulk("Cu", "fcc", a=a, cubic=True), 4), (bulk("Cu", "fcc", a=a), 1)]:
        structure = to_structure(cell)
        sites = find_interstitials(structure)
        settings = HopSettings(mobile_species="H", cutoff_ang=1.9)
        hop_set = find_site_hops(structure, sites.frac_coords, settings)
        assert hop_set.grouping == "symmetry" and hop_set.spacegroup == "Fm-3m"
        oct_tet, tet_tet = hop_set.classes
        assert oct_tet.length_ang == pytest.approx(a * np.sqrt(3) / 4)
        assert tet_tet.length_ang == pytest.approx(a / 2)
        assert (oct_tet.multiplicity, len(oct_tet.members)) == (8, 8 * n_oct)
        assert (tet_tet.multiplicity, len(tet_tet.members)) == (6, 2 * n_oct * 6 // 2)
        assert sites.site_class[oct_tet.representative.start] == 0  # starts octahedral
        assert oct_tet.environment == "Cu10"  # 4 + 6 Cu within 3 Å of its midpoint


def test_interstitial_hop_from_site_hop_keeps_the_image() -> None:
    structure = to_structure(bulk("Cu", "fcc", a=3.6))  # primitive: hops leave the cell
    sites = find_interstitials(structure)
    hop_set = find_site_hops(structure, sites.frac_coords, HopSettings(cutoff_ang=1.9))
    for hop_class in hop_set.classes:
        for hop in hop_class.members:
            moved = InterstitialHop.from_hop(hop, sites.frac_coords, "H")
            step = np.subtract(moved.end_frac, moved.start_frac) @ structure.lattice.matrix
            assert np.linalg.norm(step) == pytest.approx(hop.length_ang)
    with pytest.raises(HopError, match="no sites"):
        find_site_hops(structure, np.zeros((0, 3)))
