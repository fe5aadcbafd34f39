"""Stability-indicated sampling (SIS, after Xu et al.): where MD with a model becomes unstable,
the model lacks data, so label frames from just before that point and fine-tune.

Generation i runs MD with model M_i on every structure at every target temperature under the
stability monitor of :mod:`screening.md`, with the temperature window of generation i (wide
first, narrower later: coarse to fine). A run stopped at its catastrophic point t_cp gives the
configurations of the ``window_ps`` before it (from t_next = t_cp - window_ps). They are
labelled with the reference calculator: single points, or with ``reference_md_steps`` a short
reference MD from t_next sampled into frames. The frames go to the fine-tuning step, which
merges them into its data and fine-tunes M_(i+1) from M_i at the learning rate decayed by
``lr_decay`` per generation. The loop stops when every run survives the target length, or
after ``max_generations`` generations.

Pure library code: the model is a potential spec, the reference a :class:`Reference` (built
where it labels), and the fine-tuning a callable (:func:`dataset_finetune` for an in-memory
dataset). MD and labelling are tasks on plain data (:func:`sis_md_task`,
:func:`sis_reference_md_task`, :func:`sis_label_task`) mapped by a
:class:`screening.farm_training.TaskMaps`: in this process, or on the farm.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError
from pymatgen.core import Structure

from screening.datasets import SplitFractions, make_frame, split_of
from screening.errors import PotentialError
from screening.farm_training import TaskMaps
from screening.finetune import FineTuneSettings, finetune
from screening.labelling import is_potential, reference_calculator
from screening.md import MDResult, MDSettings, run_md
from screening.potentials import calculator_for_task
from screening.progress import Progress, SilentProgress
from screening.structures import to_structure

if TYPE_CHECKING:
    from screening.enumeration import Payload


class FineTuneStep(Protocol):
    """Fine-tune ``base_spec`` with ``frames`` added to its data; return the new model's spec."""

    def __call__(
        self, base_spec: str, frames: Sequence[Atoms], learning_rate: float, workdir: Path
    ) -> str: ...


@dataclass(frozen=True)
class Reference:
    """The reference calculator by name, built where it labels
    (:func:`screening.labelling.reference_calculator`): a potential spec, or
    ``ase:MODULE.CLASS`` with its keyword ``options``."""

    spec: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def mlip(self) -> bool:
        """A potential (its tasks ask for a GPU worker on a GPU farm), not a file-based code."""
        return is_potential(self.spec)


@dataclass(frozen=True)
class SISSettings:
    """The loop. Generation i uses ``temperature_windows[min(i, len - 1)]`` (multiples of the
    target temperature, as :class:`screening.md.StabilityCriteria`) and fine-tunes at
    ``learning_rate * lr_decay**i``."""

    max_generations: int = 5
    target_steps: int = 10_000  # production steps every run must survive
    window_ps: float = 0.2  # label configurations this long before the catastrophic point
    frames_per_generation: int = 20
    temperature_windows: tuple[tuple[float, float], ...] = ((0.25, 4.0), (0.5, 1.5))
    temperatures_k: tuple[float, ...] = ()  # target temperatures; () uses the MD settings'
    learning_rate: float = 1e-3
    lr_decay: float = 0.5
    reference_md_steps: int = 20  # from t_next; 0: single points on the window's frames

    def __post_init__(self) -> None:
        if self.max_generations < 1 or self.frames_per_generation < 1 or self.target_steps < 1:
            raise PotentialError("SIS needs at least one generation, frame and MD step")
        if not self.temperature_windows:
            raise PotentialError("SIS needs at least one temperature window")


@dataclass(frozen=True)
class SISGeneration:
    """One generation: the model run in MD, what stopped it, and the frames it added."""

    index: int
    model_spec: str  # M_i, the model run in MD
    temperature_window: tuple[float, float]  # multiples of the target temperature
    runs: int  # MD runs (structures x temperatures)
    unstable_runs: int
    catastrophic_step: int | None  # the earliest over the runs; None: every run survived
    catastrophic_time_ps: float | None  # of that step, from the start of production
    reason: str | None
    frames_added: tuple[Atoms, ...]  # labelled by the reference
    # M_(i+1), fine-tuned on them at learning_rate; None when none was trained: every run
    # survived, this was the last generation, or no frames came before the catastrophic point
    next_model_spec: str | None
    learning_rate: float | None

    @property
    def survived(self) -> bool:
        return self.catastrophic_step is None


def run_sis(
    model_spec: str,
    reference: Reference,
    structures: Sequence[Structure],
    md: MDSettings,
    settings: SISSettings,
    finetune_fn: FineTuneStep,
    workdir: Path,
    progress: Progress | None = None,
    on_generation: Callable[[SISGeneration], None] | None = None,
    tasks: TaskMaps | None = None,
) -> list[SISGeneration]:
    """Run generations until MD survives or the cap; every generation is returned (and given
    to ``on_generation`` as it completes). MD and labelling run as ``tasks`` maps them
    (default: in this process); the fine-tuning of generation i works in
    ``workdir / f"generation-{i}"``, an ``ase:`` reference in ``workdir / f"reference-{i}"``."""
    if not structures:
        raise PotentialError("SIS needs at least one structure")
    tasks = tasks or TaskMaps()
    progress = progress or SilentProgress()
    progress.start("sis", settings.max_generations)
    history: list[SISGeneration] = []
    for index in range(settings.max_generations):
        windows = settings.temperature_windows
        window = windows[min(index, len(windows) - 1)]
        runs = _run_md(model_spec, structures, md, settings, window, tasks)
        failed = [(result, at_t) for result, at_t in runs if not result.stable]
        step = time_ps = reason = next_spec = rate = None
        frames: list[Atoms] = []
        if failed:
            first, first_md = min(failed, key=lambda pair: pair[0].catastrophic_step or 0)
            step, reason = first.catastrophic_step, first.instability_reason
            time_ps = _time_ps(step or 0, first_md)
            directory = workdir / f"reference-{index}"
            frames = _label_failures(failed, reference, settings, index, directory, tasks)
            if frames and index < settings.max_generations - 1:
                rate = settings.learning_rate * settings.lr_decay**index
                next_spec = finetune_fn(model_spec, frames, rate, workdir / f"generation-{index}")
        generation = SISGeneration(
            index=index,
            model_spec=model_spec,
            temperature_window=window,
            runs=len(runs),
            unstable_runs=len(failed),
            catastrophic_step=step,
            catastrophic_time_ps=time_ps,
            reason=reason,
            frames_added=tuple(frames),
            next_model_spec=next_spec,
            learning_rate=rate,
        )
        history.append(generation)
        progress.advance("sis")
        progress.note(_summary(generation))
        if on_generation:
            on_generation(generation)
        if next_spec is None:
            break
        model_spec = next_spec
    return history


def _run_md(
    model_spec: str,
    structures: Sequence[Structure],
    md: MDSettings,
    settings: SISSettings,
    window: tuple[float, float],
    tasks: TaskMaps,
) -> list[tuple[MDResult, MDSettings]]:
    """MD with the model on every structure at every target temperature, for the target
    length, under this generation's temperature window: one task per run."""
    base = replace(
        md, steps=settings.target_steps, stability=replace(md.stability, temperature_window=window)
    )
    payloads = [
        {
            "spec": model_spec,
            "structure": structure,
            "md": replace(base, temperature_k=temperature),
            "torch_threads": tasks.torch_threads,
        }
        for structure in structures
        for temperature in settings.temperatures_k or (md.temperature_k,)
    ]
    results = tasks.mlip(sis_md_task, payloads)
    return [(out["result"], payload["md"]) for payload, out in zip(payloads, results, strict=True)]


def sis_md_task(payload: Payload) -> Payload:
    """One MD run with the model (a task): ``spec``, ``structure``, ``md`` (its settings) and
    ``torch_threads`` give ``result``, the :class:`MDResult`."""
    calculator, _ = calculator_for_task(
        payload["spec"], payload["torch_threads"], need_stress=False
    )
    return {"result": run_md(payload["structure"], calculator, payload["md"])}


def label(atoms: Atoms, reference: Calculator, source: str = "") -> Atoms:
    """A frame of ``atoms`` labelled by ``reference``: energy, forces, and stress where the
    calculator provides one."""
    work = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    work.wrap()
    work.calc = reference
    energy, forces = work.get_potential_energy(), work.get_forces()
    try:
        stress = work.get_stress()
    except PropertyNotImplementedError:
        stress = None
    functional = getattr(reference, "name", type(reference).__name__)
    return make_frame(work, energy, forces, stress, source=source, functional=functional)


def dataset_finetune(
    train: Sequence[Atoms],
    valid: Sequence[Atoms],
    settings: FineTuneSettings,
    fractions: SplitFractions | None = None,
    progress: Progress | None = None,
) -> FineTuneStep:
    """A fine-tuning step over an in-memory dataset that grows: each generation's frames
    join it in the split their hash gives (:func:`screening.datasets.split_of`; test frames are
    held out), and the model is fine-tuned on all of it."""
    data = {"train": list(train), "valid": list(valid), "test": []}
    fractions = fractions or SplitFractions()

    def step(base_spec: str, frames: Sequence[Atoms], learning_rate: float, workdir: Path) -> str:
        for frame in frames:
            data[split_of(frame.info["frame_hash"], fractions)].append(frame)
        chosen = replace(settings, learning_rate=learning_rate, continuing=False)
        return finetune(base_spec, data["train"], data["valid"], chosen, workdir, progress).spec

    return step


def _time_ps(step: int, settings: MDSettings) -> float:
    return (step - settings.equilibration_steps) * settings.timestep_fs / 1000


def _label_failures(
    failed: list[tuple[MDResult, MDSettings]],
    reference: Reference,
    settings: SISSettings,
    index: int,
    directory: Path,
    tasks: TaskMaps,
) -> list[Atoms]:
    """Reference-labelled frames from the window before each run's catastrophic point, the
    frames of a generation shared out evenly among its failed runs: a task per reference MD
    and per frame, each working in a directory of its own under ``directory``."""
    share = max(1, settings.frames_per_generation // len(failed))
    map_reference = tasks.mlip if reference.mlip else tasks.other
    windows = [(_before_failure(result, md, settings.window_ps), md) for result, md in failed]
    per_run = [configurations for configurations, _ in windows]
    if settings.reference_md_steps:
        payloads = [
            {
                **_reference_payload(reference, directory / f"md-{i}", tasks),
                "start": configurations[0],
                "md": md,
                "settings": settings,
                "count": share,
            }
            for i, (configurations, md) in enumerate(windows)
            if configurations
        ]
        results = map_reference(sis_reference_md_task, payloads)
        per_run = [out["configurations"] for out in results]
    chosen = [atoms for configurations in per_run for atoms in _spread(configurations, share)]
    payloads = [
        {
            **_reference_payload(reference, directory / f"frame-{i}", tasks),
            "atoms": atoms,
            "source": f"sis generation {index}",
        }
        for i, atoms in enumerate(chosen[: settings.frames_per_generation])
    ]
    return [out["frame"] for out in map_reference(sis_label_task, payloads)]


def _reference_payload(reference: Reference, directory: Path, tasks: TaskMaps) -> Payload:
    """What a reference task needs to build the reference, as in
    :func:`screening.labelling.label_task`."""
    return {
        "calculator": reference.spec,
        "options": reference.options,
        "directory": str(directory.resolve()),
        "torch_threads": tasks.torch_threads,
    }


def _reference_of(payload: Payload) -> Calculator:
    """The reference a task's payload names (:func:`_reference_payload`)."""
    return reference_calculator(
        payload["calculator"],
        payload["options"],
        Path(payload["directory"]),
        payload["torch_threads"],
    )


def sis_reference_md_task(payload: Payload) -> Payload:
    """A short reference MD (a task): from ``start`` under ``md`` and SIS ``settings``,
    ``count`` configurations; the reference as :func:`_reference_payload` gives it."""
    configurations = _reference_md(
        payload["start"],
        _reference_of(payload),
        payload["md"],
        payload["settings"],
        payload["count"],
    )
    return {"configurations": configurations}


def sis_label_task(payload: Payload) -> Payload:
    """The frame of ``atoms`` labelled by the reference (a task, :func:`label`) with its
    ``source``; the reference as :func:`_reference_payload` gives it."""
    return {"frame": label(payload["atoms"], _reference_of(payload), payload["source"])}


def _before_failure(result: MDResult, md: MDSettings, window_ps: float) -> list[Atoms]:
    """The sampled configurations in [t_cp - window, t_cp), finite ones only."""
    trajectory = result.pre_failure
    assert trajectory is not None and result.catastrophic_step is not None
    t_cp = _time_ps(result.catastrophic_step, md)
    chosen = []
    for i, time_ps in enumerate(trajectory.times_ps):
        positions = trajectory.positions_ang[i]
        if t_cp - window_ps - 1e-9 <= time_ps < t_cp and np.all(np.isfinite(positions)):
            chosen.append(
                Atoms(trajectory.symbols, positions, cell=trajectory.cells_ang[i], pbc=True)
            )
    return chosen


def _reference_md(
    start: Atoms, reference: Calculator, md: MDSettings, settings: SISSettings, count: int
) -> list[Atoms]:
    """Configurations of a short MD with the reference from ``start`` (t_next); the reference
    is trusted, so only its non-finite or colliding atoms stop it, not its temperature."""
    reference_settings = replace(
        md,
        steps=settings.reference_md_steps,
        equilibration_steps=0,
        sample_every=max(1, settings.reference_md_steps // count),
        stability=replace(md.stability, temperature_window=(0.0, math.inf)),
    )
    result = run_md(to_structure(start), reference, reference_settings)
    trajectory = result.trajectory if result.stable else result.pre_failure
    assert trajectory is not None
    return [
        Atoms(trajectory.symbols, positions, cell=cell, pbc=True)
        for positions, cell in zip(trajectory.positions_ang, trajectory.cells_ang, strict=True)
    ]


def _spread(items: list[Atoms], count: int) -> list[Atoms]:
    """Up to ``count`` items evenly spaced, the last one included."""
    if len(items) <= count:
        return items
    picks = np.linspace(len(items) - 1, 0, count).round().astype(int)
    return [items[i] for i in sorted(set(picks.tolist()))]


def _summary(generation: SISGeneration) -> str:
    head = f"SIS generation {generation.index} ({generation.model_spec})"
    if generation.survived:
        return f"{head}: every run survived"
    return (
        f"{head}: {generation.unstable_runs}/{generation.runs} runs unstable, first at "
        f"{generation.catastrophic_time_ps:.3f} ps ({generation.reason}); "
        f"{len(generation.frames_added)} frames labelled"
    )
