"""Candidate interstitial sites for a mobile ion: the open spaces of a (relaxed) host.

The Voronoi vertices of the host's atoms, periodic images included, are the points
locally farthest from every atom. Vertices nearer than ``min_distance_ang`` to an atom are
dropped; vertices within ``merge_distance_ang`` of one another are merged (single linkage)
at their mean, which is dropped in turn if it lands nearer than the minimum. The rest are
reduced by the host's space group (spglib, through pymatgen): the most open remaining
point starts a class, the class is its orbit under every operation, and the points that
orbit covers (within the merge distance) are done. Every class is thus a whole, exactly
symmetric orbit, and its multiplicity is the orbit's size in the cell.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import KDTree, Voronoi

from screening.errors import ScreeningError

_WINDOW_ANG = 2.0  # Å: vertices this far outside the cell are kept, so that merges are whole
_PAD_ANG = 8.0  # Å: image atoms this far around the cell; exact for voids up to 6 Å radius
_EDGE = 1e-6  # fractional: the home cell is [-_EDGE, 1 - _EDGE) along each axis


class InterstitialError(ScreeningError):
    """No interstitial site can be found: every void is too small, or one is unbounded."""


@dataclass(frozen=True)
class InterstitialSettings:
    """How open a site must be and when two are one (Å); symmetry tolerances."""

    min_distance_ang: float = 1.0
    merge_distance_ang: float = 0.5
    symprec_ang: float = 0.1
    angle_tolerance_deg: float = 5.0


@dataclass(frozen=True)
class InterstitialSite:
    """One class of equivalent sites: a representative (fractional), its distance to the
    nearest atom (Å), and how many sites of the class the cell holds."""

    frac_coords: tuple[float, float, float]
    distance_ang: float
    multiplicity: int


@dataclass(frozen=True, eq=False)
class InterstitialSites:
    """The distinct sites (most open first) and every site of the cell.

    ``frac_coords`` (n x 3, wrapped into the cell) holds the classes one after another,
    representative first; ``site_class`` (n) gives each row's index into ``sites``.
    """

    spacegroup: str
    sites: tuple[InterstitialSite, ...]
    frac_coords: np.ndarray
    site_class: np.ndarray


def find_interstitials(
    structure: Structure, settings: InterstitialSettings = InterstitialSettings()
) -> InterstitialSites:
    """The symmetry-distinct open sites of ``structure`` at least ``min_distance_ang`` from
    every atom.

    Raises InterstitialError when there is none, or when a void is too wide to bound.
    """
    lattice = structure.lattice
    atoms = KDTree(_padded_atoms(structure))
    vertices = _home_vertices(lattice, Voronoi(atoms.data).vertices)
    vertices = vertices[atoms.query(vertices)[0] >= settings.min_distance_ang]
    points = _merged(vertices, settings.merge_distance_ang)
    distances = atoms.query(points)[0]
    frac = lattice.get_fractional_coords(points)
    keep = (distances >= settings.min_distance_ang) & np.all(
        (frac >= -_EDGE) & (frac < 1 - _EDGE), axis=1
    )
    frac, distances = frac[keep], distances[keep]
    if not len(frac):
        raise InterstitialError(
            f"no interstitial site is {settings.min_distance_ang:g} Å or more from every atom"
        )
    if distances.max() > _PAD_ANG - _WINDOW_ANG:
        raise InterstitialError(
            f"a void reaches {distances.max():.1f} Å from every atom: not a bulk crystal"
        )
    analyzer = SpacegroupAnalyzer(
        structure, symprec=settings.symprec_ang, angle_tolerance=settings.angle_tolerance_deg
    )
    dataset = analyzer.get_symmetry_dataset()
    sites, orbits = [], []
    remaining = np.argsort(-distances, kind="stable")
    while len(remaining):
        first = remaining[0]
        orbit = _orbit(
            lattice,
            frac[first],
            dataset.rotations,
            dataset.translations,
            settings.merge_distance_ang,
        )
        sites.append(InterstitialSite(_triple(orbit[0]), float(distances[first]), len(orbit)))
        orbits.append(orbit)
        covered = _within(lattice, frac[remaining], orbit, settings.merge_distance_ang)
        remaining = remaining[~covered.any(axis=1)]
    return InterstitialSites(
        spacegroup=analyzer.get_space_group_symbol(),
        sites=tuple(sites),
        frac_coords=np.concatenate(orbits),
        site_class=np.repeat(np.arange(len(orbits)), [len(o) for o in orbits]),
    )


def _widths(lattice: Lattice) -> np.ndarray:
    """Perpendicular widths of the cell (Å), one per lattice vector."""
    m = lattice.matrix
    return lattice.volume / np.linalg.norm(np.cross(m[[1, 2, 0]], m[[2, 0, 1]]), axis=1)


def _padded_atoms(structure: Structure) -> np.ndarray:
    """Cartesian positions (Å) of the atoms in and within ``_PAD_ANG`` of the cell."""
    margin = _PAD_ANG / _widths(structure.lattice)
    reach = np.ceil(margin).astype(int)
    shifts = np.array(list(itertools.product(*(range(-r, r + 1) for r in reach))))
    frac = (structure.frac_coords[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    inside = np.all((frac >= -margin) & (frac <= 1 + margin), axis=1)
    return structure.lattice.get_cartesian_coords(frac[inside])


def _home_vertices(lattice: Lattice, vertices: np.ndarray) -> np.ndarray:
    """The vertices in the cell or within ``_WINDOW_ANG`` of it (cartesian, Å)."""
    margin = _WINDOW_ANG / _widths(lattice)
    frac = lattice.get_fractional_coords(vertices)
    return vertices[np.all((frac >= -margin) & (frac <= 1 + margin), axis=1)]


def _merged(points: np.ndarray, distance_ang: float) -> np.ndarray:
    """Points joined by chains of steps shorter than ``distance_ang``, each at its mean."""
    pairs = KDTree(points).query_pairs(distance_ang, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), pairs.T), shape=(len(points), len(points)))
    count, labels = connected_components(graph, directed=False)
    sums = np.zeros((count, 3))
    np.add.at(sums, labels, points)
    return sums / np.bincount(labels, minlength=count)[:, None]


def _orbit(
    lattice: Lattice,
    point: np.ndarray,
    rotations: np.ndarray,
    translations: np.ndarray,
    tolerance_ang: float,
) -> np.ndarray:
    """The distinct images of a fractional point under the operations, ``point`` first."""
    images = np.einsum("kij,j->ki", rotations, point) + translations
    images = images - np.floor(images + _EDGE)
    _, first = np.unique(np.round(images, 4), axis=0, return_index=True)  # exact repeats
    candidates = np.vstack([point, images[np.sort(first)]])
    close = _within(lattice, candidates, candidates, tolerance_ang)
    kept, covered = [], np.zeros(len(candidates), dtype=bool)
    for i in range(len(candidates)):
        if not covered[i]:
            kept.append(i)
            covered |= close[i]
    return candidates[kept]


def _within(lattice: Lattice, a: np.ndarray, b: np.ndarray, tolerance_ang: float) -> np.ndarray:
    """Whether each fractional point of ``a`` is within the tolerance of each of ``b``
    (minimum image by rounding: exact for tolerances under half the cell's widths)."""
    delta = a[:, None, :] - b[None, :, :]
    delta -= np.round(delta)
    return np.linalg.norm(delta @ lattice.matrix, axis=2) <= tolerance_ang


def _triple(values: np.ndarray) -> tuple[float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]))
