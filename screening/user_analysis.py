"""The product's transport and structure analysis on data users bring: trajectories (through
``screening.trajectory_io``) and D(T) tables, reported as JSON-ready dicts with units in the
keys. The numbers come from ``diffusion``, ``arrhenius`` and ``structure_analysis``; this
module only selects, validates and formats.

A D(T) table is a CSV with a header: T (K), D (cm²/s) and optionally D_err (cm²/s); a unit
suffix in the header is ignored ("T_K", "T (K)", "D_cm2_s"). Without D_err every ln D gets the
same weight and the errors come from the scatter about the line (ordinary least squares, t
quantiles): ``fit_arrhenius`` is given one tiny relative error for all points, so that it scales
its covariance by chi²/dof, which then equals the OLS covariance.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from screening.arrhenius import ArrheniusFit, fit_arrhenius
from screening.diffusion import DiffusionResult, unwrap
from screening.errors import ScreeningError
from screening.structure_analysis import (
    RDF,
    StructureAnalysisError,
    atom_msd,
    coordination_distribution,
    coordination_numbers,
    partial_rdfs,
    probability_density,
    van_hove_self,
)
from screening.trajectory import Trajectory

_COLUMNS = {
    "t": "T",
    "temperature": "T",
    "d": "D",
    "d_err": "D_err",
    "derr": "D_err",
    "d_error": "D_err",
}
_UNIT_SUFFIX = re.compile(r"(\s*[\[(].*[\])]\s*|_k|_cm2_s|_cm\^2/s)$")
_UNWEIGHTED_RELATIVE_ERROR = 1e-9
RDF_MAX_FRAMES = 500  # RDFs and coordination use every n-th frame to stay near this many


class TableError(ScreeningError):
    """A D(T) table that cannot be fitted: missing columns, bad numbers, too few points."""


@dataclass(frozen=True)
class DTTable:
    """Rows of a D(T) table: T (K), D and its error (cm²/s; None when the table has none)."""

    path: Path
    temperatures_k: np.ndarray
    d_cm2_s: np.ndarray
    d_err_cm2_s: np.ndarray | None


def require_species(trajectory: Trajectory, species: str) -> None:
    """ScreeningError naming the species present when ``species`` is not among them."""
    if species not in trajectory.symbols:
        present = ", ".join(sorted(set(trajectory.symbols)))
        raise ScreeningError(f"no {species} atoms in the trajectory (it holds {present})")


def diffusion_json(result: DiffusionResult) -> dict[str, object]:
    """The diffusion numbers under the documented keys, only those computed."""
    out: dict[str, object] = {
        "d_cm2_s": result.d_cm2_s,
        "d_err_cm2_s": result.d_err_cm2_s,
        "d_axes_cm2_s": _complete(result.d_axes_cm2_s),
        "d_axes_err_cm2_s": _complete(result.d_axes_err_cm2_s),
        "d_planes_cm2_s": _complete(result.d_planes_cm2_s),
        "d_planes_err_cm2_s": _complete(result.d_planes_err_cm2_s),
        "fit_window_ps": list(result.window_ps) if result.window_ps else None,
        "n_eff": result.n_eff,
        "haven_ratio": result.haven_ratio,
        "haven_ratio_err": result.haven_ratio_err,
        "sigma_ms_cm": result.sigma_ms_cm,
        "sigma_err_ms_cm": result.sigma_err_ms_cm,
        "temperature_k": result.temperature_k if math.isfinite(result.temperature_k) else None,
    }
    return {key: value for key, value in out.items() if value is not None}


def _complete(values: dict[str, float | None]) -> dict[str, float] | None:
    return None if any(v is None for v in values.values()) else dict(values)  # type: ignore[arg-type]


def read_dt_table(path: Path) -> DTTable:
    """Read a D(T) CSV (see the module docstring). Raises TableError naming the problem."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as err:
        raise TableError(f"{path}: cannot read the table ({err})") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise TableError(f"{path}: empty table, need columns T (K) and D (cm²/s)")
    names = [_column_name(cell) for cell in rows[0]]
    missing = [c for c in ("T", "D") if c not in names]
    if missing:
        found = ", ".join(cell.strip() for cell in rows[0])
        raise TableError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {found}); need T (K), "
            "D (cm²/s) and optionally D_err (cm²/s)"
        )
    columns = {name: names.index(name) for name in ("T", "D", "D_err") if name in names}
    values: dict[str, list[float]] = {name: [] for name in columns}
    for line, row in enumerate(rows[1:], start=2):
        for name, index in columns.items():
            cell = row[index].strip() if index < len(row) else ""
            try:
                value = float(cell)
            except ValueError:
                raise TableError(f"{path} line {line}: {name} is {cell!r}, not a number") from None
            if not (math.isfinite(value) and value > 0):
                raise TableError(f"{path} line {line}: {name} must be positive, got {cell}")
            values[name].append(value)
    temperatures = np.array(values["T"])
    if len(np.unique(temperatures)) < 2:
        raise TableError(f"{path}: an Arrhenius fit needs at least two distinct temperatures")
    return DTTable(
        path=path,
        temperatures_k=temperatures,
        d_cm2_s=np.array(values["D"]),
        d_err_cm2_s=np.array(values["D_err"]) if "D_err" in values else None,
    )


def _column_name(header: str) -> str:
    name = _UNIT_SUFFIX.sub("", header.strip().lower()).strip()
    return _COLUMNS.get(name, header.strip())


def fit_table(table: DTTable) -> ArrheniusFit:
    """Arrhenius fit of a table; equal weights in ln D when it has no errors."""
    errors = table.d_err_cm2_s
    if errors is None:
        errors = table.d_cm2_s * _UNWEIGHTED_RELATIVE_ERROR
    return fit_arrhenius(table.temperatures_k, table.d_cm2_s, errors)


def conductivity_cell(structure_path: Path, species: str) -> tuple[int, float]:
    """Number of ``species`` ions and the cell volume (Å³) of a structure file (POSCAR, CIF)."""
    from pymatgen.core import Structure

    try:
        structure = Structure.from_file(structure_path)
    except Exception as err:  # pymatgen raises many kinds for unreadable files
        raise ScreeningError(f"{structure_path}: not a readable structure ({err})") from None
    n_ions = sum(1 for site in structure if site.specie.symbol == species)
    if n_ions == 0:
        present = ", ".join(sorted({site.specie.symbol for site in structure}))
        raise ScreeningError(f"{structure_path}: no {species} in the structure ({present})")
    return n_ions, float(structure.volume)


def arrhenius_json(
    fit: ArrheniusFit,
    temperature_k: float,
    conductivity: tuple[int, float, int] | None = None,
) -> dict[str, object]:
    """E_a, D0, D(T) and, given (n_ions, volume Å³, charge e), sigma(T) with its 95% CI."""
    d_at, _, _ = fit.d_at(temperature_k)
    out: dict[str, object] = {
        "e_a_ev": fit.e_a_ev,
        "e_a_err_ev": fit.e_a_err_ev,
        "d0_cm2_s": fit.d0_cm2_s,
        "d_at_t_cm2_s": d_at,
        "temperature_k": temperature_k,
    }
    if conductivity is not None:
        n_ions, volume, charge = conductivity
        sigma, low, high = fit.sigma_at(temperature_k, n_ions, volume, charge)
        out["sigma_at_t_ms_cm"] = sigma
        out["sigma_at_t_ci_ms_cm"] = None if low is None else [low, high]
    return {key: value for key, value in out.items() if value is not None}


def analyze_structure(
    trajectory: Trajectory,
    species: list[str],
    output_dir: Path,
    *,
    lag_ps: float | None = None,
    hop_length_ang: float = 2.5,
) -> dict[str, object]:
    """Partial RDFs, coordination (first minimum, and its distribution) for every ordered
    species pair; for each of ``species``: the van Hove self part at ``lag_ps`` (default half
    the run), per-atom MSD, and the probability density as ``density_<X>.cube`` and ``.npz``.
    Arrays go to ``structure.npz`` in ``output_dir``; returns the JSON summary."""
    output_dir.mkdir(parents=True, exist_ok=True)
    stride = max(1, trajectory.n_frames // RDF_MAX_FRAMES)
    arrays: dict[str, np.ndarray] = {}
    coordination: list[dict[str, object]] = []
    for (a, b), rdf in partial_rdfs(trajectory, frame_stride=stride).items():
        arrays[f"rdf_{a}_{b}_r_ang"] = rdf.r_ang
        arrays[f"rdf_{a}_{b}_g"] = rdf.g
        for pair in (rdf,) if a == b else (rdf, rdf.swapped()):
            coordination.append(_coordination(trajectory, pair, stride))
    run_ps = float(trajectory.times_ps[-1] - trajectory.times_ps[0])
    lag = lag_ps if lag_ps is not None else run_ps / 2
    unwrapped = unwrap(trajectory.positions_ang, trajectory.cells_ang)
    mobility: dict[str, object] = {}
    files = [output_dir / "structure.npz"]
    for symbol in species:
        r, p = van_hove_self(trajectory, symbol, lag_ps=lag, positions_ang=unwrapped)
        arrays[f"van_hove_{symbol}_r_ang"], arrays[f"van_hove_{symbol}_p_per_ang"] = r, p
        msd = atom_msd(trajectory, symbol, positions_ang=unwrapped)
        arrays[f"atom_msd_{symbol}_indices"] = msd.atom_indices
        arrays[f"atom_msd_{symbol}_half_run_ang2"] = msd.msd_half_run_ang2
        arrays[f"atom_msd_{symbol}_run_ang2"] = msd.squared_displacement_ang2
        mobility[symbol] = {
            "lag_ps": msd.lag_ps,
            "msd_mean_ang2": float(msd.msd_half_run_ang2.mean()),
            "msd_max_ang2": float(msd.msd_half_run_ang2.max()),
            "atoms_beyond_one_hop": int((msd.msd_half_run_ang2 > hop_length_ang**2).sum()),
            "atoms": int(msd.atom_indices.size),
        }
        density = probability_density(trajectory, symbol)
        cube = output_dir / f"density_{symbol}.cube"
        density.to_cube(cube, trajectory.symbols, trajectory.positions_ang[0])
        (output_dir / f"density_{symbol}.npz").write_bytes(density.to_npz_bytes())
        files += [cube, output_dir / f"density_{symbol}.npz"]
    np.savez_compressed(files[0], **arrays)
    return {
        "coordination": coordination,
        "van_hove_lag_ps": lag,
        "atom_msd": mobility,
        "files": [str(f) for f in files],
    }


def _coordination(trajectory: Trajectory, rdf: RDF, stride: int) -> dict[str, object]:
    """The first shell of ``rdf`` and its distribution, or a note why there is none."""
    try:
        shell = coordination_numbers(rdf)
    except StructureAnalysisError as err:
        return {"center": rdf.center, "neighbor": rdf.neighbor, "note": str(err)}
    distribution = coordination_distribution(
        trajectory, shell.center, shell.neighbor, shell.cutoff_ang, frame_stride=stride
    )
    return {
        "center": shell.center,
        "neighbor": shell.neighbor,
        "first_peak_ang": shell.first_peak_ang,
        "cutoff_ang": shell.cutoff_ang,
        "coordination_number": shell.coordination_number,
        "distribution": {str(k): v for k, v in distribution.items()},
    }
