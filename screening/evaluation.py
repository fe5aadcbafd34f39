"""How well a potential reproduces labelled frames: RMSE and MAE of the energy (meV/atom), the
force components (meV/Å) and, over the frames that carry one, the stress components (GPa);
parity plots and learning curves as PNG (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from screening.datasets import DatasetError, labels
from screening.progress import Progress


@dataclass(frozen=True)
class Parity:
    """Reference and predicted values of the same frames, flattened, for the plots."""

    energy_ref_ev_atom: np.ndarray
    energy_pred_ev_atom: np.ndarray
    force_ref_ev_ang: np.ndarray
    force_pred_ev_ang: np.ndarray
    stress_ref_gpa: np.ndarray
    stress_pred_gpa: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    """Errors over ``n_frames`` frames (``n_atoms`` atoms in all); stress None without any."""

    n_frames: int
    n_atoms: int
    energy_rmse_mev_atom: float
    energy_mae_mev_atom: float
    force_rmse_mev_ang: float
    force_mae_mev_ang: float
    stress_rmse_gpa: float | None
    stress_mae_gpa: float | None
    parity: Parity


def evaluate(
    calculator: Calculator, frames: Sequence[Atoms], progress: Progress | None = None
) -> Evaluation:
    """Predict every frame with ``calculator`` and compare with the frame's labels."""
    if not frames:
        raise DatasetError("no frames to evaluate on")
    if progress:
        progress.start("evaluate", len(frames))
    e_ref, e_pred, f_ref, f_pred, s_ref, s_pred = [], [], [], [], [], []
    for frame in frames:
        energy, forces, stress = labels(frame)
        atoms = frame.copy()
        atoms.calc = calculator
        e_ref.append(energy / len(frame))
        e_pred.append(atoms.get_potential_energy() / len(frame))
        f_ref.append(np.ravel(forces))
        f_pred.append(np.ravel(atoms.get_forces()))
        if stress is not None:
            s_ref.append(stress / units.GPa)
            s_pred.append(atoms.get_stress(voigt=True) / units.GPa)
        if progress:
            progress.advance("evaluate")
    parity = Parity(
        np.array(e_ref),
        np.array(e_pred),
        np.concatenate(f_ref),
        np.concatenate(f_pred),
        np.concatenate(s_ref) if s_ref else np.empty(0),
        np.concatenate(s_pred) if s_pred else np.empty(0),
    )
    stress_rmse, stress_mae = (
        _rmse_mae(parity.stress_ref_gpa, parity.stress_pred_gpa, 1.0) if s_ref else (None, None)
    )
    return Evaluation(
        len(frames),
        sum(len(frame) for frame in frames),
        *_rmse_mae(parity.energy_ref_ev_atom, parity.energy_pred_ev_atom, 1000.0),
        *_rmse_mae(parity.force_ref_ev_ang, parity.force_pred_ev_ang, 1000.0),
        stress_rmse,
        stress_mae,
        parity,
    )


def _rmse_mae(reference: np.ndarray, predicted: np.ndarray, scale: float) -> tuple[float, float]:
    difference = (predicted - reference) * scale
    return float(np.sqrt(np.mean(difference**2))), float(np.mean(np.abs(difference)))


def parity_plot(evaluation: Evaluation, path: Path, title: str) -> Path:
    """Predicted against reference energies, forces (and stresses): one panel each, PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parity = evaluation.parity
    panels = [
        (
            "energy (eV/atom)",
            parity.energy_ref_ev_atom,
            parity.energy_pred_ev_atom,
            f"RMSE {evaluation.energy_rmse_mev_atom:.3g} meV/atom",
        ),
        (
            "force component (eV/Å)",
            parity.force_ref_ev_ang,
            parity.force_pred_ev_ang,
            f"RMSE {evaluation.force_rmse_mev_ang:.3g} meV/Å",
        ),
    ]
    if evaluation.stress_rmse_gpa is not None:
        panels.append(
            (
                "stress component (GPa)",
                parity.stress_ref_gpa,
                parity.stress_pred_gpa,
                f"RMSE {evaluation.stress_rmse_gpa:.3g} GPa",
            )
        )
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2))
    for axis, (label, reference, predicted, note) in zip(axes, panels, strict=True):
        low = float(min(reference.min(), predicted.min()))
        high = float(max(reference.max(), predicted.max()))
        axis.plot([low, high], [low, high], color="0.6", linewidth=1)
        axis.scatter(reference, predicted, s=6, alpha=0.6)
        axis.set_xlabel(f"reference {label}")
        axis.set_ylabel(f"predicted {label}")
        axis.set_title(note, fontsize=10)
    figure.suptitle(f"{title} ({evaluation.n_frames} frames)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def learning_curve_plot(
    sizes: Sequence[int], evaluations: Sequence[Evaluation], path: Path
) -> Path:
    """Test-set energy and force RMSE against training-set size (log-log), PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (energy_axis, force_axis) = plt.subplots(1, 2, figsize=(8.4, 4.0))
    energy_axis.loglog(sizes, [e.energy_rmse_mev_atom for e in evaluations], "o-")
    energy_axis.set_ylabel("energy RMSE (meV/atom)")
    force_axis.loglog(sizes, [e.force_rmse_mev_ang for e in evaluations], "o-")
    force_axis.set_ylabel("force RMSE (meV/Å)")
    for axis in (energy_axis, force_axis):
        axis.set_xlabel("training frames")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
