"""MSD and diffusivity on synthetic walks whose D is known: a²Γ/6 for hops of length a at rate Γ.

Walkers hop at Poisson times, so their MSD is exactly linear in time (no ballistic start);
positions are wrapped into the cell so that every test also goes through the unwrapping.
"""

from __future__ import annotations

import numpy as np
import pytest

from screening.diffusion import (
    FitWindowRule,
    analyze_diffusion,
    find_fit_window,
    fit_diffusivity,
    free_walk_relative_error,
    msd_fft,
    msd_tensor_fft,
    nernst_einstein_ms_cm,
    remove_framework_drift,
    resolve_msd,
    unwrap,
)
from screening.trajectory import Trajectory

DT_PS = 0.1
RATE_PER_PS = 2.0
HOP_ANG = 1.5
D_TRUE_CM2_S = HOP_ANG**2 * RATE_PER_PS / 6 * 1e-4
CUBIC_HOPS = HOP_ANG * np.vstack([np.eye(3), -np.eye(3)])
IN_PLANE_HOPS = HOP_ANG * np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], dtype=float)


def cell_from_parameters(
    a: float, b: float, c: float, alpha: float, beta: float, gamma: float
) -> np.ndarray:
    """Rows a, b, c (Å) in the usual setting: a along x, b in the xy plane (angles in degrees)."""
    al, be, ga = np.radians([alpha, beta, gamma])
    cx = c * np.cos(be)
    cy = c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
    return np.array(
        [
            [a, 0.0, 0.0],
            [b * np.cos(ga), b * np.sin(ga), 0.0],
            [cx, cy, np.sqrt(c**2 - cx**2 - cy**2)],
        ]
    )


CUBIC = cell_from_parameters(18, 18, 18, 90, 90, 90)
MONOCLINIC = cell_from_parameters(18, 19, 20, 90, 110, 90)  # β between a and c
MONOCLINIC_GAMMA = cell_from_parameters(18, 19, 20, 90, 90, 110)  # c normal to the ab plane
TRICLINIC = cell_from_parameters(9, 10, 11, 75, 105, 80)


def lattice_walk(
    rng: np.random.Generator, n_walkers: int, n_frames: int, hops: np.ndarray, cell: np.ndarray
) -> np.ndarray:
    """Unwrapped positions (n_frames, n_walkers, 3) Å: hops drawn from ``hops`` at Poisson
    times of rate RATE_PER_PS, sampled every DT_PS."""
    counts = rng.poisson(RATE_PER_PS * DT_PS, size=(n_frames - 1, n_walkers))
    steps = np.zeros((n_frames - 1, n_walkers, 3))
    for j in range(counts.max()):
        chosen = hops[rng.integers(len(hops), size=counts.shape)]
        steps += np.where((counts > j)[..., None], chosen, 0.0)
    start = rng.uniform(0, 1, (n_walkers, 3)) @ cell
    return np.concatenate([start[None], start + np.cumsum(steps, axis=0)])


def wrap(positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    fractional = positions @ np.linalg.inv(cell)
    return (fractional - np.floor(fractional)) @ cell


def trajectory(positions: np.ndarray, cell: np.ndarray, symbols: list[str]) -> Trajectory:
    n_frames = positions.shape[0]
    return Trajectory(
        symbols=tuple(symbols),
        positions_ang=positions,
        cells_ang=np.repeat(cell[None], n_frames, axis=0),
        times_ps=np.arange(n_frames) * DT_PS,
        energies_ev=np.zeros(n_frames),
        temperatures_k=np.full(n_frames, 300.0),
    )


def direct_msd(x: np.ndarray) -> np.ndarray:
    """The O(N²) definition: every lag, every origin, every atom, summed over components."""
    n = x.shape[0]
    return np.array([0.0] + [np.mean(np.sum((x[m:] - x[:-m]) ** 2, axis=-1)) for m in range(1, n)])


@pytest.mark.parametrize("k", [1, 2, 3])
def test_msd_fft_equals_direct_loop(k: int) -> None:
    x = np.random.default_rng(k).normal(size=(64, 5, k)).cumsum(axis=0) + 40.0
    np.testing.assert_allclose(msd_fft(x), direct_msd(x), rtol=1e-10, atol=1e-10)


def test_msd_tensor_projects_to_the_scalar_msd() -> None:
    x = np.random.default_rng(4).normal(size=(50, 6, 3)).cumsum(axis=0)
    tensor = msd_tensor_fft(x)
    u = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
    np.testing.assert_allclose(np.trace(tensor, axis1=1, axis2=2), direct_msd(x), atol=1e-10)
    np.testing.assert_allclose(
        np.einsum("i,tij,j->t", u, tensor, u), direct_msd((x @ u)[..., None]), atol=1e-10
    )
    np.testing.assert_allclose(tensor, tensor.transpose(0, 2, 1), atol=1e-12)


@pytest.mark.parametrize("cell", [CUBIC, TRICLINIC], ids=["cubic", "triclinic"])
def test_unwrap_undoes_many_boundary_crossings(cell: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    true = rng.normal(0, 0.7, size=(3000, 4, 3)).cumsum(axis=0)
    wrapped = wrap(true, cell)
    crossings = np.abs(np.diff(wrapped @ np.linalg.inv(cell), axis=0)).round().sum()
    assert crossings > 100
    cells = np.repeat(cell[None], len(true), axis=0)
    unwrapped = unwrap(wrapped, cells)
    np.testing.assert_allclose(unwrapped - unwrapped[0], true - true[0], atol=1e-8)
    np.testing.assert_allclose(msd_fft(unwrapped), msd_fft(true), rtol=1e-10, atol=1e-8)
    # Per-frame cells (the NPT path) that happen to be equal give the same answer.
    cells[1::2] *= 1 + 1e-15
    np.testing.assert_allclose(unwrap(wrapped, cells), unwrapped, atol=1e-8)


def test_unwrap_with_a_breathing_cell_has_no_cell_sized_jumps() -> None:
    rng = np.random.default_rng(2)
    n_frames = 2000
    scale = 1 + 0.02 * np.sin(np.linspace(0, 6 * np.pi, n_frames))
    cells = TRICLINIC[None] * scale[:, None, None]
    fractional = rng.normal(0, 0.01, size=(n_frames, 6, 3)).cumsum(axis=0)
    wrapped = np.einsum("tai,tij->taj", fractional - np.floor(fractional), cells)
    unwrapped = unwrap(wrapped, cells)
    steps = np.diff(unwrapped, axis=0)
    assert np.abs(np.diff(wrapped, axis=0)).max() > 5.0
    assert np.linalg.norm(steps, axis=-1).max() < 1.0
    # Each step differs from the wrapped one by a lattice vector of the NEWER frame's cell.
    images = np.einsum("taj,tji->tai", steps - np.diff(wrapped, axis=0), np.linalg.inv(cells[1:]))
    assert np.abs(images).max() > 0.5
    np.testing.assert_allclose(images, np.rint(images), atol=1e-9)


def test_framework_drift_is_mass_weighted() -> None:
    displacements = np.zeros((2, 3, 3))
    displacements[1, 0] = [9.0, 9.0, 9.0]  # Li: mobile, ignored
    displacements[1, 1] = [1.0, 0.0, 0.0]  # O, 15.999
    displacements[1, 2] = [0.0, 2.0, 0.0]  # Y, 88.906
    corrected = remove_framework_drift(
        displacements, ("Li", "O", "Y"), np.array([True, False, False])
    )
    drift = np.array([15.999 * 1.0, 88.906 * 2.0, 0.0]) / (15.999 + 88.906)
    np.testing.assert_allclose(corrected[1, 0], [9.0, 9.0, 9.0] - drift, rtol=1e-4)
    np.testing.assert_allclose(corrected[0], 0.0)


@pytest.mark.parametrize("cell", [CUBIC, MONOCLINIC], ids=["cubic", "monoclinic"])
def test_random_walk_recovers_d_in_every_direction(cell: np.ndarray) -> None:
    # Sites of a simple cubic lattice (hops ±x, ±y, ±z): isotropic, so every lattice axis,
    # plane and the total see a²Γ/6, however skewed the cell.
    positions = wrap(lattice_walk(np.random.default_rng(7), 40, 2000, CUBIC_HOPS, cell), cell)
    result = analyze_diffusion(trajectory(positions, cell, ["Li"] * 40), "Li", hop_length_ang=1.5)

    assert result.diffusive and result.reason is None
    assert result.window_ps == pytest.approx((2.0, 99.9))  # 2 ps floor, half the 199.9 ps run
    assert result.d_err_cm2_s == max(result.d_err_he_cm2_s, result.d_err_block_cm2_s)
    n_eff = 40 * result.msd_max_ang2 / 1.5**2
    he = result.d_cm2_s * (3.43 / np.sqrt(n_eff) + 0.04)
    assert result.d_err_he_cm2_s == pytest.approx(he)
    blocks = np.array(result.d_blocks_cm2_s)
    assert result.d_err_block_cm2_s == pytest.approx(blocks.std(ddof=1) / np.sqrt(5))
    assert len(result.d_blocks_cm2_s) == 5
    assert 0.02 < result.d_err_cm2_s / result.d_cm2_s < 0.2
    assert abs(result.d_cm2_s - D_TRUE_CM2_S) < 3 * result.d_err_cm2_s
    for values, errors in [
        (result.d_axes_cm2_s, result.d_axes_err_cm2_s),
        (result.d_planes_cm2_s, result.d_planes_err_cm2_s),
        (result.d_cartesian_cm2_s, result.d_cartesian_err_cm2_s),
    ]:
        for name, d in values.items():
            assert abs(d - D_TRUE_CM2_S) < 3 * errors[name], name
    assert result.n_ions == 40
    assert result.n_eff == pytest.approx(n_eff)
    volume = abs(np.linalg.det(cell))
    assert result.volume_ang3 == pytest.approx(volume)
    assert result.sigma_ms_cm == pytest.approx(
        nernst_einstein_ms_cm(result.d_cm2_s, 40, volume, 300.0, 1)
    )
    if result.haven_ratio is not None:  # independent walkers: H_R = 1
        assert abs(result.haven_ratio - 1) < 3 * result.haven_ratio_err


def test_reported_errors_match_the_scatter_over_independent_runs() -> None:
    # Honest errors: (D - D_true) / d_err has a spread near 1, for the tracer D (He or
    # blocks) and for the collective D_sigma (blocks or the free-walk model); an OLS slope
    # error would give spreads of several.
    tracer, collective = [], []
    for seed in range(40):
        positions = wrap(
            lattice_walk(np.random.default_rng(100 + seed), 20, 1000, CUBIC_HOPS, CUBIC), CUBIC
        )
        result = analyze_diffusion(
            trajectory(positions, CUBIC, ["Li"] * 20), "Li", hop_length_ang=1.5
        )
        tracer.append((result.d_cm2_s - D_TRUE_CM2_S) / result.d_err_cm2_s)
        collective.append((result.d_sigma_cm2_s - D_TRUE_CM2_S) / result.d_sigma_err_cm2_s)
    assert 0.5 < np.std(tracer) < 1.3
    assert 0.6 < np.std(collective) < 1.3


def test_in_plane_hops_in_a_monoclinic_cell_follow_the_lattice_geometry() -> None:
    # Hops ±x, ±y lie in the ab plane (a ∥ x, b ∥ y); D tensor = D_ab diag(1, 1, 0) with
    # D_ab = a²Γ/4. The ac normal is ŷ: D_ac = D_ab / 2. The bc normal is (sin β, 0, -cos β):
    # D_bc = D_ab (1 + cos²β) / 2. ĉ = (cos β, 0, sin β): D_c = D_ab cos²β, not zero.
    positions = wrap(
        lattice_walk(np.random.default_rng(11), 40, 2000, IN_PLANE_HOPS, MONOCLINIC), MONOCLINIC
    )
    result = analyze_diffusion(
        trajectory(positions, MONOCLINIC, ["Na"] * 40), "Na", hop_length_ang=1.5
    )
    d_ab = HOP_ANG**2 * RATE_PER_PS / 4 * 1e-4
    cos2 = np.cos(np.radians(110.0)) ** 2
    expected = {
        "ab": d_ab,
        "ac": d_ab / 2,
        "bc": d_ab * (1 + cos2) / 2,
        "a": d_ab,
        "b": d_ab,
        "c": d_ab * cos2,
        "z": 0.0,
    }
    found = result.d_planes_cm2_s | result.d_axes_cm2_s | result.d_cartesian_cm2_s
    errors = result.d_planes_err_cm2_s | result.d_axes_err_cm2_s | result.d_cartesian_err_cm2_s
    for name, d in expected.items():
        assert abs(found[name] - d) < 3 * errors[name] + 1e-14, name
    assert found["ac"] / found["ab"] == pytest.approx(0.5, abs=0.1)
    assert found["c"] / found["ab"] == pytest.approx(cos2, abs=0.03)
    assert abs(result.d_cm2_s - D_TRUE_CM2_S) < 3 * result.d_err_cm2_s


def test_in_plane_hops_give_no_d_along_c_normal_to_the_plane() -> None:
    positions = wrap(
        lattice_walk(np.random.default_rng(12), 40, 2000, IN_PLANE_HOPS, MONOCLINIC_GAMMA),
        MONOCLINIC_GAMMA,
    )
    result = analyze_diffusion(trajectory(positions, MONOCLINIC_GAMMA, ["Li"] * 40), "Li")
    d_ab = result.d_planes_cm2_s["ab"]
    assert abs(d_ab - HOP_ANG**2 * RATE_PER_PS / 4 * 1e-4) < 3 * result.d_planes_err_cm2_s["ab"]
    assert abs(result.d_axes_cm2_s["c"]) < 1e-9 * d_ab
    assert result.d_planes_cm2_s["ac"] == pytest.approx(d_ab / 2, rel=0.2)
    assert result.d_planes_cm2_s["bc"] == pytest.approx(d_ab / 2, rel=0.2)


def test_uniform_drift_is_removed_with_the_framework() -> None:
    rng = np.random.default_rng(5)
    li = lattice_walk(rng, 30, 1500, CUBIC_HOPS, CUBIC)
    sites = rng.uniform(0, 1, (20, 3)) @ CUBIC
    framework = sites + rng.normal(0, 0.1, size=(1500, 20, 3))
    positions = np.concatenate([li, framework], axis=1)
    symbols = ["Li"] * 30 + ["Cl"] * 16 + ["In"] * 4
    still = analyze_diffusion(trajectory(wrap(positions, CUBIC), CUBIC, symbols), "Li")
    drift = np.arange(1500)[:, None, None] * DT_PS * np.array([0.2, -0.1, 0.15])  # Å/ps
    moving = analyze_diffusion(trajectory(wrap(positions + drift, CUBIC), CUBIC, symbols), "Li")
    assert moving.d_cm2_s == pytest.approx(still.d_cm2_s, rel=1e-9)
    assert moving.d_planes_cm2_s["bc"] == pytest.approx(still.d_planes_cm2_s["bc"], rel=1e-9)
    # Without the correction the drift would add 2 v² t to the MSD slope, a ~50% effect.
    raw = msd_fft(unwrap(wrap(positions + drift, CUBIC), np.repeat(CUBIC[None], 1500, 0))[:, :30])
    assert raw[700] > 1.3 * still.msd.total_ang2[700]


def test_concerted_hops_give_haven_ratio_one_over_n() -> None:
    # Every ion makes the same hop at the same time: D_sigma = N D_tracer, H_R = 1 / N. The
    # tracer MSD is then one walk's, noisy enough to need a wider slope band for its window.
    one = lattice_walk(np.random.default_rng(0), 1, 2000, CUBIC_HOPS, CUBIC)
    offsets = np.random.default_rng(4).uniform(0, 18, size=(1, 8, 3))
    result = analyze_diffusion(
        trajectory(wrap(one + offsets, CUBIC), CUBIC, ["Li"] * 8),
        "Li",
        rule=FitWindowRule(slope_min=0.5, slope_max=1.5),
    )
    assert result.d_sigma_cm2_s == pytest.approx(8 * result.d_cm2_s, rel=1e-9)
    assert result.haven_ratio == pytest.approx(1 / 8, rel=1e-9)
    relative = np.hypot(
        result.d_err_cm2_s / result.d_cm2_s, result.d_sigma_err_cm2_s / result.d_sigma_cm2_s
    )
    assert result.haven_ratio_err == pytest.approx(relative / 8)


@pytest.mark.parametrize("amplitude_ang", [0.1, 1.5])
def test_vibrating_atoms_are_flagged_not_fitted(amplitude_ang: float) -> None:
    rng = np.random.default_rng(6)
    sites = rng.uniform(0, 1, (20, 3)) @ CUBIC
    positions = wrap(sites + rng.normal(0, amplitude_ang, size=(2000, 20, 3)), CUBIC)
    result = analyze_diffusion(trajectory(positions, CUBIC, ["Li"] * 20), "Li")
    assert not result.diffusive
    assert "not diffusive" in result.reason
    assert result.d_cm2_s is None and result.d_err_cm2_s is None and result.sigma_ms_cm is None
    assert result.window_ps is None and result.haven_ratio is None
    assert set(result.d_planes_cm2_s.values()) == {None}
    assert result.msd.total_ang2.shape == (2000,)  # the curves are still kept


def test_linear_msd_below_one_hop_is_flagged() -> None:
    tiny_hops = 0.1 * np.vstack([np.eye(3), -np.eye(3)])
    positions = wrap(lattice_walk(np.random.default_rng(8), 100, 1000, tiny_hops, CUBIC), CUBIC)
    result = analyze_diffusion(trajectory(positions, CUBIC, ["Li"] * 100), "Li")
    assert result.msd_max_ang2 < 2.5**2
    assert not result.diffusive
    assert "below one hop length" in result.reason
    assert result.d_cm2_s is None and result.window_ps is None


def test_a_run_too_short_for_a_window_is_flagged() -> None:
    positions = wrap(lattice_walk(np.random.default_rng(10), 20, 30, CUBIC_HOPS, CUBIC), CUBIC)
    result = analyze_diffusion(trajectory(positions, CUBIC, ["Li"] * 20), "Li")  # 2.9 ps
    assert not result.diffusive and result.d_cm2_s is None
    assert result.reason.startswith("run too short")


def test_fit_window_skips_a_ballistic_start_and_a_cage_plateau() -> None:
    # 6 D t plus a vibrational term that rises as t² (ballistic) and saturates at 2 Å²: the
    # local slope 0.3 t / (0.3 t + 2) reaches 0.8 at t = 26.7 ps.
    time_ps = np.arange(4001) * 0.05  # 200 ps
    msd = 6 * 0.05 * time_ps + 2.0 * (1 - np.exp(-((time_ps / 0.3) ** 2)))
    start, end = find_fit_window(time_ps, msd)
    assert time_ps[end] == pytest.approx(100.0)
    step = 10**0.2  # the slope grid has 5 points per decade
    assert 26.7 / step <= time_ps[start] <= 26.7 * step
    assert fit_diffusivity(time_ps, msd, (start, end), 3) == pytest.approx(0.05e-4, rel=1e-6)
    # Exactly linear: from the 2 ps floor.
    assert find_fit_window(time_ps, 6 * 0.05 * time_ps) == (40, 2000)
    # Diffusive at first, then trapped: the slope across the whole window gives it away.
    assert find_fit_window(time_ps, 6 * 0.05 * np.minimum(time_ps, 20.0)) is None
    # A cage plateau that creeps at the end is not diffusive.
    plateau = 12.0 * (1 - np.exp(-time_ps / 0.3)) + 0.01 * time_ps * (time_ps > 40)
    assert find_fit_window(time_ps, plateau) is None


def test_a_lower_slope_bound_admits_a_short_run_on_its_cage_plateau() -> None:
    # A demo-length run: 8 ps, D = 4e-5 cm²/s (0.4 Å²/ps) over a 1.5 Å² cage plateau. Its
    # log-log slope 2.4 t / (2.4 t + 1.5) is 0.76 at 2 ps and 0.86 at 4 ps: never in
    # [0.8, 1.2] from the 1 ps floor on, but in [0.7, 1.2] from 1.5 ps.
    time_ps = np.arange(1601) * 0.005
    msd = 6 * 0.4 * time_ps + 1.5 * (1 - np.exp(-((time_ps / 0.1) ** 2)))
    assert find_fit_window(time_ps, msd, FitWindowRule(min_start_ps=1.0)) is None
    window = find_fit_window(time_ps, msd, FitWindowRule(min_start_ps=1.0, slope_min=0.7))
    assert window is not None and 1.0 <= time_ps[window[0]] <= 1.5 * 10**0.2
    assert time_ps[window[1]] == pytest.approx(4.0)
    # the intercept-free fit takes the plateau out: D is exact
    assert fit_diffusivity(time_ps, msd, window, 3) == pytest.approx(4e-5, rel=1e-6)


def test_free_walk_error_matches_the_scatter_of_simulated_walks() -> None:
    # The collective D's model error: the spread of fit_diffusivity over free 3-D walks.
    rng = np.random.default_rng(9)
    time_ps = np.arange(400) * DT_PS
    window = (20, 199)
    fits = [
        fit_diffusivity(time_ps, msd_fft(rng.normal(size=(400, 1, 3)).cumsum(axis=0)), window, 3)
        for _ in range(400)
    ]
    scatter = np.std(fits, ddof=1) / np.mean(fits)
    model = free_walk_relative_error(400, window, n_walks=400, seed=1)
    assert model == pytest.approx(scatter, rel=0.2)
    assert free_walk_relative_error(400, (60, 199), n_walks=400, seed=1) > 1.2 * model


def test_nernst_einstein_against_a_hand_computed_number() -> None:
    # 1 ion per 100 Å³ = 1e22 cm⁻³; sigma = n e² D / (k_B T)
    #   = 1e22 x (1.602176634e-19)² x 1e-6 / (1.380649e-23 x 300) S/cm = 0.0619754 S/cm.
    assert nernst_einstein_ms_cm(1e-6, 1, 100.0, 300.0, 1) == pytest.approx(61.9754, rel=1e-5)
    assert nernst_einstein_ms_cm(1e-6, 3, 300.0, 300.0, 2) == pytest.approx(4 * 61.9754, rel=1e-5)
    with pytest.raises(ValueError, match="positive"):
        nernst_einstein_ms_cm(1e-6, 1, 100.0, 0.0, 1)


def test_resolve_msd_of_an_isotropic_tensor() -> None:
    tensor = np.repeat(np.eye(3)[None] * 2.0, 3, axis=0)
    curves = resolve_msd(tensor, MONOCLINIC)
    np.testing.assert_allclose(curves.total_ang2, 6.0)
    for name in ("a", "b", "c"):
        np.testing.assert_allclose(curves.axes_ang2[name], 2.0)
    for name in ("ab", "ac", "bc"):
        np.testing.assert_allclose(curves.planes_ang2[name], 4.0)


def test_bad_inputs_are_named() -> None:
    positions = np.zeros((10, 2, 3))
    traj = trajectory(positions, CUBIC, ["Li", "Cl"])
    with pytest.raises(ValueError, match="no Na atoms"):
        analyze_diffusion(traj, "Na")
    uneven = Trajectory(
        traj.symbols,
        positions,
        traj.cells_ang,
        np.r_[0.0, np.cumsum(np.linspace(0.1, 0.2, 9))],
        traj.energies_ev,
        traj.temperatures_k,
    )
    with pytest.raises(ValueError, match="equally spaced"):
        analyze_diffusion(uneven, "Li")
