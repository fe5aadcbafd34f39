"""Errors of a potential against labelled frames, in meV/atom, meV/Å and GPa, and the plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import units
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from matplotlib.image import imread
from training_frames import emt_frames

from screening.datasets import DatasetError
from screening.evaluation import evaluate, learning_curve_plot, parity_plot

SHIFT_EV_ATOM = 0.02
FORCE_SHIFT_EV_ANG = 0.05
STRESS_SHIFT_GPA = 0.1


def _perturbed(with_stress: bool) -> list:
    """EMT frames whose labels are off by known amounts: every energy by 20 meV/atom, the x
    force of every atom by 50 meV/Å, and sigma_xx by 0.1 GPa."""
    frames = []
    for frame in emt_frames(4, seed=3):
        forces = frame.get_forces().copy()
        forces[:, 0] += FORCE_SHIFT_EV_ANG
        results = {
            "energy": frame.get_potential_energy() + SHIFT_EV_ATOM * len(frame),
            "forces": forces,
        }
        if with_stress:
            stress = frame.get_stress().copy()
            stress[0] += STRESS_SHIFT_GPA * units.GPa
            results["stress"] = stress
        frame.calc = SinglePointCalculator(frame, **results)
        frames.append(frame)
    return frames


def test_exact_labels_give_zero_error() -> None:
    result = evaluate(EMT(), emt_frames(3, seed=1))
    assert (result.n_frames, result.n_atoms) == (3, 12)
    assert result.energy_rmse_mev_atom < 1e-9 and result.force_rmse_mev_ang < 1e-9
    assert result.stress_rmse_gpa is not None and result.stress_rmse_gpa < 1e-9


def test_known_label_offsets_give_known_errors() -> None:
    result = evaluate(EMT(), _perturbed(with_stress=True))
    assert result.energy_rmse_mev_atom == pytest.approx(20.0)
    assert result.energy_mae_mev_atom == pytest.approx(20.0)
    # One of three force components is off by 50 meV/Å.
    assert result.force_rmse_mev_ang == pytest.approx(50.0 / np.sqrt(3))
    assert result.force_mae_mev_ang == pytest.approx(50.0 / 3)
    assert result.stress_rmse_gpa == pytest.approx(0.1 / np.sqrt(6))
    assert result.stress_mae_gpa == pytest.approx(0.1 / 6)
    np.testing.assert_allclose(
        result.parity.energy_ref_ev_atom - result.parity.energy_pred_ev_atom, SHIFT_EV_ATOM
    )

    without = evaluate(EMT(), _perturbed(with_stress=False))
    assert without.stress_rmse_gpa is None and without.stress_mae_gpa is None
    assert without.force_rmse_mev_ang == pytest.approx(result.force_rmse_mev_ang)


def test_plots_are_pngs_with_one_panel_per_quantity(tmp_path: Path) -> None:
    with_stress = evaluate(EMT(), _perturbed(with_stress=True))
    without = evaluate(EMT(), _perturbed(with_stress=False))
    three = imread(parity_plot(with_stress, tmp_path / "three.png", "EMT"))
    two = imread(parity_plot(without, tmp_path / "two.png", "EMT"))
    assert three.shape[1] == pytest.approx(1.5 * two.shape[1], rel=0.01)
    curve = imread(learning_curve_plot([10, 20], [with_stress, without], tmp_path / "lc.png"))
    assert curve.shape[0] > 100 and curve.shape[1] > 100
    with pytest.raises(DatasetError, match="no frames"):
        evaluate(EMT(), [])
