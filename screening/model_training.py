"""The fine-tuning workflows behind ``screening data`` and ``screening potential``: import and
label frames into a dataset, fine-tune and register a potential with its provenance, learning
curves. Training itself is :func:`screening.finetune.finetune`; the database side is
:mod:`screening.training_store`; labelling runs on the farm (:mod:`screening.farm`), and so
does training when farm options are given (:mod:`screening.farm_training`); registration
stays in this process."""

from __future__ import annotations

import dataclasses
import functools
import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ase import Atoms
from ase.io import read
from pymatgen.core import Structure
from sqlalchemy.orm import Session

from db import queries
from db.artifacts import ArtifactStore
from db.models import Dataset, Potential, SisGeneration
from screening.datasets import (
    SPLITS,
    DatasetError,
    SplitFractions,
    make_frame,
    potential_species,
    read_frames,
    subsample,
    validate_frames,
)
from screening.evaluation import Evaluation, evaluate
from screening.farm_training import Trainer, farm_work, trainer
from screening.labelling import atoms_payload, check_calculator, is_potential, label_task
from screening.md import MDSettings
from screening.potentials import PotentialSpec, default_device, load_calculator
from screening.progress import Progress
from screening.structures import structure_from_json, to_atoms
from screening.training_store import (
    Added,
    Provenance,
    add_frames,
    base_potential,
    ensure_dataset,
    find_potential,
    get_dataset,
    load_frames,
    register_finetuned,
    resolve_potential,
    run_generations,
    split_record,
    store_model,
)

if TYPE_CHECKING:  # the trainers pull in torch and mace: imported when training
    from screening.finetune import FineTuneResult, FineTuneSettings
    from screening.sis import Reference, SISGeneration, SISSettings


@dataclass(frozen=True)
class Imported:
    """Frames read from files, what the dataset took, and one line per rejected frame."""

    read: int
    added: Added
    rejected: list[str]


def import_files(
    session: Session,
    dataset_name: str,
    paths: Sequence[Path],
    potential: str | None = None,
    functional: str | None = None,
    fractions: SplitFractions | None = None,
) -> Imported:
    """Read every file (all must be readable), keep the valid frames (species checked against
    ``potential`` when given) and add the new ones to the dataset, created if needed."""
    frames = [frame for path in paths for frame in read_frames(path, functional)]
    species = None
    if potential is not None:
        species = potential_species(resolve_potential(session, potential)[0])
    checked = validate_frames(frames, species)
    dataset = ensure_dataset(session, dataset_name, fractions)
    return Imported(len(frames), add_frames(session, dataset, checked.frames), checked.rejected)


def structures_to_label(session: Session, target: str) -> list[Atoms]:
    """A structure file's frames (any format ASE reads), else the candidate structures of the
    campaign called ``target`` (relaxed where relaxed); ``info["source"]`` says which."""
    path = Path(target)
    if path.is_file():
        try:
            images = read(path, index=":")
        except Exception as err:  # ASE's readers raise anything
            raise DatasetError(f"{path}: cannot read structures ({err})") from err
        for index, atoms in enumerate(images):
            atoms.info = {"source": f"{path}#{index}"}
        return list(images)
    campaign_id = queries.campaign_id(session, target)
    structures = []
    for row in queries.candidate_structures(session, campaign_id):
        relaxed = row["relaxed_structure_json"]
        atoms = to_atoms(structure_from_json(relaxed or row["structure_json"]))
        kind = "relaxed" if relaxed else "ideal"
        atoms.info = {"source": f"campaign {target} structure {row['structure_id']} ({kind})"}
        structures.append(atoms)
    return structures


@dataclass(frozen=True)
class Labelled:
    """Frames labelled into a dataset, and one line per structure whose calculation failed."""

    added: int
    duplicates: int
    failed: list[str]


def label_structures(
    session: Session,
    dataset_name: str,
    structures: Sequence[Atoms],
    calculator: str,
    options: dict[str, Any],
    functional: str | None,
    directory: Path,
    farm: FarmOptions,
    progress: Progress,
) -> Labelled:
    """Label ``structures`` with the reference calculator on the farm, committing each frame
    into the dataset as it arrives (an interrupted run keeps what it labelled)."""
    from screening.clusters import ClusterSettings, make_cluster
    from screening.farm import execute, map_ordered

    check_calculator(calculator, options)
    dataset = ensure_dataset(session, dataset_name, None)
    session.commit()
    tag = functional or options.get("xc") or calculator
    settings = ClusterSettings().overridden(farm.scheduler, farm.workers)
    added, failed = 0, []
    progress.start("label", len(structures))
    task = functools.partial(execute, label_task)
    with make_cluster(settings) as (client, info):
        payloads = (
            {
                "atoms": atoms_payload(atoms),
                "calculator": calculator,
                "options": options,
                "directory": str(directory.resolve() / f"frame-{index:06d}"),
                "torch_threads": info.torch_threads,
            }
            for index, atoms in enumerate(structures)
        )
        resources = info.mlip_resources if is_potential(calculator) else None
        results = map_ordered(client, task, payloads, max(8, 4 * info.workers), resources)
        for atoms, record in zip(structures, results, strict=True):
            source = f"label {calculator}: {atoms.info.get('source', '')}"
            if "error" in record:
                failed.append(f"{source}: {record['error'].splitlines()[0]}")
                progress.advance("label", ok=False)
                continue
            labels = record["result"]
            frame = make_frame(
                atoms,
                labels["energy_ev"],
                labels["forces_ev_ang"],
                labels["stress_ev_ang3"],
                source,
                tag,
            )
            added += add_frames(session, dataset, [frame]).added
            session.commit()
            progress.advance("label")
    return Labelled(added, len(structures) - added - len(failed), failed)


@dataclass(frozen=True)
class FarmOptions:
    """Where farm work runs: a remote scheduler, else a local cluster of ``workers``."""

    scheduler: str | None = None
    workers: int | None = None


@dataclass(frozen=True)
class FineTuned:
    """A registered fine-tuned potential, its test errors and the base's on the same frames."""

    potential: Potential
    base: Evaluation
    test: Evaluation
    result: FineTuneResult
    learning_rate_note: str | None


def finetune_and_register(
    session: Session,
    base: str,
    dataset_name: str,
    settings: FineTuneSettings,
    store: ArtifactStore,
    name: str | None = None,
    workdir: Path | None = None,
    progress: Progress | None = None,
    farm: FarmOptions | None = None,
) -> FineTuned:
    """Fine-tune ``base`` (a spec or a registered name) on a dataset's train split (valid for
    early stopping), evaluate base and result on its test split, store the model in the
    artifact store and write its ``potential`` row (caller commits). With ``farm``, the
    training is a farm task (:func:`trainer`); the rest happens here.

    Continuing from a fine-tuned potential multiplies the learning rate by
    ``settings.continue_lr_factor`` (learning without forgetting).
    """
    if name is not None and find_potential(session, name) is not None:
        raise DatasetError(f"a potential named {name!r} exists already: choose another --name")
    base_spec, base_row = resolve_potential(session, base)
    dataset = get_dataset(session, dataset_name)
    splits = _splits(session, dataset)
    _check_splits(dataset_name, splits, ("train", "test"))
    note = None
    if base_row is not None and base_row.dataset_id is not None:
        settings = dataclasses.replace(settings, continuing=True)
        note = (
            f"{base} is itself fine-tuned: learning rate x {settings.continue_lr_factor:g} "
            f"= {settings.rate():g}"
        )
    parent = base_potential(session, base_spec, base_row)
    with _workdir(workdir, shared=farm is not None) as directory, trainer(farm) as train:
        potential, test, result = _train_and_register(
            session, parent, dataset, splits, settings, store, name, directory, train, progress
        )
    base_eval = evaluate(load_calculator(base_spec, default_device()), splits["test"], progress)
    assert test is not None  # the test split is not empty
    return FineTuned(potential, base_eval, test, result, note)


def _splits(session: Session, dataset: Dataset) -> dict[str, list[Atoms]]:
    return {split: load_frames(session, dataset, split) for split in SPLITS}


def _train_and_register(
    session: Session,
    parent: Potential,
    dataset: Dataset,
    splits: dict[str, list[Atoms]],
    settings: FineTuneSettings,
    store: ArtifactStore,
    name: str | None,
    workdir: Path,
    train: Trainer,
    progress: Progress | None,
) -> tuple[Potential, Evaluation | None, FineTuneResult]:
    """Fine-tune ``parent`` on the splits with ``train``, store the model, evaluate it on the
    test split (when there is one) and write its ``potential`` row."""
    result = train(parent.spec, splits["train"], splits["valid"], settings, workdir, progress)
    stored, sha = store_model(session, store, result.model_path, result.spec)
    test = None
    if splits["test"]:
        test = evaluate(load_calculator(stored, default_device()), splits["test"], progress)
    provenance = Provenance(
        parent=parent,
        dataset=dataset,
        splits=split_record(splits),
        hyperparameters={
            **result.hyperparameters,
            "continuing": settings.continuing,
            "epochs_run": result.epochs_run,
        },
        test=test,
        wall_time_s=result.wall_s,
    )
    name = name or f"{PotentialSpec.parse(parent.spec).name}-ft-{sha[:8]}"
    return register_finetuned(session, name, stored, provenance), test, result


def _check_splits(
    dataset_name: str, splits: dict[str, list[Atoms]], needed: tuple[str, ...]
) -> None:
    counts = ", ".join(f"{len(frames)} {split}" for split, frames in splits.items())
    for split in needed:
        if not splits[split]:
            raise DatasetError(
                f"dataset {dataset_name!r} has no {split} frames ({counts}): import more frames"
            )


@contextmanager
def _workdir(path: Path | None, shared: bool = False) -> Iterator[Path]:
    """The given directory, else a temporary one removed afterwards; one ``shared`` with farm
    workers is made in the current directory (more likely on a shared filesystem than /tmp)."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    parent = Path.cwd() if shared else None
    with tempfile.TemporaryDirectory(prefix="screening-finetune-", dir=parent) as temporary:
        yield Path(temporary)


@dataclass(frozen=True)
class CurvePoint:
    """Test-set errors of a model trained on ``train_frames`` frames."""

    train_frames: int
    test: Evaluation
    wall_s: float


def learning_curve(
    session: Session,
    base: str,
    dataset_name: str,
    sizes: Sequence[int],
    settings: FineTuneSettings,
    workdir: Path | None = None,
    progress: Progress | None = None,
    farm: FarmOptions | None = None,
) -> list[CurvePoint]:
    """Fine-tune on nested subsets of the train split (first N by frame hash) and evaluate
    each model on the whole test split: error against training-set size. With ``farm``,
    each training is a farm task (:func:`screening.farm_training.trainer`)."""
    base_spec, _ = resolve_potential(session, base)
    dataset = get_dataset(session, dataset_name)
    splits = _splits(session, dataset)
    _check_splits(dataset_name, splits, ("train", "test"))
    too_many = [n for n in sizes if n > len(splits["train"])]
    if too_many:
        raise DatasetError(
            f"--sizes {','.join(map(str, too_many))}: the train split of {dataset_name!r} "
            f"has {len(splits['train'])} frames"
        )
    points = []
    with _workdir(workdir, shared=farm is not None) as directory, trainer(farm) as finetune:
        for size in sorted(sizes):
            train = subsample(splits["train"], size)
            result = finetune(
                str(base_spec), train, splits["valid"], settings, directory / f"n{size}", progress
            )
            spec = PotentialSpec.parse(result.spec)
            test = evaluate(load_calculator(spec, default_device()), splits["test"], progress)
            points.append(CurvePoint(size, test, result.wall_s))
    return points


@dataclass(frozen=True)
class SisRun:
    """What a recorded SIS run needs besides the database: the starting model (spec or name),
    the reference calculator, the structures, and the settings of MD, of the loop and of each
    fine-tuning."""

    name: str
    model: str
    reference: Reference
    structures: Sequence[Structure]
    md: MDSettings
    sis: SISSettings
    finetune: FineTuneSettings


def run_sis_recorded(
    session: Session,
    run: SisRun,
    dataset_name: str,
    store: ArtifactStore,
    workdir: Path | None = None,
    progress: Progress | None = None,
    farm: FarmOptions | None = None,
) -> list[SisGeneration]:
    """Stability-indicated sampling (:func:`screening.sis.run_sis`) with everything recorded
    as it happens: each generation's labelled frames join the dataset, each fine-tuned model
    (``NAME-g1``, ``NAME-g2``, ...) is stored and registered with the previous one as its
    parent, and each generation is a ``sis_generation`` row, committed one by one. With
    ``farm``, MD, labelling and each fine-tuning are farm tasks on one cluster
    (:func:`screening.farm_training.farm_work`); the database work stays here."""
    from screening.sis import run_sis

    if run_generations(session, run.name):
        raise DatasetError(f"an SIS run named {run.name!r} exists already: choose another --name")
    taken = [f"{run.name}-g{i}" for i in range(1, run.sis.max_generations + 1)]
    if any(find_potential(session, name) is not None for name in taken):
        raise DatasetError(
            f"potentials named {run.name}-g1... exist already: choose another --name"
        )
    spec, row = resolve_potential(session, run.model)
    models = {str(spec): base_potential(session, spec, row)}
    dataset = ensure_dataset(session, dataset_name, None)
    session.commit()

    def merge(frames: Sequence[Atoms]) -> None:
        """A generation's labelled frames into the dataset (by hash: once)."""
        for frame in frames:
            source = frame.info.get("source", "")
            if not source.startswith(run.name):
                frame.info["source"] = f"{run.name}: {source}"
        add_frames(session, dataset, frames)

    def finetune_step(base_spec: str, frames: Sequence[Atoms], rate: float, path: Path) -> str:
        merge(frames)
        splits = _splits(session, dataset)
        _check_splits(dataset_name, splits, ("train", "valid"))
        settings = dataclasses.replace(run.finetune, learning_rate=rate, continuing=False)
        name = f"{run.name}-g{len(models)}"
        parent = models[base_spec]
        potential, _, _ = _train_and_register(
            session, parent, dataset, splits, settings, store, name, path, train, progress
        )
        session.commit()
        models[potential.spec] = potential
        return potential.spec

    temperatures = list(run.sis.temperatures_k or [run.md.temperature_k])

    def record(generation: SISGeneration) -> None:
        merge(generation.frames_added)  # the last generation's frames train no model
        window_low, window_high = generation.temperature_window
        nxt = generation.next_model_spec
        session.add(
            SisGeneration(
                run_name=run.name,
                generation=generation.index,
                dataset_id=dataset.id,
                model_id=models[generation.model_spec].id,
                next_model_id=None if nxt is None else models[nxt].id,
                temperatures_json=json.dumps(temperatures),
                window_low=window_low,
                window_high=window_high,
                md_steps=run.sis.target_steps,
                runs=generation.runs,
                unstable_runs=generation.unstable_runs,
                stable=generation.survived,
                reason=generation.reason,
                catastrophic_step=generation.catastrophic_step,
                t_cp_ps=generation.catastrophic_time_ps,
                window_ps=run.sis.window_ps,
                frames_added=len(generation.frames_added),
                learning_rate=generation.learning_rate,
            )
        )
        session.commit()

    with _workdir(workdir, shared=farm is not None) as directory, farm_work(farm) as (train, tasks):
        run_sis(
            str(spec),
            run.reference,
            run.structures,
            run.md,
            run.sis,
            finetune_step,
            directory,
            progress,
            record,
            tasks,
        )
    return run_generations(session, run.name)
