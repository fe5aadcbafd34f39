"""PNG figures for ``screening analyze``: MSD curves with the fit window, and ln D(1/T) with
the fit and its 95% band. matplotlib with the Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from screening.arrhenius import ArrheniusFit
from screening.diffusion import ANG2_PS_TO_CM2_S, AXES, DiffusionResult


def _pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend (imported on first use: it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_diffusion(result: DiffusionResult, path: Path) -> None:
    """Total and lattice-axis MSD (Å²) against lag time (ps), the fit window shaded and the
    fitted slope 6D drawn through the MSD at the window's centre."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 4.5))
    lag = result.time_ps
    axis.plot(lag, result.msd.total_ang2, color="black", label="total")
    for name in AXES:
        axis.plot(lag, result.msd.axes_ang2[name], lw=0.8, label=f"along {name}")
    if result.window_ps is not None and result.d_cm2_s is not None:
        start, end = result.window_ps
        axis.axvspan(start, end, color="tab:green", alpha=0.12, label="fit window")
        centre = (start + end) / 2
        anchor = np.interp(centre, lag, result.msd.total_ang2)
        slope = 6 * result.d_cm2_s / ANG2_PS_TO_CM2_S  # Å²/ps
        times = np.array([start, end])
        axis.plot(times, anchor + slope * (times - centre), "--", color="tab:red", label="6Dt")
    axis.set_xlabel("lag time (ps)")
    axis.set_ylabel(f"{result.species} MSD (Å²)")
    axis.set_title(_diffusion_title(result))
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _diffusion_title(result: DiffusionResult) -> str:
    if result.d_cm2_s is None:
        return f"{result.species}: not fitted ({result.reason})"
    return f"{result.species}: D = {result.d_cm2_s:.3g} ± {result.d_err_cm2_s:.2g} cm²/s"


def plot_arrhenius(
    fit: ArrheniusFit,
    temperatures_k: np.ndarray,
    d_cm2_s: np.ndarray,
    d_err_cm2_s: np.ndarray | None,
    temperature_k: float,
    path: Path,
) -> None:
    """D (cm², log scale) against 1000/T (K⁻¹): the points with their errors, the fit, its
    95% band where the fit has one, extended to ``temperature_k``."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 4.5))
    axis.errorbar(1000 / temperatures_k, d_cm2_s, yerr=d_err_cm2_s, fmt="o", label="table")
    span = np.linspace(min(temperature_k, temperatures_k.min()), temperatures_k.max(), 100)
    values = np.array([fit.d_at(t) for t in span], dtype=float)
    axis.plot(1000 / span, values[:, 0], color="black", label=_arrhenius_label(fit))
    if np.isfinite(values[:, 1]).all():
        axis.fill_between(1000 / span, values[:, 1], values[:, 2], alpha=0.2, label="95% CI")
    axis.axvline(1000 / temperature_k, color="grey", lw=0.8, ls=":")
    axis.set_yscale("log")
    axis.set_xlabel("1000 / T (1/K)")
    axis.set_ylabel("D (cm²/s)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _arrhenius_label(fit: ArrheniusFit) -> str:
    error = "" if fit.e_a_err_ev is None else f" ± {fit.e_a_err_ev:.3f}"
    return f"E_a = {fit.e_a_ev:.3f}{error} eV"
