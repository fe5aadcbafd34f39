"""Trajectories that users bring, read into a ``Trajectory``: vasprun.xml, XDATCAR, extxyz,
ASE .traj and LAMMPS text dumps, one file or several joined in the order given.

Frames come from ASE's readers. What a file says about time and temperature is read from it:

- vasprun.xml: POTIM (fs) is the time step and every ionic step is a frame; the temperature of
  a frame comes from its ionic kinetic energy (3N - 3 degrees of freedom), else TEBEG when it
  equals TEEND (also taken as the run's target temperature).
- XDATCAR: the ``configuration=`` numbers give the steps between frames; no time step.
- LAMMPS dump: ``ITEM: TIMESTEP`` gives the steps between frames; no time step, and atom types
  need ``lammps_types`` (type 1, 2, ... -> element) unless the dump has an element or mass
  column. Velocities are not used (their units depend on the LAMMPS ``units`` style).
- extxyz and .traj: per-frame ``info`` keys ``time_ps`` or ``time_fs``, else ``timestep_fs``
  with ``step``; temperatures from the momenta when the frames carry them.

Options override the file: ``timestep_fs`` (the MD time step), ``sample_every`` (MD steps
between stored frames), ``temperature_k`` (every frame and the target). A file without time
information needs ``timestep_fs``.

Joining (restarted runs): every file must have the same species in the same order and a cell
within ``CELL_TOLERANCE`` of the previous file's last cell; the first frame of a file must lie
within ``SEAM_FACTOR`` times the largest frame-to-frame step (minimum image, over the frames
next to the seam) of the previous file's last frame, and is dropped when it repeats that frame
(closer than ``DUPLICATE_ANG``). The frame interval must be the same in every file; the
joined frames are equally spaced.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from ase.io import read
from ase.io.formats import filetype
from ase.units import kB

from screening.errors import ScreeningError
from screening.trajectory import Trajectory

FORMATS = ("vasp-xml", "vasp-xdatcar", "extxyz", "traj", "lammps-dump-text")
CELL_TOLERANCE = 0.02  # relative change of the cell matrix allowed across a seam
SEAM_FACTOR = 2.0
SEAM_FLOOR_ANG = 0.05  # a seam this short always joins (a nearly static trajectory)
DUPLICATE_ANG = 1e-3
_SEAM_FRAMES = 50
_CONFIGURATION = re.compile(r"configuration=\s*(\d+)")


class TrajectoryReadError(ScreeningError):
    """A file is not a readable trajectory, lacks time information, or files do not join."""


@dataclass(frozen=True)
class LoadedTrajectory:
    """A trajectory read from files: ``timestep_fs`` the MD time step (the frame interval
    when only times were given), ``sample_every`` MD steps per frame, ``target_temperature_k``
    the run's set temperature (option or TEBEG), None when unknown."""

    trajectory: Trajectory
    files: tuple[Path, ...]
    timestep_fs: float
    sample_every: int
    target_temperature_k: float | None


@dataclass(frozen=True)
class _Part:
    """One file's frames and what it says about time and temperature."""

    path: Path
    symbols: tuple[str, ...]
    positions_ang: np.ndarray
    cells_ang: np.ndarray
    energies_ev: np.ndarray
    temperatures_k: np.ndarray  # NaN where unknown
    steps: np.ndarray | None
    times_ps: np.ndarray | None
    timestep_fs: float | None
    target_temperature_k: float | None


def detect_format(path: Path) -> str:
    """The ASE format name of a trajectory file, from its name, else from ASE's guess."""
    name = path.name.lower()
    if "vasprun" in name and name.endswith(".xml"):
        return "vasp-xml"
    if "xdatcar" in name:
        return "vasp-xdatcar"
    if path.suffix.lower() in (".extxyz", ".xyz"):
        return "extxyz"
    if path.suffix.lower() == ".traj":
        return "traj"
    if path.suffix.lower() in (".dump", ".lammpstrj") or name.startswith("dump."):
        return "lammps-dump-text"
    try:
        guessed = filetype(str(path), guess=True)
    except Exception as err:  # ASE raises many kinds for unknown content
        raise _not_a_trajectory(path, f"format not recognised ({err})") from None
    if guessed not in FORMATS:
        raise _not_a_trajectory(path, f"detected format {guessed!r}")
    return guessed


def read_trajectory(
    paths: Sequence[str | Path],
    *,
    timestep_fs: float | None = None,
    sample_every: int | None = None,
    temperature_k: float | None = None,
    lammps_types: Sequence[str] | None = None,
) -> LoadedTrajectory:
    """Read and join trajectory files (see the module docstring).

    Raises TrajectoryReadError naming the file and the problem.
    """
    if not paths:
        raise TrajectoryReadError("no trajectory file given")
    for name, value in (("timestep_fs", timestep_fs), ("temperature_k", temperature_k)):
        if value is not None and not value > 0:
            raise TrajectoryReadError(f"{name} must be positive, got {value}")
    if sample_every is not None and sample_every < 1:
        raise TrajectoryReadError(f"sample_every must be at least 1, got {sample_every}")
    parts = [_read_part(Path(p), lammps_types) for p in paths]
    timed = [_frame_times(part, timestep_fs, sample_every) for part in parts]
    symbols, positions, cells, energies, temperatures, times = _join(parts, timed)
    target = temperature_k if temperature_k is not None else parts[0].target_temperature_k
    if temperature_k is not None:
        temperatures = np.full(len(times), temperature_k)
    interval_ps = float(times[1] - times[0])
    step_fs = timestep_fs or parts[0].timestep_fs or interval_ps * 1000.0
    return LoadedTrajectory(
        trajectory=Trajectory(symbols, positions, cells, times, energies, temperatures),
        files=tuple(part.path for part in parts),
        timestep_fs=float(step_fs),
        sample_every=max(1, round(interval_ps * 1000.0 / step_fs)),
        target_temperature_k=target,
    )


def _not_a_trajectory(path: Path, why: str) -> TrajectoryReadError:
    return TrajectoryReadError(
        f"{path}: not a trajectory ({why}); expected vasprun.xml, XDATCAR, .extxyz/.xyz, "
        "ASE .traj or a LAMMPS text dump"
    )


def _read_part(path: Path, lammps_types: Sequence[str] | None) -> _Part:
    if not path.is_file():
        raise TrajectoryReadError(f"{path}: no such file")
    fmt = detect_format(path)
    kwargs = {}
    if fmt == "lammps-dump-text":
        kwargs = {"specorder": _lammps_species(path, lammps_types)}
    try:
        frames = read(path, index=":", format=fmt, **kwargs)
    except Exception as err:  # third-party parsers raise anything on foreign content
        raise _not_a_trajectory(path, f"{fmt} reader: {type(err).__name__}: {err}") from None
    if len(frames) < 2:
        raise _not_a_trajectory(path, f"{fmt} reader found {len(frames)} frame(s), need 2")
    symbols = tuple(frames[0].get_chemical_symbols())
    if any(tuple(f.get_chemical_symbols()) != symbols for f in frames):
        raise TrajectoryReadError(f"{path}: the atoms change from frame to frame")
    cells = np.array([f.cell.array for f in frames])
    if not (np.abs(np.linalg.det(cells)) > 1e-6).all():
        raise TrajectoryReadError(f"{path}: frames without a periodic 3-d cell")
    part = _Part(
        path=path,
        symbols=symbols,
        positions_ang=np.array([f.positions for f in frames]),
        cells_ang=cells,
        energies_ev=np.array([_energy(f) for f in frames]),
        temperatures_k=np.full(len(frames), np.nan),
        steps=None,
        times_ps=None,
        timestep_fs=None,
        target_temperature_k=None,
    )
    if fmt == "vasp-xml":
        return _with_vasprun_metadata(part)
    if fmt == "vasp-xdatcar":
        return _with_steps(part, _xdatcar_steps(path))
    if fmt == "lammps-dump-text":
        return _with_steps(part, _lammps_steps(path))
    return _with_info(part, frames)


def _energy(frame: Atoms) -> float:
    if frame.calc is None:
        return float("nan")
    try:
        return float(frame.get_potential_energy())
    except PropertyNotImplementedError:  # a calculator that stored no energy
        return float("nan")


def _with_steps(part: _Part, steps: list[int]) -> _Part:
    if len(steps) != len(part.positions_ang):
        return part
    return replace(part, steps=np.array(steps))


def _xdatcar_steps(path: Path) -> list[int]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return [int(m.group(1)) for line in handle if (m := _CONFIGURATION.search(line))]


def _lammps_steps(path: Path) -> list[int]:
    steps = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("ITEM: TIMESTEP"):
                steps.append(int(next(handle).split()[0]))
    return steps


def _lammps_species(path: Path, lammps_types: Sequence[str] | None) -> list[str] | None:
    """The type -> element list for ASE, or None when the dump names elements or masses."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = next((line for line in handle if line.startswith("ITEM: ATOMS")), None)
    if header is None:
        raise _not_a_trajectory(path, "no 'ITEM: ATOMS' section")
    columns = header.split()[2:]
    if "element" in columns or "mass" in columns:
        return list(lammps_types) if lammps_types else None
    if not lammps_types:
        raise TrajectoryReadError(
            f"{path}: the LAMMPS dump has numeric atom types only: name the elements of "
            "types 1, 2, ... in order (--lammps-types Li,P,S)"
        )
    return list(lammps_types)


def _with_vasprun_metadata(part: _Part) -> _Part:
    """POTIM, TEBEG/TEEND and per-step ionic kinetic energies (eV) from a vasprun.xml."""
    parameters: dict[str, float] = {}
    kinetic: list[float] = []
    depth = 0  # inside <calculation>
    try:
        for event, elem in ET.iterparse(part.path, events=("start", "end")):
            if elem.tag == "calculation":
                depth += 1 if event == "start" else -1
                if event == "end":
                    found = elem.find("energy/i[@name='kinetic']")
                    if found is not None and found.text:
                        kinetic.append(float(found.text))
                    elem.clear()
            elif event == "end" and depth == 0 and elem.tag == "i":
                name = elem.attrib.get("name")
                if name in ("POTIM", "TEBEG", "TEEND") and elem.text:
                    parameters[name] = float(elem.text.split()[0])
    except ET.ParseError:
        pass  # a run still going: ASE kept the complete steps, so do we
    n_frames = len(part.positions_ang)
    temperatures = part.temperatures_k
    target = None
    if "TEBEG" in parameters and parameters["TEBEG"] == parameters.get(
        "TEEND", parameters["TEBEG"]
    ):
        target = parameters["TEBEG"]
        temperatures = np.full(n_frames, target)
    if len(kinetic) >= n_frames and n_frames > 0:
        dof = 3 * len(part.symbols) - 3
        temperatures = 2.0 * np.array(kinetic[:n_frames]) / (dof * kB)
    potim = parameters.get("POTIM")
    return replace(
        part,
        temperatures_k=temperatures,
        timestep_fs=potim if potim and potim > 0 else None,
        target_temperature_k=target,
    )


def _with_info(part: _Part, frames: list[Atoms]) -> _Part:
    """Times, step numbers and time step from extxyz/.traj ``info``; T from momenta."""
    infos = [f.info for f in frames]
    times = None
    if all("time_ps" in i for i in infos):
        times = np.array([float(i["time_ps"]) for i in infos])
    elif all("time_fs" in i for i in infos):
        times = np.array([float(i["time_fs"]) for i in infos]) / 1000.0
    steps = np.array([int(i["step"]) for i in infos]) if all("step" in i for i in infos) else None
    timestep = infos[0].get("timestep_fs")
    temperatures = part.temperatures_k
    if all(f.has("momenta") for f in frames) and any(f.get_kinetic_energy() > 0 for f in frames):
        temperatures = np.array([f.get_temperature() for f in frames])
    return replace(
        part,
        times_ps=times,
        steps=steps,
        timestep_fs=float(timestep) if timestep else None,
        temperatures_k=temperatures,
    )


def _frame_times(part: _Part, timestep_fs: float | None, sample_every: int | None) -> np.ndarray:
    """Times (ps) of a file's frames from its start (see the module docstring)."""
    if timestep_fs is None and part.times_ps is not None:
        return part.times_ps - part.times_ps[0]
    step_fs = timestep_fs or part.timestep_fs
    if step_fs is None:
        raise TrajectoryReadError(
            f"{part.path}: the file has no time information (XDATCAR, LAMMPS dumps and "
            "plain extxyz carry none): give the MD time step with --timestep-fs and, unless "
            "the file numbers its frames, the steps between frames with --sample-every"
        )
    n_frames = len(part.positions_ang)
    if sample_every is not None:
        steps = np.arange(n_frames) * sample_every
    elif part.steps is not None:
        steps = part.steps - part.steps[0]
    else:
        steps = np.arange(n_frames)
    return steps * step_fs / 1000.0


def _minimum_image_lengths(start: np.ndarray, end: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """|end - start| (Å) per atom by minimum image in ``cell`` (fractional wrap)."""
    fractional = (end - start) @ np.linalg.inv(cell)
    fractional -= np.rint(fractional)
    return np.linalg.norm(fractional @ cell, axis=-1)


def _largest_step_ang(part: _Part, frames: slice) -> float:
    positions, cells = part.positions_ang[frames], part.cells_ang[frames]
    steps = [
        _minimum_image_lengths(positions[i], positions[i + 1], cells[i + 1]).max()
        for i in range(len(positions) - 1)
    ]
    return max(steps, default=0.0)


def _interval_ps(times: np.ndarray, path: Path) -> float:
    steps = np.diff(times)
    if steps[0] <= 0 or not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise TrajectoryReadError(f"{path}: frames are not equally spaced in time")
    return float(steps[0])


def _join(
    parts: list[_Part], times: list[np.ndarray]
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Concatenated frames of the parts after checking that each continues the previous:
    symbols, positions (Å), cells (Å), energies (eV), temperatures (K), times (ps)."""
    first = parts[0]
    interval = _interval_ps(times[0], first.path)
    kept = [slice(None)]
    joined_times = [times[0]]
    for previous, part, part_times in zip(parts, parts[1:], times[1:], strict=False):
        where = f"{part.path} does not continue {previous.path}"
        if part.symbols != first.symbols:
            raise TrajectoryReadError(
                f"{where}: different atoms ({len(part.symbols)} vs {len(first.symbols)}, or "
                "another species order)"
            )
        if not np.isclose(_interval_ps(part_times, part.path), interval, rtol=1e-6):
            raise TrajectoryReadError(f"{where}: another frame interval")
        last_cell, next_cell = previous.cells_ang[-1], part.cells_ang[0]
        if np.linalg.norm(next_cell - last_cell) > CELL_TOLERANCE * np.linalg.norm(last_cell):
            raise TrajectoryReadError(f"{where}: the cell differs")
        seam = _minimum_image_lengths(
            previous.positions_ang[-1], part.positions_ang[0], next_cell
        ).max()
        typical = max(
            _largest_step_ang(previous, slice(-_SEAM_FRAMES, None)),
            _largest_step_ang(part, slice(0, _SEAM_FRAMES)),
        )
        duplicate = seam < DUPLICATE_ANG
        if not duplicate and seam > max(SEAM_FACTOR * typical, SEAM_FLOOR_ANG):
            raise TrajectoryReadError(
                f"{where}: an atom moves {seam:.3g} Å across the seam, frame-to-frame steps "
                f"reach {typical:.3g} Å (check the order of the files)"
            )
        # the first frame repeats the last one (dropped) or is the next frame
        start = joined_times[-1][-1] + (0.0 if duplicate else interval)
        kept.append(slice(1, None) if duplicate else slice(None))
        joined_times.append((part_times + start)[kept[-1]])

    def stack(name: str) -> np.ndarray:
        return np.concatenate([getattr(part, name)[k] for part, k in zip(parts, kept, strict=True)])

    return (
        first.symbols,
        stack("positions_ang"),
        stack("cells_ang"),
        stack("energies_ev"),
        stack("temperatures_k"),
        np.concatenate(joined_times),
    )
