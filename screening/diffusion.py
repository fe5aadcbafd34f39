"""Ion transport from an MD trajectory: MSD, diffusivity D with an honest error, sigma.

Layers point one way: displacements (``unwrap``, ``remove_framework_drift``) -> origin-averaged
MSD (``msd_fft``, ``msd_tensor_fft``) -> lattice directions (``resolve_msd``) -> statistics
(``find_fit_window``, ``fit_diffusivity``, ``he_relative_error``) -> the facade
``analyze_diffusion``. Units: lengths Å, times ps, MSD Å², D cm²/s (1 Å²/ps = 1e-4 cm²/s),
sigma mS/cm, temperatures K, charges in units of e.

Fit window (``FitWindowRule``): the window ends at the last lag <= ``end_fraction`` (0.5) of
the run, where the time origins thin out. It starts no earlier than the floor max(
``min_start_ps``, ``min_start_fraction`` x run) = 2 ps by default (a floor in ps, not a
fraction: a floor that grows with the run would keep D's error from shrinking with longer
runs). The local log-log slope of the MSD is taken between neighbours of a geometric lag grid
(``points_per_decade`` = 5, from one frame to the window end); the start is the first grid lag
at or after the floor from which every local slope over the next factor ``settle_span`` (3)
in lag time lies in [``slope_min``, ``slope_max``] = [0.8, 1.2] (past the ballistic rise and
the cage plateau; the noisy long-lag slopes are not held to the band one by one). The window
is rejected, and the run flagged non-diffusive, when no lag settles, when it holds fewer than
``min_lags`` lags or spans less than a factor ``min_span`` (2), or when the log-log slope
fitted across the whole window leaves the band. A run whose largest MSD is below one hop
length² is flagged too. Flagged runs get no D (None).

Error model: D comes from a weighted linear fit, intercept free, over every lag in the window,
with the variance of MSD(t) taken as MSD² / n_independent(t), MSD ~ t and n_independent =
(n_frames - m) / m at lag m frames, so weights ~ (n_frames - m) / m³. The OLS slope error is
never reported (it ignores that neighbouring lags are correlated). D's error is the larger of
He et al. 2018 (npj Comput. Mater. 4, 18): RSD = 3.43 / sqrt(N_eff) + 0.04 with N_eff =
n_ions x max(MSD) / a_hop² (max over the whole curve, as in their code; per direction with
that direction's MSD), and a block estimate: the run cut into ``n_blocks`` equal blocks, D
fitted in each over [window start, half the block], error = std(D_block, ddof=1) /
sqrt(n_blocks) (None when half a block holds fewer than ``min_lags`` lags past the window
start). The
collective D_sigma (from the MSD of the summed displacement of the mobile ions, divided by N)
is a single walk, for which He's hop count means nothing: its error is the larger of the block
estimate and the spread of the same fit over simulated free 3-D walks
(``free_walk_relative_error``, seeded), and the Haven ratio's error is propagated from both.
Framework drift: before any MSD, the mass-weighted mean displacement of the non-mobile atoms
is subtracted from every atom, frame by frame (nothing is subtracted in an all-mobile cell).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.constants as const
import scipy.fft
from ase.data import atomic_masses, atomic_numbers

from screening.trajectory import Trajectory

logger = logging.getLogger(__name__)

ANG2_PS_TO_CM2_S = 1e-4
AXES = ("a", "b", "c")
PLANES = ("ab", "ac", "bc")
CARTESIAN = ("x", "y", "z")
_PLANE_NORMALS = {"ab": (0, 1), "ac": (0, 2), "bc": (1, 2)}
_FFT_ROWS = 256  # time series transformed at once: bounds memory on long runs


@dataclass(frozen=True)
class FitWindowRule:
    """How the diffusive fit window is chosen; see the module docstring."""

    slope_min: float = 0.8
    slope_max: float = 1.2
    min_start_ps: float = 2.0
    min_start_fraction: float = 0.0
    end_fraction: float = 0.5
    points_per_decade: int = 5
    settle_span: float = 3.0
    min_span: float = 2.0
    min_lags: int = 5


@dataclass(frozen=True)
class MSDCurves:
    """Origin-averaged MSD (Å²) per lag: total, lattice axes a, b, c (projection on the unit
    vector along each), lattice planes ab, ac, bc (displacement minus its component along the
    plane normal) and Cartesian x, y, z."""

    total_ang2: np.ndarray
    axes_ang2: dict[str, np.ndarray]
    planes_ang2: dict[str, np.ndarray]
    cartesian_ang2: dict[str, np.ndarray]

    def named(self) -> dict[str, tuple[np.ndarray, int]]:
        """Every curve by name ('total', 'a', ..., 'bc', 'x', ...) with its dimensionality."""
        curves = {"total": (self.total_ang2, 3)}
        curves |= {k: (v, 1) for k, v in self.axes_ang2.items()}
        curves |= {k: (v, 2) for k, v in self.planes_ang2.items()}
        curves |= {k: (v, 1) for k, v in self.cartesian_ang2.items()}
        return curves


@dataclass(frozen=True)
class DiffusionResult:
    """Tracer diffusion of one species in one run (see the module docstring).

    D in cm²/s and None where not fitted; every ``*_err_cm2_s`` is max(He, block), both kept
    for the total (``d_err_he_cm2_s``, ``d_err_block_cm2_s``; ``d_blocks_cm2_s`` the block
    values). Directions: ``d_axes_cm2_s`` a, b, c (MSD/2t), ``d_planes_cm2_s`` ab, ac, bc
    (MSD/4t), ``d_cartesian_cm2_s`` x, y, z (MSD/2t), total MSD/6t, along the run's mean cell.
    ``window_ps`` the fitted lag range (ps), None without a diffusive regime; ``reason`` why a
    run is not diffusive. ``d_sigma_cm2_s`` the collective D (charge MSD / 6Nt),
    ``haven_ratio`` = D / D_sigma. ``sigma_ms_cm`` Nernst-Einstein at ``temperature_k`` (mean
    of the run) and ``volume_ang3`` (mean cell volume). Curves for the artifact store:
    ``time_ps`` lags, ``msd`` (Å²), ``mscd_ang2`` charge MSD (Å², summed displacement).
    """

    species: str
    charge: int
    n_ions: int
    temperature_k: float
    volume_ang3: float
    hop_length_ang: float
    diffusive: bool
    reason: str | None
    window_ps: tuple[float, float] | None
    msd_max_ang2: float
    n_eff: float
    d_cm2_s: float | None
    d_err_cm2_s: float | None
    d_err_he_cm2_s: float | None
    d_err_block_cm2_s: float | None
    d_blocks_cm2_s: tuple[float, ...]
    d_axes_cm2_s: dict[str, float | None]
    d_axes_err_cm2_s: dict[str, float | None]
    d_planes_cm2_s: dict[str, float | None]
    d_planes_err_cm2_s: dict[str, float | None]
    d_cartesian_cm2_s: dict[str, float | None]
    d_cartesian_err_cm2_s: dict[str, float | None]
    d_sigma_cm2_s: float | None
    d_sigma_err_cm2_s: float | None
    haven_ratio: float | None
    haven_ratio_err: float | None
    sigma_ms_cm: float | None
    sigma_err_ms_cm: float | None
    time_ps: np.ndarray
    msd: MSDCurves
    mscd_ang2: np.ndarray


def unwrap(positions_ang: np.ndarray, cells_ang: np.ndarray) -> np.ndarray:
    """Unwrapped Cartesian positions (n_frames, n_atoms, 3) Å.

    Each frame-to-frame step is reduced by minimum image in fractional coordinates of the
    newer frame's cell, then the steps are cumulated from frame 0 (the scheme of von Bülow et
    al., J. Chem. Phys. 153, 021101 (2020), also right under NPT). Exact for any triclinic
    cell while every step is shorter than half the cell's perpendicular widths.
    """
    positions = np.asarray(positions_ang, dtype=float)
    cells = np.asarray(cells_ang, dtype=float)
    if positions.ndim != 3 or positions.shape[2] != 3:
        raise ValueError("positions must be (n_frames, n_atoms, 3)")
    if cells.shape != (positions.shape[0], 3, 3):
        raise ValueError("cells must be (n_frames, 3, 3), one per frame")
    steps = np.diff(positions, axis=0)
    if np.all(cells == cells[0]):
        inverse, images = np.linalg.inv(cells[0]), cells[0]
    else:
        inverse, images = np.linalg.inv(cells[1:]), cells[1:]
    fractional = steps @ inverse
    fractional -= np.rint(fractional)
    unwrapped = np.empty_like(positions)
    unwrapped[0] = positions[0]
    np.cumsum(fractional @ images, axis=0, out=unwrapped[1:])
    unwrapped[1:] += positions[0]
    return unwrapped


def remove_framework_drift(
    displacements_ang: np.ndarray, symbols: tuple[str, ...], mobile_mask: np.ndarray
) -> np.ndarray:
    """Displacements (n_frames, n_atoms, 3) Å minus, per frame, the mass-weighted mean
    displacement of the framework (every atom not in ``mobile_mask``); unchanged copy if the
    cell holds only mobile atoms."""
    displacements = np.asarray(displacements_ang, dtype=float)
    framework = ~np.asarray(mobile_mask, dtype=bool)
    if not framework.any():
        return displacements.copy()
    try:
        masses = np.array(
            [atomic_masses[atomic_numbers[s]] for s, f in zip(symbols, framework, strict=True) if f]
        )
    except KeyError as err:
        raise ValueError(f"no atomic mass for framework symbol {err.args[0]!r}") from err
    drift = np.einsum("taj,a->tj", displacements[:, framework], masses) / masses.sum()
    return displacements - drift[:, None, :]


def _origin_average(squares: np.ndarray, cross: np.ndarray, n_atoms: int) -> np.ndarray:
    """(sum_t [x(t+m)² + x(t)²] - cross(m)) / ((n - m) n_atoms) from per-frame squares."""
    n = squares.shape[0]
    prefix = np.concatenate([np.zeros_like(squares[:1]), np.cumsum(squares, axis=0)])
    lags = np.arange(n)
    both_ends = prefix[n - lags] + prefix[n] - prefix[lags]
    origins = ((n - lags) * n_atoms).reshape((n,) + (1,) * (squares.ndim - 1))
    return (both_ends - cross) / origins


def _series(displacements_ang: np.ndarray) -> tuple[np.ndarray, int]:
    x = np.asarray(displacements_ang, dtype=float)
    if x.ndim != 3 or x.shape[0] < 2:
        raise ValueError("displacements must be (n_frames >= 2, n_atoms, k)")
    x = x - x.mean(axis=0)  # MSD is blind to a constant shift; this keeps the sums small
    return x, scipy.fft.next_fast_len(2 * x.shape[0], real=True)


def msd_fft(displacements_ang: np.ndarray) -> np.ndarray:
    """MSD (n_frames,) Å² of displacements (n_frames, n_atoms, k) Å: summed over the k
    components, averaged over atoms and over every time origin, in O(n log n) per series."""
    x, n_fft = _series(displacements_ang)
    n, n_atoms, _ = x.shape
    rows = np.ascontiguousarray(np.moveaxis(x, 0, -1)).reshape(-1, n)
    power = np.zeros(n_fft // 2 + 1)
    for start in range(0, rows.shape[0], _FFT_ROWS):
        spectrum = scipy.fft.rfft(rows[start : start + _FFT_ROWS], n=n_fft, axis=-1)
        power += (spectrum.real**2 + spectrum.imag**2).sum(axis=0)
    correlation = scipy.fft.irfft(power, n=n_fft)[:n]
    return _origin_average(np.einsum("tak,tak->t", x, x), 2.0 * correlation, n_atoms)


def msd_tensor_fft(displacements_ang: np.ndarray) -> np.ndarray:
    """MSD tensor (n_frames, 3, 3) Å²: <Δr_i(m) Δr_j(m)> over atoms and time origins, from
    displacements (n_frames, n_atoms, 3) Å. The MSD along a unit vector u is u·M·u."""
    x, n_fft = _series(displacements_ang)
    n, n_atoms, k = x.shape
    if k != 3:
        raise ValueError("the MSD tensor needs 3 Cartesian components")
    rows = np.ascontiguousarray(np.moveaxis(x, 0, -1))  # (n_atoms, 3, n)
    spectra = np.zeros((3, 3, n_fft // 2 + 1), dtype=complex)
    for start in range(0, n_atoms, max(1, _FFT_ROWS // 3)):
        spectrum = scipy.fft.rfft(rows[start : start + max(1, _FFT_ROWS // 3)], n=n_fft, axis=-1)
        spectra += np.einsum("aif,ajf->ijf", spectrum.conj(), spectrum)
    correlation = np.moveaxis(scipy.fft.irfft(spectra, n=n_fft, axis=-1)[..., :n], -1, 0)
    cross = correlation + correlation.transpose(0, 2, 1)
    return _origin_average(np.einsum("tai,taj->tij", x, x), cross, n_atoms)


def lattice_directions(cell_ang: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Unit vectors along the lattice vectors a, b, c (rows of ``cell_ang``) and unit normals
    of the planes ab, ac, bc (a×b, a×c, b×c)."""
    cell = np.asarray(cell_ang, dtype=float)
    axes = {name: cell[i] / np.linalg.norm(cell[i]) for i, name in enumerate(AXES)}
    normals = {}
    for name, (i, j) in _PLANE_NORMALS.items():
        normal = np.cross(cell[i], cell[j])
        normals[name] = normal / np.linalg.norm(normal)
    return axes, normals


def resolve_msd(msd_tensor_ang2: np.ndarray, cell_ang: np.ndarray) -> MSDCurves:
    """Split an MSD tensor (n_frames, 3, 3) Å² along the lattice of ``cell_ang`` (3, 3) Å."""
    tensor = np.asarray(msd_tensor_ang2, dtype=float)
    axes, normals = lattice_directions(cell_ang)
    total = np.trace(tensor, axis1=1, axis2=2)

    def along(u: np.ndarray) -> np.ndarray:
        return np.einsum("i,tij,j->t", u, tensor, u)

    return MSDCurves(
        total_ang2=total,
        axes_ang2={name: along(u) for name, u in axes.items()},
        planes_ang2={name: total - along(n) for name, n in normals.items()},
        cartesian_ang2={name: tensor[:, i, i].copy() for i, name in enumerate(CARTESIAN)},
    )


def _last_lag(lag_ps: np.ndarray, fraction: float) -> int:
    """Index of the last lag <= fraction x the run's duration."""
    return int(np.searchsorted(lag_ps, fraction * lag_ps[-1] * (1 + 1e-12), side="right")) - 1


def find_fit_window(
    time_ps: np.ndarray, msd_ang2: np.ndarray, rule: FitWindowRule = FitWindowRule()
) -> tuple[int, int] | None:
    """First and last lag index (inclusive) of the diffusive window, or None if the MSD
    never becomes diffusive under ``rule`` (see the module docstring)."""
    lag_ps = np.asarray(time_ps, dtype=float) - time_ps[0]
    end = _last_lag(lag_ps, rule.end_fraction)
    floor_ps = max(rule.min_start_ps, rule.min_start_fraction * lag_ps[-1])
    floor = max(1, int(np.searchsorted(lag_ps, floor_ps * (1 - 1e-12))))
    if end - floor + 1 < rule.min_lags:
        return None
    n_grid = max(2, int(np.ceil(rule.points_per_decade * np.log10(end))) + 1)
    grid = np.unique(np.rint(np.geomspace(1, end, n_grid)).astype(int))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lag, log_msd = np.log(lag_ps), np.log(np.asarray(msd_ang2, dtype=float))
        slopes = np.diff(log_msd[grid]) / np.diff(log_lag[grid])
    inside = (slopes >= rule.slope_min) & (slopes <= rule.slope_max)  # False where NaN
    start = None
    for k in range(len(slopes)):
        if grid[k + 1] <= floor:
            continue
        first = max(int(grid[k]), floor)
        settling = (np.arange(len(slopes)) >= k) & (grid[:-1] < rule.settle_span * first)
        if inside[settling].all():
            start = first
            break
    if start is None or end - start + 1 < rule.min_lags:
        return None
    if lag_ps[end] < rule.min_span * lag_ps[start]:
        return None
    points = np.unique(np.concatenate([[start], grid[(grid > start) & (grid < end)], [end]]))
    if not np.isfinite(log_msd[points]).all():
        return None
    overall = np.polyfit(log_lag[points], log_msd[points], 1)[0]
    if not rule.slope_min <= overall <= rule.slope_max:
        return None
    return start, end


def _slope_weights(lag_ps: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """c_m with slope = sum_m c_m MSD(m) over the window (weighted least squares, intercept
    free, weights (n_frames - m) / m³); the fit is linear in the MSD."""
    first, last = window
    m = np.arange(first, last + 1, dtype=float)
    t = lag_ps[first : last + 1]
    weights = (len(lag_ps) - m) / m**3
    centred = t - np.average(t, weights=weights)
    return weights * centred / np.sum(weights * centred**2)


def fit_diffusivity(
    time_ps: np.ndarray, msd_ang2: np.ndarray, window: tuple[int, int], dimensions: int
) -> float:
    """D (cm²/s) = slope / (2 x dimensions) of a weighted linear fit of MSD (Å²) against lag
    time (ps) over lag indices ``window`` (inclusive), intercept free, weights
    (n_frames - m) / m³ (see the module docstring)."""
    lag_ps = np.asarray(time_ps, dtype=float) - time_ps[0]
    first, last = window
    slope = _slope_weights(lag_ps, window) @ np.asarray(msd_ang2, dtype=float)[first : last + 1]
    return float(slope / (2 * dimensions) * ANG2_PS_TO_CM2_S)


def free_walk_relative_error(
    n_frames: int, window: tuple[int, int], *, n_walks: int = 100, seed: int = 0
) -> float:
    """Relative standard deviation of ``fit_diffusivity`` over ``window`` for ONE freely
    diffusing particle (3-D Gaussian walk, n_frames equally spaced frames), from n_walks
    simulated walks; N independent particles have this / sqrt(N)."""
    rng = np.random.default_rng(seed)
    walks = np.zeros((n_walks * 3, n_frames))
    walks[:, 1:] = np.cumsum(rng.standard_normal((n_walks * 3, n_frames - 1)), axis=1)
    walks -= walks.mean(axis=1, keepdims=True)
    n_fft = scipy.fft.next_fast_len(2 * n_frames, real=True)
    lags = np.arange(n_frames)
    msd = np.empty_like(walks)
    for start in range(0, len(walks), _FFT_ROWS):
        rows = walks[start : start + _FFT_ROWS]
        spectrum = scipy.fft.rfft(rows, n=n_fft, axis=-1)
        correlation = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=n_fft)[:, :n_frames]
        squares = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(rows**2, axis=1)], axis=1)
        ends = squares[:, n_frames - lags] + squares[:, -1:] - squares[:, lags]
        msd[start : start + _FFT_ROWS] = (ends - 2 * correlation) / (n_frames - lags)
    per_walk = msd.reshape(n_walks, 3, n_frames).sum(axis=1)[:, window[0] : window[1] + 1]
    slopes = per_walk @ _slope_weights(lags.astype(float), window)  # true slope: 3 per frame
    return float(np.std(slopes, ddof=1) / 3.0)


def he_relative_error(n_eff: float) -> float:
    """Relative standard deviation of D from N_eff effective hops (He et al. 2018)."""
    return float(3.43 / np.sqrt(n_eff) + 0.04) if n_eff > 0 else float("inf")


def nernst_einstein_ms_cm(
    d_cm2_s: float, n_ions: int, volume_ang3: float, temperature_k: float, charge: int
) -> float:
    """Conductivity (mS/cm) sigma = N z² e² D / (V k_B T) of n_ions of charge z (e) in
    volume_ang3 (Å³) with tracer D (cm²/s) at temperature_k (K)."""
    if volume_ang3 <= 0 or temperature_k <= 0:
        raise ValueError("volume and temperature must be positive")
    density_m3 = n_ions / (volume_ang3 * 1e-30)
    sigma_s_m = density_m3 * (charge * const.e) ** 2 * d_cm2_s * 1e-4 / (const.k * temperature_k)
    return float(sigma_s_m * 10.0)  # 1 S/m = 10 mS/cm


def _uniform_lags(times_ps: np.ndarray) -> np.ndarray:
    lag_ps = np.asarray(times_ps, dtype=float) - times_ps[0]
    steps = np.diff(lag_ps)
    if len(steps) == 0 or steps[0] <= 0 or not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise ValueError("frames must be equally spaced in time (time origins are averaged)")
    return lag_ps


@dataclass(frozen=True)
class _Estimate:
    """One fitted D (cm²/s) with its He, block and free-walk model errors (cm²/s)."""

    d: float
    err_he: float | None
    err_block: float | None
    err_model: float | None = None

    @property
    def err(self) -> float | None:
        known = [e for e in (self.err_he, self.err_block, self.err_model) if e is not None]
        return max(known) if known else None


def _fit_curves(
    lag_ps: np.ndarray,
    curves: MSDCurves,
    mscd_ang2: np.ndarray,
    n_ions: int,
    window: tuple[int, int],
) -> dict[str, float]:
    """D (cm²/s) of every direction and, as 'collective', from the charge MSD / N."""
    fits = {
        name: fit_diffusivity(lag_ps, y, window, dim) for name, (y, dim) in curves.named().items()
    }
    fits["collective"] = fit_diffusivity(lag_ps, mscd_ang2, window, 3) / n_ions
    return fits


def _block_fits(
    lag_ps: np.ndarray,
    mobile: np.ndarray,
    cell: np.ndarray,
    start: int,
    n_blocks: int,
    rule: FitWindowRule,
) -> list[dict[str, float]]:
    """``_fit_curves`` in each of n_blocks equal blocks over [start, half the block]; empty
    when the blocks are too short for that window."""
    length = len(lag_ps) // n_blocks if n_blocks >= 2 else 0
    if length < 2:
        return []
    block_lags = lag_ps[:length]
    window = (start, _last_lag(block_lags, rule.end_fraction))
    if window[1] - window[0] + 1 < rule.min_lags:
        return []
    fits = []
    for i in range(n_blocks):
        block = mobile[i * length : (i + 1) * length]
        curves = resolve_msd(msd_tensor_fft(block), cell)
        mscd = msd_fft(block.sum(axis=1, keepdims=True))
        fits.append(_fit_curves(block_lags, curves, mscd, block.shape[1], window))
    return fits


def _estimate(
    lag_ps: np.ndarray,
    mobile: np.ndarray,
    cell: np.ndarray,
    curves: MSDCurves,
    mscd_ang2: np.ndarray,
    window: tuple[int, int],
    hop_length_ang: float,
    n_blocks: int,
    rule: FitWindowRule,
    seed: int,
) -> tuple[dict[str, _Estimate], tuple[float, ...]]:
    """Every direction's (and the collective) D with errors, and the blocks' total D."""
    n_ions = mobile.shape[1]
    single_walk = free_walk_relative_error(len(lag_ps), window, seed=seed)
    fits = _fit_curves(lag_ps, curves, mscd_ang2, n_ions, window)
    blocks = _block_fits(lag_ps, mobile, cell, window[0], n_blocks, rule)
    named = curves.named()
    estimates = {}
    for name, d in fits.items():
        err_he = None
        if name in named:  # He et al. count tracer hops; the collective MSD is a single walk
            n_eff = n_ions * float(named[name][0].max()) / hop_length_ang**2
            err_he = abs(d) * he_relative_error(n_eff) if d else 0.0
        err_block = None
        if blocks:
            err_block = float(np.std([b[name] for b in blocks], ddof=1) / np.sqrt(len(blocks)))
        err_model = abs(d) * single_walk if name == "collective" else None
        estimates[name] = _Estimate(d, err_he, err_block, err_model)
    return estimates, tuple(b["total"] for b in blocks)


def _haven_ratio(tracer: _Estimate, collective: _Estimate) -> tuple[float | None, float | None]:
    """H_R = D_tracer / D_sigma with its propagated error, or (None, None) unless D_sigma lies
    more than one error bar above zero."""
    if tracer.err is None or collective.err is None or not collective.d > collective.err > 0:
        return None, None
    haven = tracer.d / collective.d
    relative = np.hypot(tracer.err / tracer.d, collective.err / collective.d)
    return haven, float(haven * relative)


def analyze_diffusion(
    trajectory: Trajectory,
    species: str,
    *,
    charge: int = 1,
    hop_length_ang: float = 2.5,
    n_blocks: int = 5,
    rule: FitWindowRule = FitWindowRule(),
    seed: int = 0,
) -> DiffusionResult:
    """Tracer D of ``species`` (total, per lattice axis and plane, Cartesian), its errors,
    the Haven ratio and the Nernst-Einstein sigma at the run's mean temperature and volume.

    Raises ValueError if the species is absent or the frames are not equally spaced in time.
    """
    mobile_mask = trajectory.species_mask(species)
    n_ions = int(mobile_mask.sum())
    if n_ions == 0:
        raise ValueError(f"no {species} atoms in the trajectory")
    lag_ps = _uniform_lags(trajectory.times_ps)
    unwrapped = unwrap(trajectory.positions_ang, trajectory.cells_ang)
    displacements = remove_framework_drift(
        unwrapped - unwrapped[0], trajectory.symbols, mobile_mask
    )
    mobile = displacements[:, mobile_mask]
    cell = trajectory.cells_ang.mean(axis=0)
    volume = float(np.mean(np.abs(np.linalg.det(trajectory.cells_ang))))
    temperature = float(np.mean(trajectory.temperatures_k))

    curves = resolve_msd(msd_tensor_fft(mobile), cell)
    mscd = msd_fft(mobile.sum(axis=1, keepdims=True))
    msd_max = float(curves.total_ang2.max())
    window = find_fit_window(lag_ps, curves.total_ang2, rule)
    reason = None
    floor_ps = max(rule.min_start_ps, rule.min_start_fraction * lag_ps[-1])
    if window is None and rule.end_fraction * lag_ps[-1] < rule.min_span * floor_ps:
        reason = f"run too short: {lag_ps[-1]:.3g} ps leaves no fit window past {floor_ps:.3g} ps"
    elif window is None:
        band = f"[{rule.slope_min}, {rule.slope_max}]"
        reason = f"MSD not diffusive: its log-log slope does not settle in {band}"
    elif msd_max < hop_length_ang**2:
        reason = f"MSD max {msd_max:.3g} Å² is below one hop length² {hop_length_ang**2:.3g} Å²"
    estimates: dict[str, _Estimate] = {}
    d_blocks: tuple[float, ...] = ()
    window_ps = None
    if reason is None and window is not None:
        estimates, d_blocks = _estimate(
            lag_ps, mobile, cell, curves, mscd, window, hop_length_ang, n_blocks, rule, seed
        )
        window_ps = (float(lag_ps[window[0]]), float(lag_ps[window[1]]))
    else:
        logger.info("%s not fitted: %s", species, reason)

    def values(keys: tuple[str, ...]) -> dict[str, float | None]:
        return {k: estimates[k].d if k in estimates else None for k in keys}

    def errors(keys: tuple[str, ...]) -> dict[str, float | None]:
        return {k: estimates[k].err if k in estimates else None for k in keys}

    total, collective = estimates.get("total"), estimates.get("collective")
    haven = haven_err = sigma = sigma_err = None
    if total is not None and total.err is not None and temperature > 0:
        sigma = nernst_einstein_ms_cm(total.d, n_ions, volume, temperature, charge)
        sigma_err = nernst_einstein_ms_cm(total.err, n_ions, volume, temperature, charge)
    if total is not None and collective is not None:
        haven, haven_err = _haven_ratio(total, collective)
    return DiffusionResult(
        species=species,
        charge=charge,
        n_ions=n_ions,
        temperature_k=temperature,
        volume_ang3=volume,
        hop_length_ang=hop_length_ang,
        diffusive=reason is None,
        reason=reason,
        window_ps=window_ps,
        msd_max_ang2=msd_max,
        n_eff=n_ions * msd_max / hop_length_ang**2,
        d_cm2_s=None if total is None else total.d,
        d_err_cm2_s=None if total is None else total.err,
        d_err_he_cm2_s=None if total is None else total.err_he,
        d_err_block_cm2_s=None if total is None else total.err_block,
        d_blocks_cm2_s=d_blocks,
        d_axes_cm2_s=values(AXES),
        d_axes_err_cm2_s=errors(AXES),
        d_planes_cm2_s=values(PLANES),
        d_planes_err_cm2_s=errors(PLANES),
        d_cartesian_cm2_s=values(CARTESIAN),
        d_cartesian_err_cm2_s=errors(CARTESIAN),
        d_sigma_cm2_s=None if collective is None else collective.d,
        d_sigma_err_cm2_s=None if collective is None else collective.err,
        haven_ratio=haven,
        haven_ratio_err=haven_err,
        sigma_ms_cm=sigma,
        sigma_err_ms_cm=sigma_err,
        time_ps=lag_ps,
        msd=curves,
        mscd_ang2=mscd,
    )
