"""One factory from a potential spec string to an ASE calculator, cached per process.

Specs: ``chgnet`` (or ``chgnet:0.3.0|0.2.0|r2scan``, weights ship in the wheel),
``chgnet-file:PATH`` (a fine-tuned CHGNet saved by :mod:`screening.finetune`), ``sevennet``
(or ``sevennet:NAME``), ``mace:PATH`` (any MACE model file, foundation or fine-tuned),
``mace-mp:small|medium|large|...`` (downloaded where the network allows) and
``emt`` (ASE's EMT, for tests and metallic toy systems). Every result records the
potential's name and the SHA-256 of its weights (:func:`weights_sha256`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import io
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import threadpoolctl
from ase.calculators.calculator import Calculator

from screening.errors import PotentialError

log = logging.getLogger(__name__)

FAMILIES = ("chgnet", "chgnet-file", "sevennet", "mace", "mace-mp", "emt")
FILE_FAMILIES = ("mace", "chgnet-file")  # the argument is a model file
SPEC_HELP = "chgnet, chgnet:VERSION, chgnet-file:PATH, sevennet, mace:PATH, mace-mp:NAME or emt"
CHGNET_CHECKPOINTS = {
    "0.3.0": "0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
    "0.2.0": "0.2.0/chgnet_0.2.0_e30f77s348m32.pth.tar",
    "r2scan": "r2scan/chgnet_r2scan_transfer_learning_e15f36s161m23.pth.tar",
}


@dataclass(frozen=True)
class PotentialSpec:
    """A parsed potential spec: a family and an optional argument (version, path, name)."""

    family: str
    argument: str = ""

    @classmethod
    def parse(cls, text: str) -> PotentialSpec:
        """Parse ``family[:argument]``; raise PotentialError on anything unknown."""
        family, _, argument = text.strip().partition(":")
        family = family.lower()
        if family not in FAMILIES:
            raise PotentialError(f"unknown potential spec {text!r}: use {SPEC_HELP}")
        if family in (*FILE_FAMILIES, "mace-mp") and not argument:
            raise PotentialError(f"potential spec {text!r} needs an argument: {family}:...")
        if family == "chgnet" and argument and argument not in CHGNET_CHECKPOINTS:
            known = ", ".join(CHGNET_CHECKPOINTS)
            raise PotentialError(f"unknown CHGNet version {argument!r}: use one of {known}")
        if family == "emt" and argument:
            raise PotentialError(f"potential spec {text!r}: emt takes no argument")
        return cls(family, argument)

    def __str__(self) -> str:
        return f"{self.family}:{self.argument}" if self.argument else self.family

    @property
    def name(self) -> str:
        """A short human name: ``chgnet-0.3.0``, ``mace-model.model``, ``emt``."""
        if self.family == "chgnet":
            return f"chgnet-{self.argument or '0.3.0'}"
        if self.family in FILE_FAMILIES:
            return f"{self.family.removesuffix('-file')}-{Path(self.argument).stem}"
        return f"{self.family}-{self.argument}" if self.argument else self.family


def validate_spec(text: str) -> PotentialSpec:
    """Parse a spec and check what can be checked offline (a model file must exist)."""
    spec = PotentialSpec.parse(text)
    if spec.family in FILE_FAMILIES and not Path(spec.argument).expanduser().is_file():
        kind = "MACE" if spec.family == "mace" else "CHGNet"
        raise PotentialError(f"{kind} model file not found: {spec.argument}")
    return spec


def weights_path(spec: PotentialSpec) -> Path | None:
    """The weights file behind a spec, or None for analytic potentials (EMT)."""
    if spec.family == "emt":
        return None
    if spec.family == "chgnet":
        root = Path(_import("chgnet", "chgnet").__file__).parent / "pretrained"
        return root / CHGNET_CHECKPOINTS[spec.argument or "0.3.0"]
    if spec.family in FILE_FAMILIES:
        return Path(spec.argument).expanduser().resolve()
    if spec.family == "mace-mp":
        foundations = _import("mace.calculators.foundations_models", "mace-torch")
        return Path(foundations.download_mace_mp_checkpoint(spec.argument))
    util = _import("sevenn.util", "sevenn")
    return Path(util.pretrained_name_to_path(spec.argument or "7net-0"))


@functools.cache
def weights_sha256(spec: PotentialSpec) -> str:
    """SHA-256 of the weights file; for EMT, of the ASE version that implements it."""
    path = weights_path(spec)
    if path is None:
        import ase

        return hashlib.sha256(f"ase.calculators.emt {ase.__version__}".encode()).hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_device() -> str:
    """``cuda`` when a GPU is visible to this process, else ``cpu``."""
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.cache
def load_calculator(spec: PotentialSpec, device: str, need_stress: bool = True) -> Calculator:
    """Build the calculator for a spec, once per process (workers reuse it for every task).

    ``need_stress=False`` (MD at fixed cell) lets a potential that can skip the stress do so;
    such a calculator still computes it when ASE asks. What the model libraries print while
    loading goes to the log, not to the terminal.
    """
    log.info("loading potential %s on %s", spec, device)
    _single_threaded_blas()
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):
        calculator = _build_calculator(spec, device, need_stress)
    if chatter.getvalue().strip():
        log.info("%s: %s", spec, " ".join(chatter.getvalue().split()))
    return calculator


def _build_calculator(spec: PotentialSpec, device: str, need_stress: bool) -> Calculator:
    if spec.family == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    if spec.family in ("chgnet", "chgnet-file"):
        # CHGNet converts a grad-tracking tensor to a float on every call; harmless here.
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad")
        # It also converts the Atoms to a pymatgen Structure, which warns about constraints it
        # drops (the MD integrators' FixCom, the relaxation's cell filter): the energy, forces
        # and stress it returns do not depend on them.
        warnings.filterwarnings("ignore", message="Only FixAtoms and FixCartesian is supported")
        model_mod = _import("chgnet.model", "chgnet")
        if spec.family == "chgnet-file":
            model = model_mod.CHGNet.from_file(str(weights_path(spec)))
        else:
            model = model_mod.CHGNet.load(
                model_name=spec.argument or "0.3.0", use_device=device, verbose=False
            )
        return _chgnet_calculator(model_mod.CHGNetCalculator)(
            model=model, use_device=device, need_stress=need_stress
        )
    if spec.family == "sevennet":
        os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
        calculator = _import("sevenn.calculator", "sevenn")
        return calculator.SevenNetCalculator(model=spec.argument or "7net-0", device=device)
    mace = _import("mace.calculators", "mace-torch")
    if spec.family == "mace":
        return mace.MACECalculator(
            model_paths=str(weights_path(spec)), device=device, default_dtype="float64"
        )
    return mace.mace_mp(model=spec.argument, device=device, default_dtype="float64")


def _chgnet_calculator(base: type[Calculator]) -> type[Calculator]:
    """CHGNet's calculator predicting what is needed: energy, forces and (when needed or asked
    for) stress, never the magnetic moments it computes by default. Energy and forces alone
    cost about half a full prediction (benchmarks/README.md)."""

    class CHGNetCalculator(base):  # type: ignore[misc, valid-type]
        def __init__(self, *, need_stress: bool, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.need_stress = need_stress

        def calculate(self, atoms=None, properties=None, system_changes=None, task=None):
            stress = self.need_stress or "stress" in (properties or ())
            super().calculate(atoms, properties, system_changes, task="efs" if stress else "ef")

    return CHGNetCalculator


def _import(module: str, distribution: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise PotentialError(
            f"{module} is not importable ({err}); install it with: pip install {distribution}"
        ) from err


def calculator_for_task(
    spec_text: str, torch_threads: int | None, need_stress: bool = True
) -> tuple[Calculator, str]:
    """The cached calculator of this worker process and the device it runs on."""
    if torch_threads:
        _set_torch_threads(torch_threads)
    device = default_device()
    return load_calculator(PotentialSpec.parse(spec_text), device, need_stress), device


@functools.cache
def _single_threaded_blas() -> None:
    """numpy's BLAS on one thread in a process that calls a potential: its OpenBLAS threads
    spin between calls and took half of CHGNet's speed from torch's threads (a relaxation
    ran 2x faster with them limited, benchmarks/README.md). Dask's workers already start so;
    this covers the potential run in the calling process. The limit holds for the BLAS
    libraries loaded when it is set, so scipy's own OpenBLAS (the cell filter's matrix
    exponentials) is loaded first."""
    importlib.import_module("scipy.linalg")
    threadpoolctl.threadpool_limits(1, user_api="blas")


@functools.cache
def _set_torch_threads(count: int) -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(count)
