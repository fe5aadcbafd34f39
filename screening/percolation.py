"""The percolating barrier: the lowest barrier at which hops join the sites of the mobile
ion (its own sites, or interstitial sites) into an infinite network spanning 1, 2 or 3
dimensions.

The network is a graph over the periodic cell: sites are nodes, and a hop from site ``a``
to site ``b`` translated by ``image`` lattice vectors is an edge carrying that image. A
closed walk in this graph adds its images up to a lattice translation that maps the
infinite network onto itself; a connected component spans as many dimensions as the rank
of the translations of its closed walks. Edges are added in order of barrier to a
union-find that keeps, for every site, its cell relative to its component's root, so
each edge closing a walk contributes that walk's translation directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from screening.hops import HopSet, Image


@dataclass(frozen=True)
class PeriodicEdge:
    """A hop from site ``start`` (home cell) to site ``end`` + ``image``, with its barrier (eV)."""

    start: int
    end: int
    image: Image
    barrier_ev: float


@dataclass(frozen=True)
class PercolationResult:
    """The smallest barrier (eV) that gives an infinite network of at least 1, 2, 3 dimensions.

    None where the given hops never percolate in that many dimensions.
    """

    barrier_1d_ev: float | None
    barrier_2d_ev: float | None
    barrier_3d_ev: float | None


def percolating_barriers(edges: Iterable[PeriodicEdge]) -> PercolationResult:
    """Add hops from the lowest barrier up; note when the network first spans 1, 2, 3 dims."""
    network = _PeriodicNetwork()
    reached: list[float] = []  # reached[d - 1]: the barrier at which d dimensions percolate
    for edge in sorted(edges, key=lambda e: e.barrier_ev):
        dimension = network.add(edge.start, edge.end, edge.image)
        while len(reached) < dimension:
            reached.append(edge.barrier_ev)
    barriers: list[float | None] = [*reached, None, None, None]
    return PercolationResult(*barriers[:3])


def hop_edges(hop_set: HopSet, barriers_ev: Mapping[int, float]) -> list[PeriodicEdge]:
    """Every hop of each class in ``barriers_ev`` (keyed by class index) as an edge.

    Classes without a barrier (skipped by the cap, failed bands) are left out of the network.
    """
    return [
        PeriodicEdge(hop.start, hop.end, hop.image, barriers_ev[hop_class.index])
        for hop_class in (*hop_set.classes, *hop_set.skipped)
        if hop_class.index in barriers_ev
        for hop in hop_class.members
    ]


class _PeriodicNetwork:
    """Union-find over sites; ``cell[x]`` is the cell of ``x`` relative to its parent."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.cell: dict[int, np.ndarray] = {}
        self.periods: dict[int, np.ndarray] = {}  # root -> independent translations (k x 3)
        self.dimension = 0

    def add(self, start: int, end: int, image: Image) -> int:
        """Join ``start`` to ``end`` + ``image``; return the largest dimension of any component."""
        root_a, cell_a = self._find(start)
        root_b, cell_b = self._find(end)
        # (end, cell_a + image) is now joined to (start, cell_a), in root_a's frame.
        shift = cell_a + np.asarray(image) - cell_b
        if root_a == root_b:
            self._add_periods(root_a, shift[None, :])
        else:
            self.parent[root_b] = root_a
            self.cell[root_b] = shift
            self._add_periods(root_a, self.periods.pop(root_b))
        self.dimension = max(self.dimension, len(self.periods[root_a]))
        return self.dimension

    def _find(self, site: int) -> tuple[int, np.ndarray]:
        if site not in self.parent:
            self.parent[site] = site
            self.cell[site] = np.zeros(3, dtype=int)
            self.periods[site] = np.zeros((0, 3), dtype=int)
        path = []
        while self.parent[site] != site:
            path.append(site)
            site = self.parent[site]
        for node in reversed(path):  # nearest the root first: its parent is already re-rooted
            self.cell[node] = self.cell[node] + self.cell[self.parent[node]]
            self.parent[node] = site
        return site, self.cell[path[0]] if path else self.cell[site]

    def _add_periods(self, root: int, translations: np.ndarray) -> None:
        basis = self.periods[root]
        for translation in translations:
            candidate = np.vstack([basis, translation])
            if np.linalg.matrix_rank(candidate) > len(basis):
                basis = candidate
        self.periods[root] = basis
