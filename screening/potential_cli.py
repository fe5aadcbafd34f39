"""``screening data`` (training frames) and ``screening potential`` (fine-tuned potentials):
import and label frames, fine-tune with provenance, evaluate, learning curves, SIS, history.

Registered on the main app by ``screening.cli``. Every command takes --database (else
$SCREENING_DATABASE_URL, else sqlite:///screening.db); bad input ends with one line on stderr
and exit code 2 (the main app's policy). Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from screening.cli_errors import errors, user_errors

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from db.models import SisGeneration
    from screening.evaluation import Evaluation
    from screening.finetune import FineTuneSettings
    from screening.model_training import FarmOptions

data_app = typer.Typer(help="Training frames: import DFT outputs, label structures.")
potential_app = typer.Typer(
    help="Fine-tuned potentials: fine-tune, evaluate, learning curves, SIS, history."
)
data_app.info.no_args_is_help = True
potential_app.info.no_args_is_help = True
console = Console()
SIS_SAMPLE_EVERY = 10  # MD steps between the frames SIS can label

DatabaseOption = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional here
    typer.Option(
        "--database",
        "-d",
        help="SQLAlchemy URL (default: $SCREENING_DATABASE_URL, then sqlite:///screening.db).",
    ),
]
DatasetOption = Annotated[str, typer.Option("--dataset", help="Dataset name.")]
ArtifactsOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--artifacts",
        help="Artifact store for model files (default: $SCREENING_ARTIFACTS, else artifacts/ "
        "beside a SQLite file, else ./artifacts).",
    ),
]
WorkdirOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--workdir", help="Keep the trainer's files and logs here (default: temporary)."),
]
EpochsOption = Annotated[Optional[int], typer.Option(min=1, help="Training epochs.")]  # noqa: UP045
LearningRateOption = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option("--lr", min=0.0, help="Initial learning rate (default: the trainer's)."),
]
BatchOption = Annotated[Optional[int], typer.Option(min=1, help="Batch size.")]  # noqa: UP045
ScratchOption = Annotated[
    bool, typer.Option("--from-scratch", help="Same architecture, random weights (MACE).")
]
ReplayOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--replay", help="Local extxyz replay set: MACE multihead fine-tuning."),
]
FrozenOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--frozen-layers", help="CHGNet layers kept frozen, comma-separated."),
]
SeedOption = Annotated[Optional[int], typer.Option(help="Training seed.")]  # noqa: UP045
SchedulerOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="Address of a running Dask scheduler, e.g. tcp://host:8786."),
]
WorkersOption = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(min=1, help="Worker processes of the local cluster (default: cores)."),
]


@contextmanager
def _session(database: str | None) -> Iterator[tuple[str, Session]]:
    """The database URL and a session on it; the schema is created on an empty database."""
    from db.engine import make_engine, make_session_factory
    from db.migrate import ensure_schema
    from screening.settings import resolve_database_url

    url = resolve_database_url(database)
    ensure_schema(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            yield url, session
    finally:
        engine.dispose()


def _settings(
    epochs: int | None,
    lr: float | None,
    batch_size: int | None,
    seed: int | None,
    from_scratch: bool,
    replay: Path | None,
    frozen_layers: str | None,
    continue_lr_factor: float | None = None,
) -> FineTuneSettings:
    """Trainer settings: the trainer's defaults, overridden by the options given."""
    from screening.finetune import FineTuneSettings

    given = {
        "epochs": epochs,
        "learning_rate": lr,
        "batch_size": batch_size,
        "seed": seed,
        "from_scratch": from_scratch or None,
        "replay_frames": replay,
        "frozen_layers": None if frozen_layers is None else _layers(frozen_layers),
        "continue_lr_factor": continue_lr_factor,
    }
    if replay is not None and not replay.is_file():
        from screening.datasets import DatasetError

        raise DatasetError(f"--replay {replay}: no such file")
    return FineTuneSettings(**{key: value for key, value in given.items() if value is not None})


def _farm(scheduler: str | None, workers: int | None) -> FarmOptions | None:
    """Training on the farm when --scheduler or --workers is given, else in this process."""
    from screening.model_training import FarmOptions

    if scheduler is None and workers is None:
        return None
    return FarmOptions(scheduler, workers)


def _json_object(text: str | None, option: str) -> dict[str, Any]:
    """Keyword arguments given as a JSON object on the command line."""
    from screening.datasets import DatasetError

    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError as err:
        raise DatasetError(f"{option} is not JSON: {err}") from err
    if not isinstance(value, dict):
        raise DatasetError(f"{option} must be a JSON object of keyword arguments")
    return value


def _layers(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@data_app.command("import")
def import_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="vasprun.xml, OUTCAR, .extxyz/.xyz, .traj or ASE .db files."),
    ],
    dataset: DatasetOption,
    potential: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Reject frames with species this potential (spec or name) lacks."),
    ] = None,
    functional: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Functional tag stored with the frames, e.g. PBE or r2SCAN."),
    ] = None,
    valid: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Validation fraction of a new dataset (default 0.1)."),
    ] = None,
    test: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Test fraction of a new dataset (default 0.1)."),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Read DFT frames into a dataset. Re-imports add nothing; frames without forces, with
    NaNs or with species the potential lacks are reported and skipped."""
    with user_errors():
        from screening.datasets import SplitFractions
        from screening.model_training import import_files

        fractions = None
        if valid is not None or test is not None:
            fractions = SplitFractions(
                valid=0.1 if valid is None else valid, test=0.1 if test is None else test
            )
        with _session(database) as (_, session):
            report = import_files(session, dataset, paths, potential, functional, fractions)
            session.commit()
        for line in report.rejected:
            errors.print(f"skipped {line}", highlight=False, soft_wrap=True)
        splits = ", ".join(f"{n} {split}" for split, n in report.added.per_split.items())
        console.print(
            f"dataset {dataset}: {report.read} frames read, {report.added.added} added "
            f"({splits}), {report.added.duplicates} already present, "
            f"{len(report.rejected)} rejected"
        )


@data_app.command("label")
def label_command(
    target: Annotated[
        str,
        typer.Argument(help="Structure file (any ASE format), or a campaign name or TOML file."),
    ],
    calculator: Annotated[
        str,
        typer.Option(
            help="Reference: a potential spec (emt, chgnet, mace:PATH) or ase:MODULE.CLASS, "
            "e.g. ase:ase.calculators.vasp.Vasp."
        ),
    ],
    dataset: DatasetOption,
    options: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="JSON keyword arguments of an ase:MODULE.CLASS calculator."),
    ] = None,
    functional: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Functional tag (default: the options' xc, else the calculator)."),
    ] = None,
    directory: Annotated[
        Path, typer.Option(help="Working directories of file-based codes, one per frame.")
    ] = Path("labels"),
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    database: DatabaseOption = None,
) -> None:
    """Label structures with a reference calculator as farm tasks, into a dataset."""
    with user_errors():
        from screening.campaign import load_campaign
        from screening.model_training import FarmOptions, label_structures, structures_to_label
        from screening.progress_bar import RichProgress

        kwargs = _json_object(options, "--options")
        if target.endswith(".toml"):
            spec = load_campaign(target)
            target, database = spec.name, database or spec.database
        with _session(database) as (_, session), RichProgress(console) as progress:
            structures = structures_to_label(session, target)
            report = label_structures(
                session,
                dataset,
                structures,
                calculator,
                kwargs,
                functional,
                directory,
                FarmOptions(scheduler, workers),
                progress,
            )
        for line in report.failed:
            errors.print(f"failed {line}", highlight=False, soft_wrap=True)
        console.print(
            f"dataset {dataset}: {report.added} frames labelled with {calculator}, "
            f"{report.duplicates} already present, {len(report.failed)} failed"
        )


@potential_app.command("finetune")
def finetune_command(
    base: Annotated[
        str, typer.Option(help="Base: a spec (mace:PATH, mace-mp:NAME, chgnet) or a name.")
    ],
    dataset: DatasetOption,
    name: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Name to register (campaigns use it as potential = NAME)."),
    ] = None,
    epochs: EpochsOption = None,
    lr: LearningRateOption = None,
    continue_lr_factor: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            min=0.0,
            help="Learning-rate factor when the base is itself fine-tuned (learning without "
            "forgetting; default 0.1).",
        ),
    ] = None,
    batch_size: BatchOption = None,
    seed: SeedOption = None,
    from_scratch: ScratchOption = False,
    replay: ReplayOption = None,
    frozen_layers: FrozenOption = None,
    workdir: WorkdirOption = None,
    artifacts: ArtifactsOption = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    database: DatabaseOption = None,
) -> None:
    """Fine-tune a potential on a dataset's train split and register it with its provenance
    (base, dataset and split, hyperparameters, weights SHA-256, test RMSE). With --scheduler
    or --workers the training is one farm task (the work directory must then be on a
    filesystem the workers share); evaluation and registration run here."""
    with user_errors():
        from db.artifacts import ArtifactStore, default_artifact_root
        from screening.campaign import check_name
        from screening.errors import ScreeningError
        from screening.model_training import finetune_and_register
        from screening.progress_bar import RichProgress

        if name is not None:
            try:
                check_name(name)
            except ValueError as err:
                raise ScreeningError(str(err).replace("campaign name", "name")) from None
        settings = _settings(
            epochs, lr, batch_size, seed, from_scratch, replay, frozen_layers, continue_lr_factor
        )
        with _session(database) as (url, session), RichProgress(console) as progress:
            store = ArtifactStore(artifacts or default_artifact_root(url))
            done = finetune_and_register(
                session,
                base,
                dataset,
                settings,
                store,
                name,
                workdir,
                progress,
                _farm(scheduler, workers),
            )
            session.commit()
        if done.learning_rate_note:
            console.print(done.learning_rate_note)
        table = _errors_table(f"test split of {dataset}")
        _add_row(table, base, done.base)
        _add_row(table, done.potential.name, done.test)
        console.print(table)
        console.print(
            f"registered {done.potential.name}: {done.potential.spec} "
            f"(sha256 {done.potential.weights_sha256[:12]}, {done.result.epochs_run} epochs, "
            f'{done.result.wall_s:.1f} s); use it in a campaign as potential = "'
            f'{done.potential.name}"'
        )


def _errors_table(title: str) -> Table:
    return Table(
        "potential",
        "frames",
        "E RMSE (meV/atom)",
        "E MAE (meV/atom)",
        "F RMSE (meV/Å)",
        "F MAE (meV/Å)",
        "σ RMSE (GPa)",
        title=title,
    )


def _add_row(table: Table, label: str, result: Evaluation) -> None:
    stress = "-" if result.stress_rmse_gpa is None else f"{result.stress_rmse_gpa:.3g}"
    table.add_row(
        label,
        str(result.n_frames),
        f"{result.energy_rmse_mev_atom:.3g}",
        f"{result.energy_mae_mev_atom:.3g}",
        f"{result.force_rmse_mev_ang:.3g}",
        f"{result.force_mae_mev_ang:.3g}",
        stress,
    )


@potential_app.command("evaluate")
def evaluate_command(
    potential: Annotated[str, typer.Argument(help="Registered name or potential spec.")],
    dataset: DatasetOption,
    split: Annotated[str, typer.Option(help="train, valid, test or all.")] = "test",
    plot: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Parity plot PNG (default: parity-NAME-DATASET.png)."),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """RMSE and MAE of energy, forces and stress on a dataset split, and a parity plot."""
    with user_errors():
        from screening.datasets import SPLITS, DatasetError
        from screening.evaluation import evaluate, parity_plot
        from screening.potentials import default_device, load_calculator
        from screening.progress_bar import RichProgress
        from screening.training_store import get_dataset, load_frames, resolve_potential

        if split not in (*SPLITS, "all"):
            raise DatasetError(f"--split {split!r}: use train, valid, test or all")
        with _session(database) as (_, session):
            spec, row = resolve_potential(session, potential)
            chosen = None if split == "all" else split
            frames = load_frames(session, get_dataset(session, dataset), chosen)
        with RichProgress(console) as progress:
            result = evaluate(load_calculator(spec, default_device()), frames, progress)
        table = _errors_table(f"{split} split of {dataset}")
        _add_row(table, potential, result)
        console.print(table)
        label = row.name if row is not None else spec.name
        target = plot or Path(f"parity-{label}-{dataset}.png".replace("/", "_"))
        parity_plot(result, target, f"{potential} on {dataset} ({split})")
        console.print(f"wrote {target}")


@potential_app.command("learning-curve")
def learning_curve_command(
    base: Annotated[str, typer.Option(help="Base: a spec or a registered name.")],
    dataset: DatasetOption,
    sizes: Annotated[str, typer.Option(help="Training-set sizes, e.g. 50,100,500,1000.")],
    epochs: EpochsOption = None,
    lr: LearningRateOption = None,
    batch_size: BatchOption = None,
    seed: SeedOption = None,
    from_scratch: ScratchOption = False,
    plot: Annotated[
        Path, typer.Option(help="Plot PNG of test RMSE against training frames.")
    ] = Path("learning-curve.png"),
    workdir: WorkdirOption = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    database: DatabaseOption = None,
) -> None:
    """Test-set error against training-set size (nested subsets of the train split). With
    --scheduler or --workers each size trains as a farm task (--workdir then shared)."""
    with user_errors():
        from screening.datasets import DatasetError
        from screening.evaluation import learning_curve_plot
        from screening.model_training import learning_curve
        from screening.progress_bar import RichProgress

        try:
            counts = sorted({int(part) for part in sizes.split(",") if part.strip()})
        except ValueError as err:
            raise DatasetError(f"--sizes {sizes!r}: give whole numbers, e.g. 50,100,500") from err
        if not counts or counts[0] < 1:
            raise DatasetError(f"--sizes {sizes!r}: give positive whole numbers")
        settings = _settings(epochs, lr, batch_size, seed, from_scratch, None, None)
        with _session(database) as (_, session), RichProgress(console) as progress:
            points = learning_curve(
                session,
                base,
                dataset,
                counts,
                settings,
                workdir,
                progress,
                _farm(scheduler, workers),
            )
        table = Table(
            "train frames",
            "E RMSE (meV/atom)",
            "F RMSE (meV/Å)",
            "σ RMSE (GPa)",
            "wall (s)",
            title=f"learning curve of {base} on {dataset} (test split)",
        )
        for point in points:
            stress = point.test.stress_rmse_gpa
            table.add_row(
                str(point.train_frames),
                f"{point.test.energy_rmse_mev_atom:.3g}",
                f"{point.test.force_rmse_mev_ang:.3g}",
                "-" if stress is None else f"{stress:.3g}",
                f"{point.wall_s:.1f}",
            )
        console.print(table)
        learning_curve_plot([p.train_frames for p in points], [p.test for p in points], plot)
        console.print(f"wrote {plot}")


@potential_app.command("list")
def list_command(database: DatabaseOption = None) -> None:
    """Registered potentials: base, dataset and test RMSE of the fine-tuned ones."""
    with user_errors():
        from sqlalchemy import select

        from db.models import Dataset, Potential

        with _session(database) as (_, session):
            rows = session.scalars(select(Potential).order_by(Potential.id)).all()
            names = {row.id: row.name for row in rows}
            datasets = dict(session.execute(select(Dataset.id, Dataset.name)).all())
        table = Table(
            "name", "spec", "base", "dataset", "E RMSE (meV/atom)", "F RMSE (meV/Å)", "sha256"
        )
        for row in rows:
            table.add_row(
                row.name,
                row.spec,
                names.get(row.parent_id, "-") if row.parent_id else "-",
                datasets.get(row.dataset_id, "-") if row.dataset_id else "-",
                _number(row.test_energy_rmse_mev_atom),
                _number(row.test_force_rmse_mev_ang),
                row.weights_sha256[:12],
            )
        console.print(table)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


@potential_app.command("history")
def history_command(
    name: Annotated[str, typer.Argument(help="Registered potential name, or an SIS run's.")],
    database: DatabaseOption = None,
) -> None:
    """A potential's lineage (base models, datasets, test RMSE) and its SIS generations; for
    an SIS run, those of its latest model."""
    with user_errors():
        from sqlalchemy import select

        from db.models import Dataset, Potential
        from screening.datasets import SPLITS
        from screening.errors import PotentialError
        from screening.training_store import (
            find_potential,
            generations_of,
            lineage,
            run_generations,
        )

        with _session(database) as (_, session):
            potential = find_potential(session, name)
            if potential is None and (run := run_generations(session, name)):
                latest = run[-1].next_model_id or run[-1].model_id
                potential = session.get_one(Potential, latest)
            if potential is None:
                raise PotentialError(f"no potential or SIS run named {name!r} is registered")
            chain = lineage(session, potential)
            generations = generations_of(session, chain)
            datasets = dict(session.execute(select(Dataset.id, Dataset.name)).all())
            names = dict(session.execute(select(Potential.id, Potential.name)).all())
        table = Table(
            "potential",
            "base",
            "dataset",
            "train/valid/test frames",
            "E RMSE (meV/atom)",
            "F RMSE (meV/Å)",
            "created",
            title=f"lineage of {potential.name}",
        )
        for row in chain:
            splits = json.loads(row.split_json) if row.split_json else {}
            counts = "/".join(str(splits[s]["frames"]) for s in SPLITS) if splits else "-"
            table.add_row(
                row.name,
                names.get(row.parent_id, "-") if row.parent_id else "-",
                datasets.get(row.dataset_id, "-") if row.dataset_id else "-",
                counts,
                _number(row.test_energy_rmse_mev_atom),
                _number(row.test_force_rmse_mev_ang),
                f"{row.created_at:%Y-%m-%d %H:%M}",
            )
        console.print(table)
        if generations:
            console.print(_generations_table(generations, names))
        else:
            console.print("no SIS generations")


def _generations_table(generations: list[SisGeneration], names: dict[int, str]) -> Table:
    table = Table(
        "run",
        "gen",
        "model",
        "T (K)",
        "T window (×T)",
        "unstable runs",
        "t_cp (ps)",
        "labelled (ps)",
        "frames added",
        "next model",
        "lr",
        "reason",
        title="SIS generations",
    )
    for g in generations:
        labelled = "-"
        if g.t_cp_ps is not None:
            labelled = f"{max(0.0, g.t_cp_ps - g.window_ps):.3g}-{g.t_cp_ps:.3g}"
        table.add_row(
            g.run_name,
            str(g.generation),
            names.get(g.model_id, str(g.model_id)),
            ", ".join(f"{t:g}" for t in json.loads(g.temperatures_json)),
            f"{g.window_low:g}-{g.window_high:g}",
            f"{g.unstable_runs}/{g.runs}",
            _number(g.t_cp_ps),
            labelled,
            str(g.frames_added),
            names.get(g.next_model_id, "-") if g.next_model_id else "-",
            "-" if g.learning_rate is None else f"{g.learning_rate:.2g}",
            g.reason or "",
        )
    return table


@potential_app.command("sis")
def sis_command(
    model: Annotated[str, typer.Option(help="Starting model: a spec or a registered name.")],
    reference: Annotated[
        str,
        typer.Option(help="Reference calculator: a potential spec (emt) or ase:MODULE.CLASS."),
    ],
    dataset: DatasetOption,
    structures: Annotated[
        list[Path],
        typer.Option("--structure", help="Structure file for the MD (repeat for several)."),
    ],
    name: Annotated[
        str, typer.Option(help="Run name; its models are registered as NAME-g1, NAME-g2, ...")
    ],
    temperatures: Annotated[
        list[float], typer.Option("--temperature", help="Target temperature, K (repeatable).")
    ],
    steps: Annotated[int, typer.Option(min=1, help="Production steps MD must survive.")] = 10_000,
    timestep_fs: Annotated[float, typer.Option(min=0.01, help="MD time step, fs.")] = 2.0,
    equilibration_steps: Annotated[int, typer.Option(min=0)] = 500,
    mobile_species: Annotated[
        str, typer.Option(help="Mobile ion (excluded from the framework melting check).")
    ] = "Li",
    generations: Annotated[int, typer.Option(min=1, help="Generation cap.")] = 5,
    windows: Annotated[
        str,
        typer.Option(
            help="Temperature windows per generation, multiples of the target, coarse to fine."
        ),
    ] = "0.25:4,0.5:1.5",
    window_ps: Annotated[
        float, typer.Option(min=0.0, help="Label configurations this long before t_cp, ps.")
    ] = 0.2,
    frames: Annotated[int, typer.Option(min=1, help="Frames labelled per generation.")] = 20,
    reference_md_steps: Annotated[
        int, typer.Option(min=0, help="Short reference MD from t_next (0: single points).")
    ] = 0,
    min_distance: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            "--min-distance",
            min=0.0,
            help="Å: MD stops (catastrophic point) when two atoms come closer; set it near "
            "the system's shortest physical distance (default: the stability monitor's).",
        ),
    ] = None,
    reference_options: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="JSON keyword arguments of an ase:MODULE.CLASS reference."),
    ] = None,
    lr: Annotated[float, typer.Option(min=0.0, help="Learning rate of generation 0.")] = 1e-3,
    lr_decay: Annotated[
        float, typer.Option(min=0.0, help="Learning-rate factor per generation.")
    ] = 0.5,
    epochs: EpochsOption = None,
    batch_size: BatchOption = None,
    seed: SeedOption = None,
    workdir: WorkdirOption = None,
    artifacts: ArtifactsOption = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    database: DatabaseOption = None,
) -> None:
    """Stability-indicated sampling: MD with the model until it fails, frames from before the
    catastrophic point labelled with the reference, merged into the dataset, fine-tune, and
    again, until MD survives or the generation cap; every generation is recorded. With
    --scheduler or --workers the MD runs, the labelling and each fine-tuning are farm tasks
    (work directory on a shared filesystem); the database work stays here."""
    with user_errors():
        from ase.io import read
        from sqlalchemy import select

        from db.artifacts import ArtifactStore, default_artifact_root
        from db.models import Potential
        from screening.datasets import DatasetError
        from screening.labelling import check_calculator
        from screening.md import MDSettings, StabilityCriteria
        from screening.model_training import SisRun, run_sis_recorded
        from screening.progress_bar import RichProgress
        from screening.sis import Reference, SISSettings
        from screening.structures import to_structure

        options = _json_object(reference_options, "--reference-options")
        check_calculator(reference, options)
        try:
            bounds = tuple(
                (float(low), float(high))
                for low, high in (part.split(":") for part in windows.split(","))
            )
        except ValueError as err:
            raise DatasetError(f"--windows {windows!r}: give LOW:HIGH pairs, e.g. 0.25:4") from err
        for path in structures:
            if not path.is_file():
                raise DatasetError(f"--structure {path}: no such file")
        run = SisRun(
            name=name,
            model=model,
            reference=Reference(reference, options),
            structures=[to_structure(read(path)) for path in structures],
            md=MDSettings(
                temperature_k=temperatures[0],
                timestep_fs=timestep_fs,
                equilibration_steps=equilibration_steps,
                sample_every=SIS_SAMPLE_EVERY,
                mobile_species=mobile_species,
                # enough frames kept before t_cp to cover the window
                pre_failure_frames=max(
                    50, math.ceil(window_ps * 1000 / (timestep_fs * SIS_SAMPLE_EVERY)) + 1
                ),
                stability=StabilityCriteria()
                if min_distance is None
                else StabilityCriteria(min_distance_ang=min_distance),
            ),
            sis=SISSettings(
                max_generations=generations,
                target_steps=steps,
                window_ps=window_ps,
                frames_per_generation=frames,
                temperature_windows=bounds,
                temperatures_k=tuple(temperatures),
                learning_rate=lr,
                lr_decay=lr_decay,
                reference_md_steps=reference_md_steps,
            ),
            finetune=_settings(epochs, None, batch_size, seed, False, None, None),
        )
        with _session(database) as (url, session), RichProgress(console) as progress:
            store = ArtifactStore(artifacts or default_artifact_root(url))
            farm = _farm(scheduler, workers)
            recorded = run_sis_recorded(session, run, dataset, store, workdir, progress, farm)
            names = dict(session.execute(select(Potential.id, Potential.name)).all())
        console.print(_generations_table(recorded, names))
        last = recorded[-1]
        if last.stable:
            console.print(f"MD with {names[last.model_id]} survived {steps} steps")
        else:
            console.print(f"MD still fails after {len(recorded)} generations (the cap)")
