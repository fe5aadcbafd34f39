"""The result tables' warnings: an Arrhenius fit whose E_a error reaches its size."""

from __future__ import annotations

from screening.report import unresolved_notes


def _fit(e_a_ev: float, e_a_err_ev: float | None) -> dict[str, object]:
    return {"formula": "Li3InBr6", "structure_id": 1, "e_a_ev": e_a_ev, "e_a_err_ev": e_a_err_ev}


def test_a_fit_whose_error_reaches_e_a_is_called_unresolved() -> None:
    (note,) = unresolved_notes([_fit(-0.617, 1.182), _fit(0.30, 0.05), _fit(0.2, None)])
    assert note.startswith("Li3InBr6 (structure 1): E_a is not resolved, its error 1.2 eV")
    assert "size 0.62 eV" in note
    assert unresolved_notes([_fit(0.30, 0.299)]) == []  # resolved, if only just
