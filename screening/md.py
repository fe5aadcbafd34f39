"""NVT molecular dynamics with any ASE calculator, watched by a stability monitor.

The monitor is an observer of the integrator: a temperature outside the window (averaged
over the thermostat time, checked in production, after equilibration), two
atoms closer than ``min_distance_ang``, NaN or exploding energies, or a melting framework
stop the run at that step (the catastrophic point) and mark it unstable with the reason.
The frames just before that point are kept for later learning. Positions are recorded
as ASE integrates them, which is unwrapped.

Given a checkpoint file, the run saves its whole state (integrator, thermostat, random
generator, monitor) every ``checkpoint_every`` steps, and a run that finds its own
checkpoint continues from that step, on the uninterrupted run's trajectory (bit for bit
when the calculator's forces depend on the positions alone).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.constraints import FixCom
from ase.geometry import get_distances
from ase.md.bussi import Bussi
from ase.md.langevin import Langevin
from ase.md.md import MolecularDynamics
from ase.md.nose_hoover_chain import NoseHooverChainNVT
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from pymatgen.core import Structure

from screening.md_checkpoint import CheckpointFile, MDCheckpoint
from screening.structures import to_atoms
from screening.trajectory import Trajectory

Thermostat = Literal["langevin", "nose-hoover", "bussi"]
Frame = tuple[np.ndarray, np.ndarray, float, float, float]  # positions, cell, t, E, T
_FRAME_FIELDS = ("positions_ang", "cells_ang", "times_ps", "energies_ev", "temperatures_k")
_CHECKPOINT_FORMAT = "md-checkpoint-1"  # part of the fingerprint: bump when the state changes


@dataclass(frozen=True)
class StabilityCriteria:
    """When a trajectory stops being trustworthy."""

    temperature_window: tuple[float, float] = (0.5, 1.5)  # multiples of the target T
    min_distance_ang: float = 0.6
    framework_msd_max_ang2: float = 1.0
    framework_msd_window_fs: float = 500.0  # the MSD tested is the mean over this much time
    max_energy_rise_ev_atom: float = 2.0  # above the starting energy: an explosion


@dataclass(frozen=True)
class MDSettings:
    """One NVT run: target temperature (K), timestep (fs), steps, sampling and thermostat."""

    temperature_k: float
    timestep_fs: float = 2.0
    steps: int = 25_000
    equilibration_steps: int = 2_500
    sample_every: int = 10
    thermostat: Thermostat = "langevin"
    seed: int = 1
    mobile_species: str = "Li"
    thermostat_time_fs: float = 100.0  # Langevin 1/friction, Nose-Hoover/Bussi damping time
    pre_failure_frames: int = 50
    stability: StabilityCriteria = field(default_factory=StabilityCriteria)
    checkpoint_every: int = 0  # steps between checkpoints; 0: none


@dataclass(frozen=True)
class MDResult:
    """Production frames, and whether (and where, and why) the run became unstable."""

    trajectory: Trajectory
    stable: bool
    instability_reason: str | None
    catastrophic_step: int | None
    pre_failure: Trajectory | None
    steps_done: int
    wall_time_s: float  # this attempt's, plus earlier attempts' up to their last checkpoint
    resumed_from_step: int | None = None  # the checkpoint this attempt continued from


class Unstable(Exception):
    """Raised by the monitor to stop the integrator at the catastrophic point."""

    def __init__(self, step: int, reason: str) -> None:
        super().__init__(f"step {step}: {reason}")
        self.step = step
        self.reason = reason


def supercell_for(structure: Structure, min_length_ang: float) -> tuple[int, int, int]:
    """Smallest repetitions so that every perpendicular width of the cell reaches the minimum."""
    matrix = structure.lattice.matrix
    volume = abs(np.linalg.det(matrix))
    widths = [
        volume / np.linalg.norm(np.cross(matrix[(i + 1) % 3], matrix[(i + 2) % 3]))
        for i in range(3)
    ]
    return tuple(max(1, int(np.ceil(min_length_ang / w - 1e-9))) for w in widths)  # type: ignore[return-value]


def run_md(
    structure: Structure,
    calculator: Calculator,
    settings: MDSettings,
    checkpoint: CheckpointFile | None = None,
) -> MDResult:
    """Equilibrate, then sample the production run; stop at the first sign of instability.

    With ``checkpoint``, continue from it when it holds this run's state, and save the
    state there every ``settings.checkpoint_every`` steps (if that is positive).
    """
    atoms = to_atoms(structure)
    atoms.calc = calculator
    fingerprint = _fingerprint(atoms, settings)
    rng = np.random.default_rng(settings.seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=settings.temperature_k, rng=rng)
    Stationary(atoms)
    dynamics = _integrator(atoms, settings, rng)
    recorder = _Recorder(atoms, settings)
    saved = checkpoint.load(fingerprint, len(atoms)) if checkpoint else None
    earlier_s = 0.0
    if saved is not None:
        _restore(saved, dynamics, rng, recorder)
        earlier_s = saved.wall_time_s
    dynamics.attach(recorder.observe, interval=1)
    started = time.perf_counter()
    if checkpoint is not None and settings.checkpoint_every > 0:

        def save() -> None:
            if dynamics.nsteps > 0:
                spent_s = earlier_s + time.perf_counter() - started
                checkpoint.save(_snapshot(fingerprint, dynamics, rng, recorder, spent_s))

        # Attached after the recorder, so a step that is unstable is never saved.
        dynamics.attach(save, interval=settings.checkpoint_every)
    total = settings.equilibration_steps + settings.steps
    reason, step = None, None
    try:
        dynamics.run(total - dynamics.nsteps)
    except Unstable as err:
        reason, step = err.reason, err.step
    return MDResult(
        trajectory=recorder.production(),
        stable=reason is None,
        instability_reason=reason,
        catastrophic_step=step,
        pre_failure=recorder.before_failure() if reason else None,
        steps_done=recorder.step,
        wall_time_s=earlier_s + time.perf_counter() - started,
        resumed_from_step=saved.step if saved else None,
    )


def _fingerprint(atoms: Atoms, settings: MDSettings) -> str:
    """What a checkpoint must match: the settings (bar the interval) and the starting cell."""
    described = asdict(settings)
    del described["checkpoint_every"]
    digest = hashlib.sha256(json.dumps([_CHECKPOINT_FORMAT, described], sort_keys=True).encode())
    digest.update(" ".join(atoms.get_chemical_symbols()).encode())
    digest.update(np.ascontiguousarray(atoms.cell.array, dtype=float).tobytes())
    digest.update(np.ascontiguousarray(atoms.positions, dtype=float).tobytes())
    return digest.hexdigest()


def _snapshot(
    fingerprint: str,
    dynamics: MolecularDynamics,
    rng: np.random.Generator,
    recorder: _Recorder,
    wall_time_s: float,
) -> MDCheckpoint:
    atoms = dynamics.atoms
    thermostat: dict[str, np.ndarray] = {}
    if isinstance(dynamics, NoseHooverChainNVT):
        chain = dynamics._thermostat
        thermostat = {"eta": chain._eta.copy(), "p_eta": chain._p_eta.copy()}
    elif isinstance(dynamics, Bussi):
        thermostat = {"transferred_energy_ev": np.array(dynamics.transferred_energy)}
    return MDCheckpoint(
        fingerprint=fingerprint,
        step=dynamics.nsteps,
        positions_ang=atoms.positions.copy(),
        momenta=atoms.get_momenta(),
        rng_state=rng.bit_generator.state,
        wall_time_s=wall_time_s,
        thermostat=thermostat,
        recorder=recorder.state(),
    )


def _restore(
    saved: MDCheckpoint,
    dynamics: MolecularDynamics,
    rng: np.random.Generator,
    recorder: _Recorder,
) -> None:
    """Put a freshly built run into the checkpoint's state, bit for bit."""
    atoms = dynamics.atoms
    # Constraints (FixCom) must not move the saved arrays: they already obey them.
    atoms.set_positions(saved.positions_ang, apply_constraint=False)
    atoms.set_momenta(saved.momenta, apply_constraint=False)
    rng.bit_generator.state = saved.rng_state
    dynamics.nsteps = saved.step
    if isinstance(dynamics, NoseHooverChainNVT):
        dynamics._q = atoms.get_positions()
        dynamics._p = atoms.get_momenta()
        dynamics._thermostat._eta[:] = saved.thermostat["eta"]
        dynamics._thermostat._p_eta[:] = saved.thermostat["p_eta"]
    elif isinstance(dynamics, Bussi):
        dynamics.transferred_energy = float(saved.thermostat["transferred_energy_ev"])
    recorder.restore(saved.step, saved.recorder)


def _integrator(atoms: Atoms, settings: MDSettings, rng: np.random.Generator) -> MolecularDynamics:
    timestep = settings.timestep_fs * units.fs
    damping = settings.thermostat_time_fs * units.fs
    if settings.thermostat == "langevin":
        atoms.set_constraint(FixCom())  # ASE's recommended replacement for fixcm=True
        return Langevin(
            atoms,
            timestep,
            temperature_K=settings.temperature_k,
            friction=1 / damping,
            fixcm=False,
            rng=rng,
        )
    if settings.thermostat == "nose-hoover":
        return NoseHooverChainNVT(
            atoms, timestep, temperature_K=settings.temperature_k, tdamp=damping
        )
    return Bussi(atoms, timestep, temperature_K=settings.temperature_k, taut=damping, rng=rng)


class _Recorder:
    """The integrator's observer: checks stability every step, samples frames."""

    def __init__(self, atoms: Atoms, settings: MDSettings) -> None:
        self.atoms = atoms
        self.settings = settings
        self.step = -1  # the integrator step of the latest observation (0: the start)
        self._frames: list[Frame] = []
        self._recent: deque = deque(maxlen=settings.pre_failure_frames)
        self._start_energy = atoms.get_potential_energy() / len(atoms)
        # The window applies to the temperature averaged over the thermostat time: small
        # cells fluctuate by T*sqrt(2/3N) per step, which is not an instability.
        self._smoothed_k = settings.temperature_k
        self._smoothing = min(1.0, settings.timestep_fs / settings.thermostat_time_fs)
        # Framework: every atom not of the mobile species (none in an elemental liquid, where
        # the melting check does not apply).
        self._framework = np.array(
            [s != settings.mobile_species for s in atoms.get_chemical_symbols()]
        )
        self._framework_start = atoms.positions[self._framework].copy()
        # Melting is sustained displacement: the MSD of a few dozen vibrating framework atoms
        # fluctuates by tens of percent from frame to frame (soft halides at 1000 K swing
        # between 0.3 and 0.9 Å²), so the limit applies to its mean over a window.
        window_samples = settings.stability.framework_msd_window_fs / (
            settings.timestep_fs * settings.sample_every
        )
        self._framework_msd: deque[float] = deque(maxlen=max(1, round(window_samples)))

    def observe(self) -> None:
        self.step += 1
        frame = self._frame()
        self._check_every_step(frame)
        if self.step % self.settings.sample_every == 0:
            self._recent.append(frame)
            self._check_geometry()
            if self.step >= self.settings.equilibration_steps:
                self._frames.append(frame)

    def _frame(self) -> Frame:
        time_ps = (self.step - self.settings.equilibration_steps) * self.settings.timestep_fs / 1000
        return (
            self.atoms.positions.copy(),
            self.atoms.cell.array.copy(),
            time_ps,
            float(self.atoms.get_potential_energy()),
            float(self.atoms.get_temperature()),
        )

    def _check_every_step(self, frame: tuple) -> None:
        _, _, _, energy, temperature = frame
        criteria = self.settings.stability
        if not np.isfinite(energy) or not np.all(np.isfinite(self.atoms.positions)):
            self._stop(f"energy or positions became non-finite ({energy})", frame)
        rise = energy / len(self.atoms) - self._start_energy
        if rise > criteria.max_energy_rise_ev_atom:
            self._stop(f"energy exploded by {rise:.3g} eV/atom", frame)
        self._smoothed_k += self._smoothing * (temperature - self._smoothed_k)
        low, high = (f * self.settings.temperature_k for f in criteria.temperature_window)
        in_production = self.step >= max(1, self.settings.equilibration_steps)
        if in_production and not low <= self._smoothed_k <= high:
            self._stop(
                f"temperature {self._smoothed_k:.0f} K (averaged over "
                f"{self.settings.thermostat_time_fs:g} fs) left the window "
                f"[{low:.0f}, {high:.0f}] K",
                frame,
            )

    def _check_geometry(self) -> None:
        criteria = self.settings.stability
        _, distances = get_distances(self.atoms.positions, cell=self.atoms.cell, pbc=True)
        np.fill_diagonal(distances, np.inf)
        closest = float(distances.min())
        if closest < criteria.min_distance_ang:
            self._stop(f"two atoms {closest:.2f} Å apart (limit {criteria.min_distance_ang} Å)")
        if not self._framework.any():
            return
        moved = self.atoms.positions[self._framework] - self._framework_start
        moved -= moved.mean(axis=0)
        self._framework_msd.append(float((moved**2).sum(axis=1).mean()))
        msd = float(np.mean(self._framework_msd))
        if msd > criteria.framework_msd_max_ang2:
            self._stop(
                f"framework melted: MSD {msd:.2f} Å² (mean over "
                f"{criteria.framework_msd_window_fs:g} fs) > {criteria.framework_msd_max_ang2} Å²"
            )

    def _stop(self, reason: str, frame: tuple | None = None) -> None:
        if frame is not None:
            self._recent.append(frame)
        raise Unstable(self.step, reason)

    def state(self) -> dict[str, np.ndarray]:
        """Everything :meth:`restore` needs, as arrays."""
        return {
            **_frame_arrays("frames", self.atoms, self._frames),
            **_frame_arrays("recent", self.atoms, list(self._recent)),
            "start_energy_ev_atom": np.array(self._start_energy),
            "smoothed_k": np.array(self._smoothed_k),
            "framework_start_ang": self._framework_start,
            "framework_msd_ang2": np.array(self._framework_msd, dtype=float),
        }

    def restore(self, step: int, state: dict[str, np.ndarray]) -> None:
        self.step = step
        self._frames = _frames_from(state, "frames")
        self._recent.clear()
        self._recent.extend(_frames_from(state, "recent"))
        self._start_energy = float(state["start_energy_ev_atom"])
        self._smoothed_k = float(state["smoothed_k"])
        self._framework_start = state["framework_start_ang"].copy()
        self._framework_msd.clear()
        self._framework_msd.extend(float(v) for v in state["framework_msd_ang2"])

    def production(self) -> Trajectory:
        return _trajectory(self.atoms, self._frames)

    def before_failure(self) -> Trajectory:
        return _trajectory(self.atoms, list(self._recent))


def _frame_arrays(prefix: str, atoms: Atoms, frames: list[Frame]) -> dict[str, np.ndarray]:
    trajectory = _trajectory(atoms, frames)
    return {f"{prefix}_{name}": getattr(trajectory, name) for name in _FRAME_FIELDS}


def _frames_from(state: dict[str, np.ndarray], prefix: str) -> list[Frame]:
    columns = [state[f"{prefix}_{name}"] for name in _FRAME_FIELDS]
    return [
        (positions.copy(), cell.copy(), float(t), float(energy), float(temperature))
        for positions, cell, t, energy, temperature in zip(*columns, strict=True)
    ]


def _trajectory(atoms: Atoms, frames: list[Frame]) -> Trajectory:
    n_atoms = len(atoms)
    if not frames:
        empty = np.zeros((0,))
        return Trajectory(
            tuple(atoms.get_chemical_symbols()),
            np.zeros((0, n_atoms, 3)),
            np.zeros((0, 3, 3)),
            empty,
            empty,
            empty,
        )
    positions, cells, times, energies, temperatures = zip(*frames, strict=True)
    return Trajectory(
        symbols=tuple(atoms.get_chemical_symbols()),
        positions_ang=np.array(positions),
        cells_ang=np.array(cells),
        times_ps=np.array(times),
        energies_ev=np.array(energies),
        temperatures_k=np.array(temperatures),
    )
