"""The coordinates of a composition space: site fractions of the sublattices that vary.

A composition's ``parameters`` are ``{sublattice: {species: fraction}}``. A sublattice
with n species contributes n - 1 free coordinates (the fractions of all its species but
the last); the map plots two of them (or one, or a ternary sublattice's three fractions)
and fixes the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Coordinate:
    """The fraction of ``species`` on ``sublattice``; ``key`` names its DataFrame column."""

    sublattice: str
    species: str

    @property
    def key(self) -> str:
        return f"{self.sublattice}:{self.species}"

    @property
    def label(self) -> str:
        return f"{self.species} fraction on {self.sublattice}"


@dataclass(frozen=True)
class CompositionSpace:
    """The varying sublattices, each with its species in the campaign's order."""

    sublattices: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def coordinates(self) -> list[Coordinate]:
        """The free coordinates: every species of a varying sublattice but its last."""
        return [Coordinate(name, s) for name, species in self.sublattices for s in species[:-1]]

    @property
    def ternary_sublattices(self) -> list[str]:
        return [name for name, species in self.sublattices if len(species) == 3]

    def species_of(self, sublattice: str) -> tuple[str, ...]:
        return dict(self.sublattices)[sublattice]


Fractions = dict[str, dict[str, float]]
"""One composition's ``{sublattice: {species: fraction}}``."""


def parse_fractions(parameters: Iterable[str]) -> list[Fractions]:
    """Each composition's ``parameters`` JSON parsed (``{}`` where malformed); parse once and
    pass the result to :func:`composition_space` and :func:`with_fractions`."""
    return [_parse(text) for text in parameters]


def _parse(parameters: str) -> Fractions:
    try:
        value = json.loads(parameters)
    except (TypeError, ValueError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        str(name): {str(k): float(v) for k, v in fractions.items()}
        for name, fractions in value.items()
        if isinstance(fractions, dict)
        and all(isinstance(v, int | float) for v in fractions.values())
    }


def _spec_order(spec_json: str) -> Mapping[str, list[str]]:
    try:
        sublattices = json.loads(spec_json).get("sublattices", {})
    except (TypeError, ValueError, AttributeError):
        return {}
    return {
        name: list(body.get("species", []))
        for name, body in sublattices.items()
        if isinstance(body, dict)
    }


def composition_space(fractions: Iterable[Fractions], spec_json: str = "{}") -> CompositionSpace:
    """The space spanned by compositions' parsed ``fractions`` (see :func:`parse_fractions`).

    Sublattices and species are ordered as in the campaign spec (``[sublattices.NAME]
    species``) where given, else alphabetically; a sublattice varies if its fractions differ between
    compositions, and a species counts if its fraction is nonzero somewhere.
    """
    order = _spec_order(spec_json)
    seen: dict[str, dict[str, set[float]]] = {}
    for parsed in fractions:
        for name, sublattice in parsed.items():
            for species, fraction in sublattice.items():
                seen.setdefault(name, {}).setdefault(species, set()).add(fraction)
    sublattices = []
    for name in [*(n for n in order if n in seen), *sorted(n for n in seen if n not in order)]:
        values = seen[name]
        present = [s for s, v in values.items() if any(f > 0 for f in v)]
        if len(present) < 2 or all(len(v) == 1 for v in values.values()):
            continue
        preferred = [s for s in order.get(name, []) if s in present]
        species = preferred + sorted(s for s in present if s not in preferred)
        sublattices.append((name, tuple(species)))
    return CompositionSpace(tuple(sublattices))


def with_fractions(
    frame: pd.DataFrame, space: CompositionSpace, fractions: Sequence[Fractions]
) -> pd.DataFrame:
    """``frame`` plus one column per species of the space, from each row's parsed
    ``fractions``. Column ``"sublattice:species"`` holds the fraction (0 where absent).
    """
    columns = {
        f"{name}:{s}": [p.get(name, {}).get(s, 0.0) for p in fractions]
        for name, species in space.sublattices
        for s in species
    }
    return frame.assign(**columns)


def fixed_slice(frame: pd.DataFrame, fixed: Mapping[str, float]) -> pd.DataFrame:
    """Rows whose coordinates in ``fixed`` (column key -> fraction) match within 1e-6."""
    mask = pd.Series(True, index=frame.index)
    for key, value in fixed.items():
        mask &= (frame[key] - value).abs() < 1e-6
    return frame[mask]
