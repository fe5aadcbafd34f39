"""Interstitial sites by Voronoi analysis: the octahedral and tetrahedral holes of fcc."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from pymatgen.core import Lattice, Structure

from screening.interstitials import InterstitialError, InterstitialSettings, find_interstitials
from screening.structures import to_structure

A_CU = 3.6
OCTAHEDRAL = A_CU / 2
TETRAHEDRAL = A_CU * np.sqrt(3) / 4


def copper(repeat: int = 1) -> Structure:
    return to_structure(bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(repeat))


def test_fcc_has_four_octahedral_and_eight_tetrahedral_sites() -> None:
    found = find_interstitials(copper())
    assert found.spacegroup == "Fm-3m"
    octahedral, tetrahedral = found.sites
    assert (octahedral.multiplicity, tetrahedral.multiplicity) == (4, 8)
    assert octahedral.distance_ang == pytest.approx(OCTAHEDRAL)
    assert tetrahedral.distance_ang == pytest.approx(TETRAHEDRAL)
    assert found.frac_coords.shape == (12, 3)
    assert list(found.site_class) == [0] * 4 + [1] * 8
    # Octahedral holes sit at the body centre and the edge centres, where one or three
    # coordinates are 1/2 and the rest 0; tetrahedral holes at (1/4 or 3/4) x 3.
    halves = np.round(2 * found.frac_coords) % 2
    octahedral_rows = found.frac_coords[:4]
    assert np.allclose(2 * octahedral_rows, np.round(2 * octahedral_rows))
    assert sorted(halves[:4].sum(axis=1)) == [1, 1, 1, 3]
    assert np.allclose(np.abs(4 * found.frac_coords[4:] % 2), 1)
    assert len(np.unique(np.round(found.frac_coords % 1, 6), axis=0)) == 12


def test_the_cell_choice_does_not_change_the_sites() -> None:
    primitive = find_interstitials(to_structure(bulk("Cu", "fcc", a=A_CU)))
    assert [s.multiplicity for s in primitive.sites] == [1, 2]
    noisy = bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(2)
    noisy.positions += np.random.default_rng(3).normal(0.0, 0.01, noisy.positions.shape)
    found = find_interstitials(to_structure(noisy))
    assert found.spacegroup == "Fm-3m"  # the degenerate octahedral vertices merge back
    assert [s.multiplicity for s in found.sites] == [32, 64]
    assert [s.distance_ang for s in found.sites] == pytest.approx(
        [OCTAHEDRAL, TETRAHEDRAL], abs=0.05
    )


def test_minimum_distance_filters_the_smaller_holes() -> None:
    found = find_interstitials(copper(), InterstitialSettings(min_distance_ang=TETRAHEDRAL + 0.05))
    (octahedral,) = found.sites
    assert octahedral.multiplicity == 4 and octahedral.distance_ang == pytest.approx(OCTAHEDRAL)
    with pytest.raises(InterstitialError, match=r"no interstitial site is 1\.85 Å or more"):
        find_interstitials(copper(), InterstitialSettings(min_distance_ang=1.85))


def test_rock_salt_keeps_only_its_empty_tetrahedral_holes() -> None:
    # LiCl: the octahedral holes of the Cl sublattice hold Li; the tetrahedral ones are empty.
    a = 5.14
    licl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    (tetrahedral,) = find_interstitials(licl, InterstitialSettings(min_distance_ang=1.5)).sites
    assert tetrahedral.multiplicity == 8
    assert tetrahedral.distance_ang == pytest.approx(a * np.sqrt(3) / 4)
    assert np.allclose(np.array(tetrahedral.frac_coords) % 0.5, 0.25)
