"""Substitution spaces: sublattices of a parent crystal and points in composition space."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from pymatgen.core import Element, PeriodicSite, Structure

from enumerate.errors import CompositionError, SublatticeError

VACANCY = "vacancy"
SITE_LABEL = "site_label"  # site property naming a site's Wyckoff or CIF label, e.g. "Na1"


def as_fraction(value: Fraction | int | float | str) -> Fraction:
    """Exact fraction from a number or a string; floats go through their decimal repr."""
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def _is_element(symbol: str) -> bool:
    return Element.is_valid_symbol(symbol)


@dataclass(frozen=True)
class Sublattice:
    """A set of parent sites and what may occupy them.

    ``replaces`` selects the sites: an element symbol takes every site of that element, any
    other name takes the sites whose ``site_label`` property equals it (a Wyckoff or CIF
    label such as ``"Na1"``, see :func:`sublattice_sites`). ``species`` may include
    ``"vacancy"``. The allowed compositions are given either by
    ``step`` (every multiple of ``step`` on the species simplex) or by explicit ``points``
    (species -> fraction, species left out count as 0), or by ``follows``: the name of
    another sublattice whose fractions this one copies species by species, in order (the
    i-th species here takes the fraction of the i-th species there). Exactly one of the
    three is set; :func:`check_distinct` checks that a followed sublattice exists.
    """

    name: str
    replaces: str
    species: tuple[str, ...]
    step: Fraction | None = None
    points: tuple[Mapping[str, Fraction], ...] | None = None
    follows: str | None = None

    def __post_init__(self) -> None:
        where = f"sublattice {self.name!r}"
        if not self.name:
            raise SublatticeError("a sublattice needs a non-empty name")
        if not self.replaces or self.replaces.split() != [self.replaces]:
            raise SublatticeError(
                f"{where}: replaces={self.replaces!r} is neither an element nor a site label"
            )
        species = tuple(self.species)
        if not species:
            raise SublatticeError(f"{where}: species is empty")
        if len(set(species)) != len(species):
            raise SublatticeError(f"{where}: species {list(species)} has duplicates")
        bad = [s for s in species if s != VACANCY and not _is_element(s)]
        if bad:
            raise SublatticeError(f"{where}: {bad} are neither elements nor {VACANCY!r}")
        object.__setattr__(self, "species", species)
        if self.follows is not None:
            if self.step is not None or self.points is not None:
                raise SublatticeError(f"{where}: follows excludes step and points")
            if self.follows == self.name or self.follows.split() != [self.follows]:
                raise SublatticeError(
                    f"{where}: follows={self.follows!r} must name another sublattice"
                )
            return
        if (self.step is None) == (self.points is None):
            raise SublatticeError(f"{where}: give exactly one of step and points (or follows)")
        if self.step is not None:
            step = as_fraction(self.step)
            if not 0 < step <= 1 or (1 / step).denominator != 1:
                raise SublatticeError(f"{where}: step {step} must divide 1 (e.g. 1/2, 0.25)")
            object.__setattr__(self, "step", step)
        else:
            points = tuple(self._normalise_point(p, i) for i, p in enumerate(self.points or ()))
            if not points:
                raise SublatticeError(f"{where}: points is empty")
            object.__setattr__(self, "points", points)

    def _normalise_point(
        self, point: Mapping[str, Fraction | int | float | str], index: int
    ) -> dict[str, Fraction]:
        where = f"sublattice {self.name!r} point {index}"
        unknown = sorted(set(point) - set(self.species))
        if unknown:
            raise SublatticeError(f"{where}: {unknown} not among species {list(self.species)}")
        fractions = {s: as_fraction(point.get(s, 0)) for s in self.species}
        if any(f < 0 for f in fractions.values()) or sum(fractions.values()) != 1:
            raise SublatticeError(f"{where}: fractions {_fmt(fractions)} must be >= 0 and sum to 1")
        return fractions


def _fmt(fractions: Mapping[str, Fraction]) -> str:
    return " ".join(f"{s}{float(f):g}" for s, f in sorted(fractions.items()))


@dataclass(frozen=True)
class CompositionPoint:
    """Site fractions per sublattice: ``{sublattice name: {species: fraction}}``.

    Sublattices keep their given order (used by :meth:`label`); species are sorted and zero
    fractions dropped, so equal compositions compare and hash equal.
    """

    fractions: Mapping[str, Mapping[str, Fraction]]

    def __post_init__(self) -> None:
        clean: dict[str, dict[str, Fraction]] = {}
        for name in self.fractions:
            occ = {s: as_fraction(f) for s, f in sorted(self.fractions[name].items())}
            if any(f < 0 for f in occ.values()) or sum(occ.values()) != 1:
                raise CompositionError(
                    f"sublattice {name!r}: fractions {_fmt(occ)} must be >= 0 and sum to 1"
                )
            clean[name] = {s: f for s, f in occ.items() if f}
        object.__setattr__(self, "fractions", clean)

    def __hash__(self) -> int:
        return hash(self.to_json())

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, float fractions); equal points give equal strings."""
        data = {n: {s: float(f) for s, f in occ.items()} for n, occ in self.fractions.items()}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CompositionPoint:
        """Inverse of :meth:`to_json` (floats are read back through their decimal repr)."""
        return cls(json.loads(text))

    def occupation(self, sublattice: Sublattice) -> Mapping[str, Fraction]:
        """Non-zero species fractions on ``sublattice``.

        Raises:
            CompositionError: the point has no entry for it or uses a species it does not allow.
        """
        occ = self.fractions.get(sublattice.name)
        if occ is None:
            raise CompositionError(
                f"composition {self.label()} has no entry for sublattice {sublattice.name!r}"
            )
        unknown = sorted(set(occ) - set(sublattice.species))
        if unknown:
            raise CompositionError(
                f"composition {self.label()} puts {unknown} on sublattice {sublattice.name!r},"
                f" which allows only {list(sublattice.species)}"
            )
        return occ

    def label(self) -> str:
        """Human label, e.g. ``"metal: In0.5 Y0.5 | halide: Br0.5 Cl0.5"``."""
        return " | ".join(f"{name}: {_fmt(occ)}" for name, occ in self.fractions.items())


def check_distinct(sublattices: Sequence[Sublattice]) -> None:
    """Raise SublatticeError on a shared name or ``replaces``, or a ``follows`` it cannot meet.

    A followed sublattice must exist, have its own ``step`` or ``points`` and as many species.
    """
    for attr in ("name", "replaces"):
        values = [getattr(sl, attr) for sl in sublattices]
        dup = sorted({v for v in values if values.count(v) > 1})
        if dup:
            raise SublatticeError(f"several sublattices have the same {attr}: {dup}")
    by_name = {sl.name: sl for sl in sublattices}
    for sl in sublattices:
        if sl.follows is None:
            continue
        leader = by_name.get(sl.follows)
        where = f"sublattice {sl.name!r} follows {sl.follows!r}"
        if leader is None:
            raise SublatticeError(f"{where}, which is not a sublattice ({sorted(by_name)})")
        if leader.follows is not None:
            raise SublatticeError(f"{where}, which itself follows {leader.follows!r}")
        if len(leader.species) != len(sl.species):
            raise SublatticeError(
                f"{where}: species {list(sl.species)} and {list(leader.species)} differ in"
                " number (the i-th species takes the fraction of the i-th species there)"
            )


def _selects(site: PeriodicSite, replaces: str) -> bool:
    if _is_element(replaces):
        return site.specie.symbol == replaces
    return site.properties.get(SITE_LABEL) == replaces


def sublattice_sites(structure: Structure, sublattice: Sublattice) -> list[int]:
    """Indices of the sites of ``structure`` selected by ``sublattice.replaces``.

    An element symbol selects the sites of that element; any other name the sites whose
    ``site_label`` property equals it.

    Raises:
        SublatticeError: the structure has no such site.
    """
    indices = [i for i, site in enumerate(structure) if _selects(site, sublattice.replaces)]
    if not indices:
        present = sorted({site.specie.symbol for site in structure})
        labels = sorted({str(x) for x in structure.site_properties.get(SITE_LABEL, []) if x})
        named = f" and site labels {', '.join(labels)}" if labels else ""
        raise SublatticeError(
            f"sublattice {sublattice.name!r} replaces {sublattice.replaces}, but the parent"
            f" {structure.composition.reduced_formula} has no {sublattice.replaces} site"
            f" (it contains {', '.join(present)}{named})"
        )
    return indices


def site_counts(structure: Structure, sublattices: Sequence[Sublattice]) -> dict[str, int]:
    """Number of sites of each sublattice in ``structure``, keyed by sublattice name.

    Raises:
        SublatticeError: two sublattices share a name, a ``replaces`` or a site.
    """
    check_distinct(sublattices)
    sites = {sl.name: sublattice_sites(structure, sl) for sl in sublattices}
    for (a, sites_a), (b, sites_b) in itertools.combinations(sites.items(), 2):
        if set(sites_a) & set(sites_b):
            raise SublatticeError(f"sublattices {a!r} and {b!r} select the same parent sites")
    return {name: len(indices) for name, indices in sites.items()}
