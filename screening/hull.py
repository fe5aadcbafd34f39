"""Energy above the convex hull with pymatgen's PhaseDiagram, over MLIP energies.

The entry set is one campaign's relaxed structures plus its reference phases (elements
and competing phases), all computed with the same potential. Entries exactly on the hull
have E_hull = 0; ``allow_negative`` keeps the sign pymatgen reports for entries that the
hull construction excludes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from pymatgen.analysis.phase_diagram import PhaseDiagram
from pymatgen.core import Composition
from pymatgen.entries.computed_entries import ComputedEntry

from screening.errors import ScreeningError

# Entries within 0.1 meV/atom of the hull count as stable: relaxations to fmax = 0.05 eV/Å
# leave energy noise of that order, which must not decide stability.
STABLE_TOLERANCE_EV_ATOM = 1e-4


class HullError(ScreeningError):
    """The hull cannot be built (for example an element has no reference phase)."""


@dataclass(frozen=True)
class HullEntry:
    """One relaxed structure: an identifying key, its composition and total energy (eV)."""

    key: Hashable
    formula: str
    energy_ev: float


@dataclass(frozen=True)
class HullPoint:
    """E_hull and formation energy (eV/atom) of one entry, with its decomposition."""

    key: Hashable
    e_hull_ev_atom: float
    e_form_ev_atom: float
    decomposition: dict[str, float]
    is_stable: bool


def compute_hull(entries: Sequence[HullEntry]) -> list[HullPoint]:
    """E_hull of every entry against the hull of all of them; raises HullError."""
    if not entries:
        raise HullError("no relaxed structures yet")
    computed = [
        ComputedEntry(Composition(e.formula), e.energy_ev, entry_id=str(i))
        for i, e in enumerate(entries)
    ]
    _require_terminals(computed)
    diagram = PhaseDiagram(computed)
    points = []
    for entry, computed_entry in zip(entries, computed, strict=True):
        decomposition, e_hull = diagram.get_decomp_and_e_above_hull(
            computed_entry, allow_negative=True
        )
        points.append(
            HullPoint(
                key=entry.key,
                e_hull_ev_atom=float(e_hull),
                e_form_ev_atom=float(diagram.get_form_energy_per_atom(computed_entry)),
                decomposition=_by_formula(decomposition),
                is_stable=e_hull <= STABLE_TOLERANCE_EV_ATOM,
            )
        )
    return points


def _require_terminals(entries: Sequence[ComputedEntry]) -> None:
    elements = {el for e in entries for el in e.composition.elements}
    covered = {e.composition.elements[0] for e in entries if e.composition.is_element}
    missing = sorted(str(el) for el in elements - covered)
    if missing:
        raise HullError(
            "no elemental reference energy for "
            + ", ".join(missing)
            + ": its reference relaxation is missing or failed"
        )


def _by_formula(decomposition: dict) -> dict[str, float]:
    fractions: dict[str, float] = defaultdict(float)
    for entry, amount in decomposition.items():
        fractions[entry.composition.reduced_formula] += float(amount)
    return dict(fractions)
