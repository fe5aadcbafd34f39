"""Train a potential on labelled frames: MACE with mace-torch's trainer, CHGNet with its own.

MACE (``mace:PATH`` or ``mace-mp:NAME`` as the base): naive fine-tuning, multihead fine-tuning
when a replay set is given (a local extxyz for the base's own head, so it is not forgotten),
or training from scratch with the base's architecture (:func:`train_mace` trains one with a
given architecture and no base at all). The estimated atomic energies (E0s) absorb the offset
between the base's reference method and the new labels. CHGNet (``chgnet``,
``chgnet:VERSION``, ``chgnet-file:PATH``): its ``Trainer`` with the embeddings and first
convolutions frozen by default; the per-element reference energies (AtomRef) are first
shifted by a least-squares fit to the base's energy residuals, for the same reason.

Frames are ASE ``Atoms`` carrying energy (eV), forces (eV/Å) and optionally stress (eV/Å^3)
(:mod:`screening.datasets`). Everything a run writes goes to its work directory: training
files, checkpoints, the model, and the trainers' console output in ``train.log``. Training
runs in the calling thread, without subprocesses, so it also runs as a Dask task
(:class:`screening.model_training.FarmTrainer`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.data import chemical_symbols
from ase.io import read, write
from ase.stress import voigt_6_to_full_3x3_stress

from screening.datasets import labels
from screening.errors import PotentialError
from screening.potentials import PotentialSpec, default_device, validate_spec, weights_path
from screening.progress import Progress, SilentProgress
from screening.structures import to_structure

log = logging.getLogger(__name__)

MACE_FAMILIES = ("mace", "mace-mp")
CHGNET_FAMILIES = ("chgnet", "chgnet-file")
# The loss weights each trainer uses by default (energy per atom, force, stress).
MACE_WEIGHTS = (1.0, 100.0, 1.0)
CHGNET_WEIGHTS = (1.0, 1.0, 0.1)
# CHGNet's documented fine-tuning recipe: embeddings and the first three of four atom
# convolutions frozen; the last convolution, readout and MLP learn.
CHGNET_FROZEN = (
    "atom_embedding",
    "bond_embedding",
    "angle_embedding",
    "bond_basis_expansion",
    "angle_basis_expansion",
    "atom_conv_layers.0",
    "atom_conv_layers.1",
    "atom_conv_layers.2",
    "bond_conv_layers",
    "angle_layers",
)
_EPOCH_LINE = re.compile(r"^Epoch (\d+):")


@dataclass(frozen=True)
class MACEArchitecture:
    """What defines a MACE model before training (mace-torch's argument names)."""

    hidden_irreps: str = "16x0e"
    r_max_ang: float = 4.0
    num_interactions: int = 2
    correlation: int = 2
    max_ell: int = 2
    num_radial_basis: int = 8
    num_cutoff_basis: int = 5
    mlp_irreps: str = "16x0e"
    radial_mlp: str = "[64, 64, 64]"
    interaction: str = "RealAgnosticResidualInteractionBlock"
    interaction_first: str = "RealAgnosticInteractionBlock"

    @classmethod
    def of_model(cls, path: Path) -> MACEArchitecture:
        """The architecture of a saved MACE model."""
        import torch
        from mace.tools.scripts_utils import extract_config_mace_model

        config = extract_config_mace_model(torch.load(path, map_location="cpu", weights_only=False))
        if "error" in config:
            raise PotentialError(f"{path}: {config['error']}")
        return cls(
            hidden_irreps=str(config["hidden_irreps"]),
            r_max_ang=float(config["r_max"]),
            num_interactions=int(config["num_interactions"]),
            correlation=int(config["correlation"]),
            max_ell=int(config["max_ell"]),
            num_radial_basis=int(config["num_bessel"]),
            num_cutoff_basis=int(config["num_polynomial_cutoff"]),
            mlp_irreps=str(config["MLP_irreps"]),
            radial_mlp=str(list(config["radial_MLP"])),
            interaction=config["interaction_cls"].__name__,
            interaction_first=config["interaction_cls_first"].__name__,
        )

    def arguments(self) -> list[str]:
        return [
            "--model=MACE",
            f"--hidden_irreps={self.hidden_irreps}",
            f"--r_max={self.r_max_ang}",
            f"--num_interactions={self.num_interactions}",
            f"--correlation={self.correlation}",
            f"--max_ell={self.max_ell}",
            f"--num_radial_basis={self.num_radial_basis}",
            f"--num_cutoff_basis={self.num_cutoff_basis}",
            f"--MLP_irreps={self.mlp_irreps}",
            f"--radial_MLP={self.radial_mlp}",
            f"--interaction={self.interaction}",
            f"--interaction_first={self.interaction_first}",
        ]


@dataclass(frozen=True)
class FineTuneSettings:
    """How to train. ``None`` picks the family's default (see the module constants).

    ``learning_rate``: 1e-2 from scratch, 1e-3 otherwise; ``continuing`` (the base is itself a
    fine-tuned model) multiplies it by ``continue_lr_factor``, so that what the base learned
    is not overwritten. ``replay_frames``: an extxyz of the base's own kind of data; given, a
    MACE base is fine-tuned multihead. ``frozen_layers``: CHGNet module names (prefixes of
    parameter names) that do not learn; ``()`` trains everything.
    """

    epochs: int = 50
    learning_rate: float | None = None
    batch_size: int = 8
    seed: int = 1
    from_scratch: bool = False
    replay_frames: Path | None = None
    frozen_layers: tuple[str, ...] | None = None
    energy_weight: float | None = None
    force_weight: float | None = None
    stress_weight: float | None = None
    continuing: bool = False
    continue_lr_factor: float = 0.1
    device: str | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise PotentialError(
                f"epochs ({self.epochs}) and batch size ({self.batch_size}) must be at least 1"
            )
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise PotentialError(f"learning rate must be positive, not {self.learning_rate}")

    def rate(self) -> float:
        """The initial learning rate this run uses."""
        base = self.learning_rate or (1e-2 if self.from_scratch else 1e-3)
        return base * self.continue_lr_factor if self.continuing else base


@dataclass(frozen=True)
class FineTuneResult:
    """The trained model file, its potential spec, and how it was made."""

    model_path: Path
    spec: str  # mace:/path/model.model or chgnet-file:/path/model.pth.tar
    family: str  # mace or chgnet
    hyperparameters: dict[str, Any]
    epochs_run: int
    wall_s: float


def finetune(
    base_spec: str,
    train: Sequence[Atoms],
    valid: Sequence[Atoms],
    settings: FineTuneSettings,
    workdir: Path,
    progress: Progress | None = None,
) -> FineTuneResult:
    """Fine-tune (or, with ``settings.from_scratch``, retrain) ``base_spec`` on the frames."""
    spec = validate_spec(base_spec)
    _check_frames(train, valid)
    if spec.family in MACE_FAMILIES:
        if settings.frozen_layers:
            raise PotentialError("frozen layers apply to CHGNet only, not to a MACE base")
        if settings.from_scratch and settings.replay_frames is not None:
            raise PotentialError("a replay set is for fine-tuning, not for training from scratch")
        path = weights_path(spec)
        assert path is not None
        if settings.from_scratch:
            architecture = MACEArchitecture.of_model(path)
            return _train_mace(None, architecture, train, valid, settings, workdir, progress)
        return _train_mace(path, None, train, valid, settings, workdir, progress)
    if spec.family in CHGNET_FAMILIES:
        if settings.replay_frames is not None:
            raise PotentialError("a replay set applies to MACE multihead fine-tuning only")
        return _train_chgnet(spec, train, valid, settings, workdir, progress)
    raise PotentialError(
        f"cannot fine-tune {base_spec!r}: use mace:PATH, mace-mp:NAME, chgnet, chgnet:VERSION "
        "or chgnet-file:PATH"
    )


def train_mace(
    architecture: MACEArchitecture,
    train: Sequence[Atoms],
    valid: Sequence[Atoms],
    settings: FineTuneSettings,
    workdir: Path,
    progress: Progress | None = None,
) -> FineTuneResult:
    """Train a MACE model of this architecture from scratch (no base model)."""
    _check_frames(train, valid)
    settings = replace(settings, from_scratch=True)
    return _train_mace(None, architecture, train, valid, settings, workdir, progress)


def _check_frames(train: Sequence[Atoms], valid: Sequence[Atoms]) -> None:
    if not train or not valid:
        raise PotentialError(
            f"training needs frames in both splits (train {len(train)}, valid {len(valid)})"
        )
    for frame in (*train, *valid):
        energy, forces, _ = labels(frame)
        if energy is None or forces is None:
            raise PotentialError(f"frame {frame.get_chemical_formula()} has no energy or forces")


def _uses_stress(frames: Sequence[Atoms], weight: float) -> bool:
    return weight > 0 and all(labels(frame)[2] is not None for frame in frames)


# MACE ----------------------------------------------------------------------------------


def _train_mace(
    foundation: Path | None,
    architecture: MACEArchitecture | None,
    train: Sequence[Atoms],
    valid: Sequence[Atoms],
    settings: FineTuneSettings,
    workdir: Path,
    progress: Progress | None,
) -> FineTuneResult:
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # mace-torch ends by loading the newest checkpoint it finds: none may be left from before.
    shutil.rmtree(workdir / "checkpoints", ignore_errors=True)
    energy_w, force_w, stress_w = _weights(settings, MACE_WEIGHTS)
    stress = _uses_stress((*train, *valid), stress_w)
    device = settings.device or default_device()
    _write_mace_frames(workdir / "train.xyz", train)
    _write_mace_frames(workdir / "valid.xyz", valid)
    arguments = [
        "--name=model",
        f"--work_dir={workdir}",
        f"--seed={settings.seed}",
        f"--device={device}",
        "--default_dtype=float64",
        f"--train_file={workdir / 'train.xyz'}",
        f"--valid_file={workdir / 'valid.xyz'}",
        "--energy_key=REF_energy",
        "--forces_key=REF_forces",
        "--stress_key=REF_stress",
        f"--loss={'stress' if stress else 'weighted'}",
        f"--energy_weight={energy_w}",
        f"--forces_weight={force_w}",
        f"--stress_weight={stress_w if stress else 0.0}",
        f"--max_num_epochs={settings.epochs}",
        f"--batch_size={min(settings.batch_size, len(train))}",
        f"--valid_batch_size={min(settings.batch_size, len(valid))}",
        f"--lr={settings.rate()}",
        "--plot=False",
        "--save_cpu",
        "--num_workers=0",  # no loader processes: a Dask worker is daemonic, it has no children
    ]
    replay = 0
    if foundation is None:
        assert architecture is not None
        mode = "scratch"
        arguments += [*architecture.arguments(), "--E0s=average"]
    else:
        mode = "naive" if settings.replay_frames is None else "multihead"
        # Estimated E0s: the foundation's, corrected by a least-squares fit to its residuals.
        arguments += [f"--foundation_model={foundation}", "--E0s=estimated"]
        if settings.replay_frames is None:
            arguments.append("--multiheads_finetuning=False")
        else:
            replay = _write_replay(settings.replay_frames, workdir / "replay.xyz")
            arguments += [
                "--multiheads_finetuning=True",
                f"--pt_train_file={workdir / 'replay.xyz'}",
                "--force_mh_ft_lr=True",  # our learning rate, not mace-torch's 1e-4
            ]
    started = time.perf_counter()
    epochs = _run_mace_trainer(arguments, workdir, settings.epochs, progress)
    model = workdir / "model.model"
    hyper = {
        "family": "mace",
        "mode": mode,
        "foundation": str(foundation) if foundation else None,
        "architecture": asdict(architecture) if architecture else None,
        "epochs": settings.epochs,
        "learning_rate": settings.rate(),
        "batch_size": settings.batch_size,
        "seed": settings.seed,
        "loss_weights": {"energy": energy_w, "force": force_w, "stress": stress_w if stress else 0},
        "replay_frames": str(settings.replay_frames) if settings.replay_frames else None,
        "replay_count": replay,
        "train_frames": len(train),
        "valid_frames": len(valid),
        "device": device,
    }
    return FineTuneResult(
        model, f"mace:{model}", "mace", hyper, epochs, time.perf_counter() - started
    )


def _weights(settings: FineTuneSettings, defaults: tuple[float, float, float]) -> tuple[float, ...]:
    chosen = (settings.energy_weight, settings.force_weight, settings.stress_weight)
    return tuple(d if w is None else w for w, d in zip(chosen, defaults, strict=True))


def _write_mace_frames(path: Path, frames: Sequence[Atoms]) -> None:
    """Frames as extxyz with their labels under mace-torch's ``REF_`` keys."""
    plain = []
    for frame in frames:
        energy, forces, stress = labels(frame)
        atoms = Atoms(frame.numbers, frame.positions, cell=frame.cell, pbc=frame.pbc)
        atoms.info["REF_energy"] = energy
        atoms.arrays["REF_forces"] = forces
        if stress is not None:
            atoms.info["REF_stress"] = stress
        plain.append(atoms)
    write(path, plain, format="extxyz")


def _write_replay(source: Path, path: Path) -> int:
    if not source.is_file():
        raise PotentialError(f"replay set not found: {source}")
    frames = read(source, index=":", format="extxyz")
    for frame in frames:
        energy, forces, _ = labels(frame)
        if energy is None or forces is None:
            raise PotentialError(f"{source}: replay frames need an energy and forces")
    _write_mace_frames(path, frames)
    return len(frames)


def _run_mace_trainer(
    arguments: list[str], workdir: Path, epochs: int, progress: Progress | None
) -> int:
    """Run mace-torch's ``run_train`` in this process; return the epochs it trained.

    The trainer configures the root logger, the default torch dtype and prints its log: all
    of that is put back afterwards, and the printing goes to ``train.log``.
    """
    import torch
    from mace.cli.run_train import run
    from mace.tools import build_default_arg_parser

    args = build_default_arg_parser().parse_args(arguments)
    progress = progress or SilentProgress()
    progress.start("finetune", epochs)
    counter = _EpochCounter(progress)
    root = logging.getLogger()
    saved = (root.handlers[:], root.filters[:], root.level, torch.get_default_dtype())
    root.handlers[:] = [counter]  # the trainer logs at DEBUG: keep it off the caller's handlers
    try:
        with _console_to(workdir / "train.log"), warnings.catch_warnings():
            # mace-torch saves a TorchScript copy of every model, which torch deprecates.
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message="The TorchScript type system")
            warnings.filterwarnings("ignore", message="'pin_memory' argument")
            run(args)
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.filters[:] = saved[0], saved[1]
        root.setLevel(saved[2])
        torch.set_default_dtype(saved[3])
    return counter.epochs


class _EpochCounter(logging.Handler):
    """Advances the progress once per epoch the trainer reports (once per head)."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self.epochs = 0

    def emit(self, record: logging.LogRecord) -> None:
        match = _EPOCH_LINE.match(record.getMessage())
        if match and int(match.group(1)) + 1 > self.epochs:
            self.epochs = int(match.group(1)) + 1
            self.progress.advance("finetune")


@contextlib.contextmanager
def _console_to(path: Path) -> Iterator[None]:
    with path.open("a") as handle, contextlib.redirect_stdout(handle):
        yield


# CHGNet --------------------------------------------------------------------------------


def _train_chgnet(
    spec: PotentialSpec,
    train: Sequence[Atoms],
    valid: Sequence[Atoms],
    settings: FineTuneSettings,
    workdir: Path,
    progress: Progress | None,
) -> FineTuneResult:
    import torch
    from chgnet.model import CHGNet
    from chgnet.trainer import Trainer

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    energy_w, force_w, stress_w = _weights(settings, CHGNET_WEIGHTS)
    stress = _uses_stress((*train, *valid), stress_w)
    device = settings.device or default_device()
    frozen = settings.frozen_layers
    if frozen is None:
        frozen = () if settings.from_scratch else CHGNET_FROZEN
    progress = progress or SilentProgress()
    progress.start("finetune", settings.epochs)
    started = time.perf_counter()
    with _console_to(workdir / "train.log"):
        if spec.family == "chgnet-file":
            model = CHGNet.from_file(str(weights_path(spec)))
        else:
            model = CHGNet.load(model_name=spec.argument or "0.3.0", verbose=False)
        if settings.from_scratch:
            model = CHGNet(**model.model_args)
        _freeze(model, frozen)
        shift = _shift_atom_refs(model, train)
        trainer = Trainer(
            model=model,
            targets="efs" if stress else "ef",
            energy_loss_ratio=energy_w,
            force_loss_ratio=force_w,
            stress_loss_ratio=stress_w if stress else 0.0,
            epochs=settings.epochs,
            learning_rate=settings.rate(),
            use_device=device,
            torch_seed=settings.seed,
            print_freq=10**9,  # one line per epoch, not per batch
        )
        train_loader = _chgnet_loader(train, settings, shuffle=True)
        valid_loader = _chgnet_loader(valid, settings, shuffle=False)
        for epoch in range(settings.epochs):
            # One epoch per call, so that progress advances per epoch.
            trainer.starting_epoch, trainer.epochs = epoch, epoch + 1
            trainer.train(train_loader, valid_loader, save_dir=str(workdir / "checkpoints"))
            if len(trainer.training_history["e"]["val"]) <= epoch:
                raise PotentialError(
                    f"CHGNet training stopped in epoch {epoch}: the loss became NaN "
                    "(try a lower learning rate)"
                )
            progress.advance("finetune")
    model_path = workdir / "model.pth.tar"
    torch.save({"model": trainer.model.to("cpu").as_dict()}, model_path)
    hyper = {
        "family": "chgnet",
        "mode": "scratch" if settings.from_scratch else "finetune",
        "base": str(spec),
        "epochs": settings.epochs,
        "learning_rate": settings.rate(),
        "batch_size": settings.batch_size,
        "seed": settings.seed,
        "loss_weights": {"energy": energy_w, "force": force_w, "stress": stress_w if stress else 0},
        "frozen_layers": list(frozen),
        "atom_ref_shift_ev": shift,
        "train_frames": len(train),
        "valid_frames": len(valid),
        "device": device,
    }
    return FineTuneResult(
        model_path,
        f"chgnet-file:{model_path}",
        "chgnet",
        hyper,
        settings.epochs,
        time.perf_counter() - started,
    )


def _freeze(model: Any, prefixes: Sequence[str]) -> None:
    names = [name for name, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(name == prefix or name.startswith(prefix + ".") for name in names):
            raise PotentialError(f"frozen layer {prefix!r} is not a CHGNet module")
    for name, parameter in model.named_parameters():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            parameter.requires_grad = False


def _shift_atom_refs(model: Any, frames: Sequence[Atoms]) -> dict[str, float]:
    """Add to the per-element reference energies (eV/atom) the least-squares fit of the
    model's energy residuals on the training frames over their element fractions."""
    import torch

    structures = [to_structure(frame) for frame in frames]
    predicted = model.predict_structure(structures, task="e", batch_size=16)
    predicted = [predicted] if isinstance(predicted, dict) else predicted
    residual = np.array(
        [labels(f)[0] / len(f) - p["e"] for f, p in zip(frames, predicted, strict=True)]
    )
    elements = sorted({int(z) for frame in frames for z in frame.numbers})
    fractions = np.array(
        [[np.mean(frame.numbers == z) for z in elements] for frame in frames], dtype=float
    )
    shift, *_ = np.linalg.lstsq(fractions, residual, rcond=None)
    weight = model.composition_model.fc.weight
    with torch.no_grad():
        for z, delta in zip(elements, shift, strict=True):
            weight[0, z - 1] += float(delta)
    return {chemical_symbols[z]: float(d) for z, d in zip(elements, shift, strict=True)}


def _chgnet_loader(frames: Sequence[Atoms], settings: FineTuneSettings, shuffle: bool) -> Any:
    import torch
    from chgnet.data.dataset import StructureData, collate_graphs

    stresses = [labels(frame)[2] for frame in frames]
    data = StructureData(
        structures=[to_structure(frame) for frame in frames],
        energies=[labels(frame)[0] / len(frame) for frame in frames],  # eV/atom
        forces=[labels(frame)[1] for frame in frames],
        # CHGNet reads VASP's stress (kBar, compression positive) and converts it to GPa.
        stresses=None
        if any(s is None for s in stresses)
        else [-10 * voigt_6_to_full_3x3_stress(s) / units.GPa for s in stresses],
        shuffle=False,
    )
    return torch.utils.data.DataLoader(
        data,
        batch_size=min(settings.batch_size, len(frames)),
        shuffle=shuffle,
        collate_fn=collate_graphs,
        num_workers=0,  # no loader processes: a Dask worker is daemonic, it has no children
        generator=torch.Generator().manual_seed(settings.seed),
    )
