"""Symmetry-distinct migration hops of a mobile species: between its occupied sites
(:func:`find_hops`, the vacancy mechanism) or between empty positions such as the
interstitial sites of :mod:`screening.interstitials` (:func:`find_site_hops`).

A hop joins two sites closer than a cutoff: site ``start`` in the home cell and site
``end`` translated by ``image`` lattice vectors. Hops that a space-group operation
(spglib, through pymatgen's SpacegroupAnalyzer) maps onto one another form one class.
When the classes outnumber ``max_hops`` (SQS and other low-symmetry cells), classes with
the same length (within ``length_tolerance_ang``) and the same species around the hop
midpoint are merged into environment groups, and only the ``max_hops`` most populous
groups are kept for computing; the result records that choice and what was left out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from screening.errors import ScreeningError

Image = tuple[int, int, int]
Grouping = Literal["symmetry", "environment"]


class HopError(ScreeningError):
    """Hops cannot be found or built: disordered structure, no mobile ion, bad geometry."""


@dataclass(frozen=True, order=True)
class Hop:
    """A jump between occupied mobile sites: ``start`` (home cell) to ``end`` + ``image``."""

    start: int
    end: int
    image: Image
    length_ang: float

    def reversed(self) -> Hop:
        """The same hop walked the other way."""
        return Hop(self.end, self.start, _negate(self.image), self.length_ang)


@dataclass(frozen=True)
class InterstitialHop:
    """A jump of an added ion between two empty positions (fractional; ``end_frac`` unwrapped)."""

    species: str
    start_frac: tuple[float, float, float]
    end_frac: tuple[float, float, float]
    length_ang: float

    @classmethod
    def from_positions(
        cls,
        structure: Structure,
        species: str,
        start_frac: Sequence[float],
        end_frac: Sequence[float],
    ) -> InterstitialHop:
        """The hop from ``start_frac`` to the nearest periodic image of ``end_frac``."""
        length, image = structure.lattice.get_distance_and_image(start_frac, end_frac)
        end = np.asarray(end_frac, dtype=float) + image
        return cls(
            species,
            _triple(start_frac),
            _triple(end),
            float(length),
        )

    @classmethod
    def from_hop(cls, hop: Hop, sites_frac: np.ndarray, species: str) -> InterstitialHop:
        """A hop of :func:`find_site_hops` between rows of ``sites_frac`` as an added ion's jump."""
        return cls(
            species,
            _triple(sites_frac[hop.start]),
            _triple(sites_frac[hop.end] + hop.image),
            hop.length_ang,
        )


@dataclass(frozen=True)
class HopClass:
    """Equivalent hops: by symmetry, or (grouping ``environment``) by length and surroundings.

    ``members`` holds every hop of the class in the cell once, in one direction;
    ``multiplicity`` counts those leaving the representative's start site (12 for the
    nearest-neighbour hop of fcc); ``environment`` names the species within the
    environment radius of the representative's midpoint, its end sites excluded.
    """

    index: int
    representative: Hop
    multiplicity: int
    members: tuple[Hop, ...]
    environment: str

    @property
    def length_ang(self) -> float:
        return self.representative.length_ang


@dataclass(frozen=True)
class HopSettings:
    """Which hops to look for (distances in Å) and how many classes to compute at most."""

    mobile_species: str = "Li"
    cutoff_ang: float = 4.0
    max_hops: int = 10
    symprec_ang: float = 0.1
    angle_tolerance_deg: float = 5.0
    environment_radius_ang: float = 3.0
    length_tolerance_ang: float = 0.1


@dataclass(frozen=True)
class HopSet:
    """The hops to compute (``classes``) and those the cap left out (``skipped``).

    ``grouping`` says how classes were formed: ``symmetry`` when the space group gave at
    most ``max_hops`` classes, else ``environment``. Class indices run over ``classes``
    then ``skipped``.
    """

    settings: HopSettings
    spacegroup: str
    grouping: Grouping
    n_symmetry_classes: int
    classes: tuple[HopClass, ...]
    skipped: tuple[HopClass, ...]


def find_hops(structure: Structure, settings: HopSettings = HopSettings()) -> HopSet:
    """Find the distinct hops between mobile sites closer than ``settings.cutoff_ang``.

    A hop's ``start`` and ``end`` are site indices of ``structure``. Raises HopError for a
    disordered structure or one without the mobile species.
    """
    if not structure.is_ordered:
        raise HopError("hops need an ordered structure (one species per site)")
    mobile = [
        i for i, site in enumerate(structure) if site.species_string == settings.mobile_species
    ]
    if not mobile:
        raise HopError(f"the structure has no {settings.mobile_species} site")
    return _hop_set(structure, mobile, structure.frac_coords[mobile], settings)


def find_site_hops(
    structure: Structure, sites_frac: np.ndarray, settings: HopSettings = HopSettings()
) -> HopSet:
    """Find the distinct hops between given empty positions (fractional, n x 3) of ``structure``.

    A hop's ``start`` and ``end`` are rows of ``sites_frac``. The positions should be whole
    orbits of the structure's space group (as :func:`screening.interstitials.find_interstitials`
    returns them); an incomplete orbit only splits classes. Raises HopError without positions.
    """
    sites_frac = np.asarray(sites_frac, dtype=float).reshape(-1, 3)
    if not len(sites_frac):
        raise HopError("no sites to hop between")
    return _hop_set(structure, list(range(len(sites_frac))), sites_frac, settings)


def _hop_set(
    structure: Structure, labels: list[int], frac: np.ndarray, settings: HopSettings
) -> HopSet:
    """Classes of the hops between the sites at ``frac``, each named by its ``labels`` entry."""
    analyzer = SpacegroupAnalyzer(
        structure, symprec=settings.symprec_ang, angle_tolerance=settings.angle_tolerance_deg
    )
    hops = _all_hops(structure.lattice, labels, frac, settings)
    orbits = _symmetry_orbits(structure.lattice, labels, frac, hops, analyzer)
    positions = dict(zip(labels, frac, strict=True))
    classes = [_hop_class(structure, positions, members, settings) for members in orbits]
    grouping: Grouping = "symmetry"
    if len(classes) > settings.max_hops:
        grouping = "environment"
        classes = _environment_groups(structure, positions, classes, settings)
        classes.sort(key=lambda c: (-len(c.members), c.length_ang, c.environment))
    else:
        classes.sort(key=lambda c: (c.length_ang, c.environment, c.representative))
    indexed = tuple(replace(c, index=i) for i, c in enumerate(classes))
    return HopSet(
        settings=settings,
        spacegroup=analyzer.get_space_group_symbol(),
        grouping=grouping,
        n_symmetry_classes=len(orbits),
        classes=indexed[: settings.max_hops],
        skipped=indexed[settings.max_hops :],
    )


def _all_hops(
    lattice: Lattice, labels: list[int], frac: np.ndarray, settings: HopSettings
) -> list[Hop]:
    """Every pair of the sites within the cutoff, once, in its canonical direction."""
    sites = Structure(lattice, [settings.mobile_species] * len(labels), frac)
    centres, points, images, distances = sites.get_neighbor_list(settings.cutoff_ang)
    hops: dict[tuple[int, int, Image], Hop] = {}
    for c, p, image, d in zip(centres, points, images, distances, strict=True):
        if d > 1e-6:  # the site itself comes back at distance 0
            hop = _canonical(Hop(labels[c], labels[p], _triple_int(image), float(d)))
            hops.setdefault((hop.start, hop.end, hop.image), hop)
    return sorted(hops.values())


def _symmetry_orbits(
    lattice: Lattice,
    labels: list[int],
    frac: np.ndarray,
    hops: list[Hop],
    analyzer: SpacegroupAnalyzer,
) -> list[list[Hop]]:
    """Partition the hops into orbits of the space group.

    Hops are joined to their images under a generating set of the group (one operation
    per rotation, plus the pure translations of a supercell); the connected components
    of that graph are the orbits.
    """
    if not hops:
        return []
    slot = {site: k for k, site in enumerate(labels)}
    starts = np.array([slot[h.start] for h in hops])
    ends = np.array([slot[h.end] for h in hops])
    images = np.array([h.image for h in hops])
    bound = int(np.abs(images).max())
    codes = _codes(starts, ends, images, len(labels), bound)
    order = np.argsort(codes)
    rows, cols = [], []
    dataset = analyzer.get_symmetry_dataset()
    for rotation, translation in _generators(dataset.rotations, dataset.translations):
        moved, cells = _locate(lattice, frac, frac @ rotation.T + translation)
        new_images = cells[ends] + images @ rotation.T - cells[starts]
        inside = np.all(np.abs(new_images) <= bound, axis=1)  # else: beyond the cutoff
        mapped = _codes(moved[starts], moved[ends], new_images, len(labels), bound)
        where = np.searchsorted(codes, mapped, sorter=order).clip(max=len(hops) - 1)
        found = inside & (codes[order[where]] == mapped)
        rows.append(np.flatnonzero(found))
        cols.append(order[where[found]])
    edges = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(edges[0])), edges), shape=(len(hops), len(hops)))
    _, labels = connected_components(graph, directed=False)
    orbits: dict[int, list[Hop]] = defaultdict(list)
    for label, hop in zip(labels, hops, strict=True):
        orbits[int(label)].append(hop)
    return list(orbits.values())


def _generators(
    rotations: np.ndarray, translations: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One operation per distinct rotation, and every pure translation: they generate the group."""
    chosen: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
    pure = []
    for rotation, translation in zip(rotations, translations, strict=True):
        chosen.setdefault(rotation.tobytes(), (rotation, translation))
        if np.array_equal(rotation, np.eye(3, dtype=rotation.dtype)):
            pure.append((rotation, translation))
    return [*chosen.values(), *pure]


def _codes(
    starts: np.ndarray, ends: np.ndarray, images: np.ndarray, n_sites: int, bound: int
) -> np.ndarray:
    """One integer per undirected hop (slots of the mobile sites, image within ``bound``)."""
    shape = (n_sites, n_sites, *(3 * [2 * bound + 1]))
    clipped = np.clip(images, -bound, bound) + bound
    forward = np.ravel_multi_index((starts, ends, *clipped.T), shape)
    backward = np.ravel_multi_index((ends, starts, *(2 * bound - clipped).T), shape)
    return np.minimum(forward, backward)


def _locate(
    lattice: Lattice, sites: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The row of the nearest site to each fractional point, and the cell it is in."""
    delta = points[:, None, :] - sites[None, :, :]
    cells = np.round(delta)
    lengths = np.linalg.norm((delta - cells) @ lattice.matrix, axis=2)
    nearest = np.argmin(lengths, axis=1)
    return nearest, cells[np.arange(len(points)), nearest].astype(int)


def _hop_class(
    structure: Structure,
    positions: Mapping[int, np.ndarray],
    members: list[Hop],
    settings: HopSettings,
) -> HopClass:
    members = sorted(members)
    representative = members[0]
    leaving = [h for m in members for h in (m, m.reversed()) if h.start == representative.start]
    return HopClass(
        index=-1,
        representative=representative,
        multiplicity=len(set(leaving)),
        members=tuple(members),
        environment=_environment(
            structure, positions, representative, settings.environment_radius_ang
        ),
    )


def _environment_groups(
    structure: Structure,
    positions: Mapping[int, np.ndarray],
    classes: list[HopClass],
    settings: HopSettings,
) -> list[HopClass]:
    """Merge classes of the same length bin and midpoint environment."""
    groups: dict[tuple[int, str], list[Hop]] = defaultdict(list)
    for hop_class in classes:
        bin_ = round(hop_class.length_ang / settings.length_tolerance_ang)
        groups[(bin_, hop_class.environment)].extend(hop_class.members)
    return [_hop_class(structure, positions, members, settings) for members in groups.values()]


def _environment(
    structure: Structure, positions: Mapping[int, np.ndarray], hop: Hop, radius_ang: float
) -> str:
    """Species of ``structure`` within ``radius_ang`` of the hop midpoint, end sites excluded."""
    ends = structure.lattice.get_cartesian_coords(
        np.array([positions[hop.start], positions[hop.end] + hop.image])
    )
    midpoint = ends.mean(axis=0)
    counts = Counter(
        neighbour.species_string
        for neighbour in structure.get_sites_in_sphere(midpoint, radius_ang)
        if np.linalg.norm(ends - neighbour.coords, axis=1).min() > 1e-3
    )
    return "".join(f"{species}{counts[species]}" for species in sorted(counts))


def _canonical(hop: Hop) -> Hop:
    return min(hop, hop.reversed())


def _negate(image: Image) -> Image:
    return (-image[0], -image[1], -image[2])


def _triple(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]))


def _triple_int(values: Sequence[float] | np.ndarray) -> Image:
    x, y, z = np.rint(values).astype(int)
    return (int(x), int(y), int(z))
