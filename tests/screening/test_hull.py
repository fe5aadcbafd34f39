"""E_hull from pymatgen's PhaseDiagram: hand-checkable binary cases."""

from __future__ import annotations

import pytest

from screening.hull import HullEntry, HullError, compute_hull


def test_binary_hull_by_hand() -> None:
    # A, B at 0 eV/atom; AB at -1 eV/atom (on the hull); A3B at -0.4 eV/atom.
    # The tie line A-AB at x_B = 1/4 is at -0.5 eV/atom, so A3B is 0.1 eV/atom above it.
    entries = [
        HullEntry("A", "Li", 0.0),
        HullEntry("B", "Cl", 0.0),
        HullEntry("AB", "LiCl", -2.0),
        HullEntry("A3B", "Li3Cl", -1.6),
    ]
    points = {p.key: p for p in compute_hull(entries)}
    assert points["AB"].e_hull_ev_atom == pytest.approx(0.0, abs=1e-12)
    assert points["AB"].is_stable
    assert points["A3B"].e_hull_ev_atom == pytest.approx(0.1)
    assert not points["A3B"].is_stable
    assert points["A3B"].e_form_ev_atom == pytest.approx(-0.4)
    assert points["A3B"].decomposition == pytest.approx({"Li": 0.5, "LiCl": 0.5})


def test_missing_elemental_reference_is_named() -> None:
    with pytest.raises(HullError, match="no elemental reference energy for Cl"):
        compute_hull([HullEntry(1, "Li", 0.0), HullEntry(2, "LiCl", -2.0)])
