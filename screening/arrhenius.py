"""Arrhenius fit of D(T): E_a with its standard error, and extrapolation with the covariance.

ln D = ln D0 - E_a / (k_B T) is fitted by weighted least squares with sigma(ln D) = d_err / d
(D and d_err in cm²/s, T in K, E_a in eV). The parameter covariance (X^T W X)^-1 trusts the
input errors; when the fit is worse than they allow (chi²/dof > 1) it is multiplied by
chi²/dof (the Birge ratio squared), and never shrunk when chi²/dof < 1. Intervals are taken in
ln D: a Student-t quantile with dof = n - 2 when the covariance was scaled (its size then comes
from the residuals), the normal quantile when the input errors were trusted.

Two temperatures determine the line exactly: E_a and D0 are returned, but e_a_err_ev, the
covariance and every interval bound are None (nothing checks the input errors, and the
t-distribution has no degree of freedom). Three or more give errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.constants as const
import scipy.stats

from screening.diffusion import nernst_einstein_ms_cm

K_B_EV_K = const.physical_constants["Boltzmann constant in eV/K"][0]
CONFIDENCE = 0.95


@dataclass(frozen=True)
class ArrheniusFit:
    """E_a (eV) and D0 (cm²/s) of ln D = ln D0 - E_a / (k_B T); ``covariance`` is the 2x2
    matrix of (ln D0, E_a) in (ln cm²/s, eV), None with two temperatures."""

    e_a_ev: float
    e_a_err_ev: float | None
    d0_cm2_s: float
    covariance: np.ndarray | None
    temperatures_k: tuple[float, ...]
    chi2_reduced: float | None
    covariance_scaled: bool

    @property
    def dof(self) -> int:
        return len(self.temperatures_k) - 2

    def d_at(self, temperature_k: float) -> tuple[float, float | None, float | None]:
        """D (cm²/s) at temperature_k (K) with its 95% interval (low, high); the bounds are
        None with two temperatures."""
        if temperature_k <= 0:
            raise ValueError(f"temperature must be positive, got {temperature_k} K")
        gradient = np.array([1.0, -1.0 / (K_B_EV_K * temperature_k)])
        ln_d = np.log(self.d0_cm2_s) + gradient[1] * self.e_a_ev
        if self.covariance is None:
            return float(np.exp(ln_d)), None, None
        spread = np.sqrt(gradient @ self.covariance @ gradient)
        if self.covariance_scaled:
            quantile = scipy.stats.t.ppf(0.5 + CONFIDENCE / 2, self.dof)
        else:
            quantile = scipy.stats.norm.ppf(0.5 + CONFIDENCE / 2)
        low, high = np.exp(ln_d - quantile * spread), np.exp(ln_d + quantile * spread)
        return float(np.exp(ln_d)), float(low), float(high)

    def sigma_at(
        self, temperature_k: float, n_ions: int, volume_ang3: float, charge: int = 1
    ) -> tuple[float, float | None, float | None]:
        """Nernst-Einstein sigma (mS/cm) at temperature_k (K) from ``d_at``, for n_ions of
        charge (e) in volume_ang3 (Å³), with its 95% interval."""
        d, low, high = self.d_at(temperature_k)

        def convert(value: float) -> float:
            return nernst_einstein_ms_cm(value, n_ions, volume_ang3, temperature_k, charge)

        return (
            convert(d),
            None if low is None else convert(low),
            None if high is None else convert(high),
        )


def fit_arrhenius(
    temperatures_k: Sequence[float], d_cm2_s: Sequence[float], d_err_cm2_s: Sequence[float]
) -> ArrheniusFit:
    """Weighted fit of ln D against 1 / (k_B T) (see the module docstring).

    Raises ValueError for fewer than two distinct temperatures, mismatched lengths, or any
    non-positive or non-finite T, D or error.
    """
    t = np.asarray(temperatures_k, dtype=float)
    d = np.asarray(d_cm2_s, dtype=float)
    err = np.asarray(d_err_cm2_s, dtype=float)
    if not t.shape == d.shape == err.shape or t.ndim != 1:
        raise ValueError("temperatures, D and D errors must be 1-d and of equal length")
    for name, values in (("temperature", t), ("D", d), ("D error", err)):
        if not (np.isfinite(values).all() and (values > 0).all()):
            raise ValueError(f"every {name} must be positive and finite, got {values.tolist()}")
    if len(np.unique(t)) < 2:
        raise ValueError("an Arrhenius fit needs at least two distinct temperatures")
    design = np.column_stack([np.ones_like(t), -1.0 / (K_B_EV_K * t)])
    weights = (d / err) ** 2  # 1 / sigma(ln D)²
    normal = design.T @ (weights[:, None] * design)
    covariance = np.linalg.inv(normal)
    ln_d0, e_a = covariance @ (design.T @ (weights * np.log(d)))
    dof = len(t) - 2
    if dof == 0:
        return ArrheniusFit(
            float(e_a), None, float(np.exp(ln_d0)), None, tuple(t.tolist()), None, False
        )
    residuals = np.log(d) - design @ np.array([ln_d0, e_a])
    chi2_reduced = float(np.sum(weights * residuals**2) / dof)
    scaled = chi2_reduced > 1.0
    if scaled:
        covariance = covariance * chi2_reduced
    return ArrheniusFit(
        e_a_ev=float(e_a),
        e_a_err_ev=float(np.sqrt(covariance[1, 1])),
        d0_cm2_s=float(np.exp(ln_d0)),
        covariance=covariance,
        temperatures_k=tuple(t.tolist()),
        chi2_reduced=chi2_reduced,
        covariance_scaled=scaled,
    )
