"""Percolating barriers on hand-built periodic networks with barriers given per hop."""

from __future__ import annotations

import pytest
from ase.build import bulk
from pymatgen.core import Lattice, Structure

from screening.hops import HopSettings, find_hops, find_site_hops
from screening.interstitials import find_interstitials
from screening.percolation import PercolationResult, PeriodicEdge, hop_edges, percolating_barriers
from screening.structures import to_structure

X, Y, Z = (1, 0, 0), (0, 1, 0), (0, 0, 1)
HOME = (0, 0, 0)


def test_fast_channel_with_slower_cross_links() -> None:
    # Two sites per cell, each with a fast channel along c (0.1 eV). Cross-links join the
    # channels along a (0.3 eV) and along b (0.6 eV): site 0 at (0, 0), site 1 at (½, 0).
    edges = [
        PeriodicEdge(0, 0, Z, 0.1),
        PeriodicEdge(1, 1, Z, 0.1),
        PeriodicEdge(0, 1, HOME, 0.3),
        PeriodicEdge(1, 0, X, 0.3),
        PeriodicEdge(0, 0, Y, 0.6),
        PeriodicEdge(1, 1, Y, 0.6),
    ]
    assert percolating_barriers(edges) == PercolationResult(0.1, 0.3, 0.6)
    # Cross-links in both in-plane directions at once: 1D fast, 2D and 3D slow.
    both = [PeriodicEdge(0, 0, Z, 0.1), PeriodicEdge(0, 0, X, 0.5), PeriodicEdge(0, 0, Y, 0.5)]
    assert percolating_barriers(both) == PercolationResult(0.1, 0.5, 0.5)


def test_channel_through_two_sites_needs_both_hops() -> None:
    zigzag = [PeriodicEdge(0, 1, HOME, 0.2), PeriodicEdge(1, 0, Z, 0.35)]
    assert percolating_barriers(zigzag) == PercolationResult(0.35, None, None)


def test_dimension_is_the_rank_of_loop_translations_not_axes() -> None:
    diagonal = [PeriodicEdge(0, 0, (1, 1, 0), 0.1), PeriodicEdge(0, 0, (1, -1, 0), 0.2)]
    assert percolating_barriers(diagonal) == PercolationResult(0.1, 0.2, None)
    # A loop inside the cell goes nowhere; one that winds twice along a still percolates.
    ring = [
        PeriodicEdge(0, 1, HOME, 0.1),
        PeriodicEdge(1, 2, HOME, 0.1),
        PeriodicEdge(2, 0, HOME, 0.1),
    ]
    assert percolating_barriers(ring) == PercolationResult(None, None, None)
    winding = [PeriodicEdge(0, 1, X, 0.1), PeriodicEdge(1, 0, X, 0.1)]
    assert percolating_barriers(winding) == PercolationResult(0.1, None, None)


def test_channels_in_separate_components_do_not_add_up() -> None:
    # Channel along a on site 0, along b on site 1: two 1D networks, no 2D one ...
    apart = [PeriodicEdge(0, 0, X, 0.1), PeriodicEdge(1, 1, Y, 0.1)]
    assert percolating_barriers(apart) == PercolationResult(0.1, None, None)
    # ... until a hop joins them.
    joined = [*apart, PeriodicEdge(0, 1, HOME, 0.4)]
    assert percolating_barriers(joined) == PercolationResult(0.1, 0.4, None)


def test_hop_classes_become_edges() -> None:
    bcc = Structure(Lattice.cubic(3.5), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    hop_set = find_hops(bcc, HopSettings(mobile_species="Li", cutoff_ang=3.6))
    nearest, second = hop_set.classes
    both = hop_edges(hop_set, {nearest.index: 0.3, second.index: 0.1})
    assert len(both) == 8 + 6
    # The 2nd-neighbour hops along the cube axes alone percolate in 3D.
    assert percolating_barriers(both) == PercolationResult(0.1, 0.1, 0.1)
    only_nearest = hop_edges(hop_set, {nearest.index: 0.3})
    assert percolating_barriers(only_nearest) == PercolationResult(0.3, 0.3, 0.3)
    assert percolating_barriers(hop_edges(hop_set, {})) == PercolationResult(None, None, None)


def test_interstitial_network_of_fcc() -> None:
    copper = to_structure(bulk("Cu", "fcc", a=3.6, cubic=True))
    sites = find_interstitials(copper)
    hop_set = find_site_hops(copper, sites.frac_coords, HopSettings(cutoff_ang=1.9))
    oct_tet, tet_tet = hop_set.classes
    # Octahedral-tetrahedral hops alone join every hole in 3D; the tetrahedral holes on
    # their own form a simple cubic lattice, which percolates in 3D at its own barrier.
    edges = hop_edges(hop_set, {oct_tet.index: 0.5, tet_tet.index: 0.2})
    assert percolating_barriers(edges) == PercolationResult(0.2, 0.2, 0.2)
    edges = hop_edges(hop_set, {oct_tet.index: 0.5})
    assert percolating_barriers(edges) == PercolationResult(0.5, 0.5, 0.5)


def test_no_edges() -> None:
    assert percolating_barriers([]) == PercolationResult(None, None, None)


@pytest.mark.parametrize("image", [(2, 0, 0), (0, -3, 0)])
def test_long_self_hops_percolate(image: tuple[int, int, int]) -> None:
    assert percolating_barriers([PeriodicEdge(4, 4, image, 0.7)]).barrier_1d_ev == 0.7
