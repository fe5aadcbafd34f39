"""Arrhenius fits on synthetic D(T) drawn around a known law: E_a 0.3 eV, D0 1e-3 cm²/s."""

from __future__ import annotations

import numpy as np
import pytest

import screening.arrhenius as arrhenius
import screening.diffusion as diffusion
from screening.arrhenius import K_B_EV_K, fit_arrhenius

E_A_EV = 0.3
D0_CM2_S = 1e-3
RELATIVE_NOISE = 0.2


def true_d(temperatures_k: np.ndarray) -> np.ndarray:
    return D0_CM2_S * np.exp(-E_A_EV / (K_B_EV_K * temperatures_k))


def draw(seed: int, temperatures_k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """D scattered log-normally with the relative size it reports as its error."""
    rng = np.random.default_rng(seed)
    d = true_d(temperatures_k) * np.exp(rng.normal(0, RELATIVE_NOISE, len(temperatures_k)))
    return d, RELATIVE_NOISE * d


FIVE_TEMPERATURES = np.array([500.0, 600.0, 700.0, 800.0, 900.0])


def test_exact_data_give_exact_parameters() -> None:
    assert abs(K_B_EV_K - 8.617333e-5) < 1e-11
    fit = fit_arrhenius(
        FIVE_TEMPERATURES, true_d(FIVE_TEMPERATURES), 0.1 * true_d(FIVE_TEMPERATURES)
    )
    assert fit.e_a_ev == pytest.approx(E_A_EV, rel=1e-10)
    assert fit.d0_cm2_s == pytest.approx(D0_CM2_S, rel=1e-9)
    assert fit.d_at(300.0)[0] == pytest.approx(true_d(np.array([300.0]))[0], rel=1e-9)
    assert fit.temperatures_k == (500.0, 600.0, 700.0, 800.0, 900.0)
    assert fit.chi2_reduced == pytest.approx(0.0, abs=1e-16)
    assert not fit.covariance_scaled


def test_fit_recovers_e_a_within_its_standard_error() -> None:
    fit = fit_arrhenius(FIVE_TEMPERATURES, *draw(0, FIVE_TEMPERATURES))
    assert abs(fit.e_a_ev - E_A_EV) < 3 * fit.e_a_err_ev
    assert 0.01 < fit.e_a_err_ev < 0.1
    assert fit.covariance.shape == (2, 2)
    assert fit.e_a_err_ev == pytest.approx(np.sqrt(fit.covariance[1, 1]))
    # Over many draws the deviations are of the size the errors claim.
    pulls = []
    for seed in range(100):
        fit = fit_arrhenius(FIVE_TEMPERATURES, *draw(seed, FIVE_TEMPERATURES))
        pulls.append((fit.e_a_ev - E_A_EV) / fit.e_a_err_ev)
    assert 0.7 < np.std(pulls) < 1.2
    assert np.mean(np.abs(pulls) < 2) > 0.85


def test_standard_error_shrinks_with_more_temperatures() -> None:
    errors = {}
    for n in (4, 8):
        temperatures = np.linspace(500.0, 900.0, n)
        errors[n] = np.mean(
            [
                fit_arrhenius(temperatures, *draw(seed, temperatures)).e_a_err_ev
                for seed in range(100)
            ]
        )
    # The input errors alone predict sqrt(sum_4 / sum_8) of the weighted spread of 1/kT: 0.81
    # for these grids; the reported errors follow (chi² scaling only ever enlarges them).
    expected = {}
    for n in (4, 8):
        temperatures = np.linspace(500.0, 900.0, n)
        d = true_d(temperatures)
        expected[n] = fit_arrhenius(temperatures, d, RELATIVE_NOISE * d).e_a_err_ev
    assert errors[8] / errors[4] < 0.9
    assert errors[8] / errors[4] == pytest.approx(expected[8] / expected[4], abs=0.1)
    assert errors[4] >= expected[4]


def test_room_temperature_interval_covers_the_truth_about_95_percent() -> None:
    d_300 = true_d(np.array([300.0]))[0]
    covered = 0
    for seed in range(200):
        _, low, high = fit_arrhenius(FIVE_TEMPERATURES, *draw(1000 + seed, FIVE_TEMPERATURES)).d_at(
            300.0
        )
        covered += low <= d_300 <= high
    assert 0.85 <= covered / 200 <= 0.99


def test_covariance_is_scaled_by_reduced_chi2_only_when_it_exceeds_one() -> None:
    temperatures = np.array([500.0, 600.0, 700.0, 800.0])
    d = true_d(temperatures) * np.exp([0.3, -0.3, 0.3, -0.3])  # far more scatter than claimed
    err = 0.01 * d
    fit = fit_arrhenius(temperatures, d, err)
    design = np.column_stack([np.ones(4), -1.0 / (K_B_EV_K * temperatures)])
    unscaled = np.linalg.inv(design.T @ (design / 0.01**2))
    assert fit.covariance_scaled and fit.chi2_reduced > 1
    np.testing.assert_allclose(fit.covariance, unscaled * fit.chi2_reduced, rtol=1e-10)
    loose = fit_arrhenius(temperatures, d, 10.0 * d)  # errors far larger than the scatter
    assert not loose.covariance_scaled and loose.chi2_reduced < 1
    np.testing.assert_allclose(loose.covariance, unscaled * 1000.0**2, rtol=1e-10)


@pytest.mark.parametrize(("relative_error", "quantile"), [(0.001, 4.302653), (10.0, 1.959964)])
def test_interval_propagates_the_full_covariance(relative_error: float, quantile: float) -> None:
    # Scaled covariance (errors claimed too small): Student t with 2 dof; trusted: normal.
    temperatures = np.array([500.0, 650.0, 800.0, 950.0])
    d = true_d(temperatures) * np.exp([0.1, -0.1, 0.05, 0.0])
    fit = fit_arrhenius(temperatures, d, relative_error * d)
    assert fit.covariance_scaled == (relative_error < 1)
    x = -1.0 / (8.617333e-5 * 300.0)
    spread = np.sqrt(
        fit.covariance[0, 0] + 2 * x * fit.covariance[0, 1] + x**2 * fit.covariance[1, 1]
    )
    centre, low, high = fit.d_at(300.0)
    assert np.log(centre) == pytest.approx(np.log(fit.d0_cm2_s) + x * fit.e_a_ev, rel=1e-6)
    assert np.log(high / centre) == pytest.approx(quantile * spread, rel=1e-5)
    assert np.log(centre / low) == pytest.approx(quantile * spread, rel=1e-5)


def test_two_temperatures_give_a_line_without_errors() -> None:
    temperatures = np.array([600.0, 900.0])
    fit = fit_arrhenius(temperatures, true_d(temperatures), 0.1 * true_d(temperatures))
    assert fit.e_a_ev == pytest.approx(E_A_EV, rel=1e-10)
    assert fit.e_a_err_ev is None and fit.covariance is None and fit.chi2_reduced is None
    d, low, high = fit.d_at(300.0)
    assert d == pytest.approx(true_d(np.array([300.0]))[0], rel=1e-9)
    assert low is None and high is None
    assert fit.sigma_at(300.0, 10, 1000.0)[1:] == (None, None)


def test_sigma_at_is_nernst_einstein_of_d_at() -> None:
    assert arrhenius.nernst_einstein_ms_cm is diffusion.nernst_einstein_ms_cm
    fit = fit_arrhenius(FIVE_TEMPERATURES, *draw(3, FIVE_TEMPERATURES))
    sigma = fit.sigma_at(300.0, n_ions=24, volume_ang3=1500.0, charge=1)
    for s, d in zip(sigma, fit.d_at(300.0), strict=True):
        assert s == pytest.approx(diffusion.nernst_einstein_ms_cm(d, 24, 1500.0, 300.0, 1))
    assert sigma[1] < sigma[0] < sigma[2]
    doubled = fit.sigma_at(300.0, n_ions=24, volume_ang3=1500.0, charge=2)
    assert doubled[0] == pytest.approx(4 * sigma[0])


@pytest.mark.parametrize(
    ("temperatures", "d", "err", "message"),
    [
        ([500.0, -600.0], [1e-6, 1e-5], [1e-7, 1e-6], "temperature must be positive"),
        ([500.0, 600.0], [1e-6, 0.0], [1e-7, 1e-6], "D must be positive"),
        ([500.0, 600.0], [1e-6, 1e-5], [1e-7, -1e-6], "D error must be positive"),
        ([500.0, 600.0], [1e-6, float("nan")], [1e-7, 1e-6], "D must be positive"),
        ([500.0], [1e-6], [1e-7], "two distinct temperatures"),
        ([500.0, 500.0], [1e-6, 2e-6], [1e-7, 1e-7], "two distinct temperatures"),
        ([500.0, 600.0], [1e-6], [1e-7], "equal length"),
    ],
)
def test_bad_inputs_raise_value_error(
    temperatures: list[float], d: list[float], err: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fit_arrhenius(temperatures, d, err)


def test_extrapolation_to_a_non_positive_temperature_is_refused() -> None:
    fit = fit_arrhenius(FIVE_TEMPERATURES, *draw(4, FIVE_TEMPERATURES))
    with pytest.raises(ValueError, match="positive"):
        fit.d_at(0.0)
