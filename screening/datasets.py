"""Training frames for fine-tuning: read DFT outputs, validate, content-hash and split them.

A frame is an ASE ``Atoms`` with a ``SinglePointCalculator`` holding the energy (eV), the
forces (eV/Å) and, where the source has it, the stress (eV/Å^3, ASE Voigt order xx yy zz yz
xz xy); ``atoms.info`` carries ``source`` (file), ``functional`` and ``frame_hash``. The
energy is the calculator's ``energy`` (for VASP the one extrapolated to sigma -> 0).

Readers: vasprun.xml, OUTCAR, extxyz (``.xyz``/``.extxyz``), ASE trajectories (``.traj``) and
ASE databases (``.db``), every ionic step a frame. Frames without energy or forces, with a
NaN, or with species the potential does not know are rejected with one line each; the rest
are kept. The hash covers species, positions (Å), cell (Å) and pbc rounded to 1e-4 and the
energy rounded to 1 µeV, so re-importing a file adds nothing; the split (train, valid or
test) is a function of the hash alone, so a frame keeps its split as a dataset grows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.data import chemical_symbols
from ase.io import read

from screening.errors import ScreeningError
from screening.potentials import PotentialSpec, load_calculator

SPLITS = ("train", "valid", "test")
POSITION_DECIMALS = 4  # Å, positions and cell in the hash
ENERGY_DECIMALS = 6  # eV in the hash
CHGNET_ELEMENTS = 94  # CHGNet embeds atomic numbers 1-94


class DatasetError(ScreeningError):
    """A file cannot be read as frames, or dataset settings are impossible."""


@dataclass(frozen=True)
class SplitFractions:
    """Fractions of a dataset's frames held out for validation and test (the rest trains)."""

    valid: float = 0.1
    test: float = 0.1

    def __post_init__(self) -> None:
        if self.valid < 0 or self.test < 0 or self.valid + self.test >= 1:
            raise DatasetError(
                f"split fractions valid={self.valid:g}, test={self.test:g}: each must be "
                "at least 0 and together below 1"
            )


@dataclass(frozen=True)
class Checked:
    """Frames that passed validation, and one line per rejected frame."""

    frames: list[Atoms]
    rejected: list[str]


def make_frame(
    atoms: Atoms,
    energy_ev: float,
    forces_ev_ang: np.ndarray,
    stress_ev_ang3: np.ndarray | None = None,
    source: str = "",
    functional: str | None = None,
) -> Atoms:
    """A frame: a copy of ``atoms`` (no calculator) carrying these labels."""
    frame = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    results: dict[str, Any] = {"energy": float(energy_ev), "forces": np.array(forces_ev_ang)}
    if stress_ev_ang3 is not None:
        results["stress"] = np.array(stress_ev_ang3, dtype=float).reshape(-1)
    frame.calc = SinglePointCalculator(frame, **results)
    frame.info["source"] = source
    if functional:
        frame.info["functional"] = functional
    frame.info["frame_hash"] = frame_hash(frame)
    return frame


def labels(atoms: Atoms) -> tuple[float | None, np.ndarray | None, np.ndarray | None]:
    """Energy (eV), forces (eV/Å) and Voigt stress (eV/Å^3) a frame carries, None if absent."""
    results = atoms.calc.results if atoms.calc is not None else {}
    energy = results.get("energy", results.get("free_energy"))
    forces = results.get("forces")
    stress = results.get("stress")
    if stress is not None:
        stress = np.asarray(stress, dtype=float)
        if stress.shape == (3, 3):
            stress = stress.reshape(9)[[0, 4, 8, 5, 2, 1]]
    return (
        None if energy is None else float(energy),
        None if forces is None else np.asarray(forces, dtype=float),
        stress,
    )


def read_frames(path: str | Path, functional: str | None = None) -> list[Atoms]:
    """Every frame of a DFT output file, labels as read; DatasetError if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        images = read(path, index=":", format=_format_of(path))
    except Exception as err:  # ASE's readers raise anything from ValueError to IndexError
        raise DatasetError(f"{path}: cannot read frames ({type(err).__name__}: {err})") from err
    if isinstance(images, Atoms):
        images = [images]
    frames = []
    for atoms in images:
        energy, forces, stress = labels(atoms)
        frame = atoms.copy()
        frame.calc = None
        if energy is not None or forces is not None:
            results = {"energy": energy, "forces": forces, "stress": stress}
            frame.calc = SinglePointCalculator(
                frame, **{k: v for k, v in results.items() if v is not None}
            )
        frame.info = {"source": str(path)}
        if functional:
            frame.info["functional"] = functional
        frames.append(frame)
    return frames


def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".xml") and "vasprun" in name:
        return "vasp-xml"
    if name.startswith("outcar"):
        return "vasp-out"
    if name.endswith((".xyz", ".extxyz")):
        return "extxyz"
    if name.endswith(".db"):
        return "db"
    return None  # ASE guesses (.traj and anything else it knows)


def check_frame(atoms: Atoms, species: frozenset[str] | None) -> str | None:
    """Why a frame cannot be trained on, or None when it can."""
    energy, forces, stress = labels(atoms)
    if forces is None:
        return "no forces"
    if energy is None:
        return "no energy"
    if forces.shape != (len(atoms), 3):
        return f"forces of shape {forces.shape} for {len(atoms)} atoms"
    values = [np.array([energy]), forces, atoms.positions, np.asarray(atoms.cell)]
    if stress is not None:
        values.append(stress)
    if not all(np.isfinite(v).all() for v in values):
        return "NaN or infinite value in energy, forces, stress, positions or cell"
    if species is not None:
        unknown = sorted(set(atoms.get_chemical_symbols()) - species)
        if unknown:
            return f"species {', '.join(unknown)} unknown to the potential"
    return None


def validate_frames(frames: Iterable[Atoms], species: frozenset[str] | None = None) -> Checked:
    """Keep the frames that can be trained on; one line per rejected frame (file, index, why)."""
    kept, rejected = [], []
    counters: dict[str, int] = {}
    for atoms in frames:
        source = str(atoms.info.get("source", ""))
        index = counters.get(source, 0)
        counters[source] = index + 1
        reason = check_frame(atoms, species)
        if reason is None:
            energy, forces, stress = labels(atoms)
            assert energy is not None and forces is not None  # checked above
            functional = atoms.info.get("functional")
            kept.append(make_frame(atoms, energy, forces, stress, source, functional))
        else:
            rejected.append(f"{source or 'frame'} frame {index}: {reason}")
    return Checked(kept, rejected)


def frame_hash(atoms: Atoms) -> str:
    """SHA-256 of species, positions, cell and pbc (Å, 1e-4) and the energy (eV, 1e-6)."""
    energy, _, _ = labels(atoms)

    def rounded(values: Any, decimals: int) -> list[float]:
        return [x + 0.0 for x in np.round(np.ravel(values), decimals).tolist()]  # no -0.0

    payload = {
        "numbers": atoms.numbers.tolist(),
        "positions": rounded(atoms.positions, POSITION_DECIMALS),
        "cell": rounded(atoms.cell.array, POSITION_DECIMALS),
        "pbc": atoms.pbc.tolist(),
        "energy": None if energy is None else rounded([energy], ENERGY_DECIMALS)[0],
    }
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()


def split_of(digest: str, fractions: SplitFractions) -> str:
    """The split of a frame from its hash: a uniform number in [0, 1) cut by the fractions."""
    position = int(digest[:15], 16) / 16**15
    if position < fractions.test:
        return "test"
    if position < fractions.test + fractions.valid:
        return "valid"
    return "train"


def frame_columns(frame: Atoms) -> dict[str, Any]:
    """A frame as plain columns (JSON text for arrays) for the ``frame`` table."""
    energy, forces, stress = labels(frame)
    structure = {
        "numbers": frame.numbers.tolist(),
        "cell": frame.cell.array.tolist(),
        "positions": frame.positions.tolist(),
        "pbc": frame.pbc.tolist(),
    }
    return {
        "frame_hash": frame.info.get("frame_hash") or frame_hash(frame),
        "formula": frame.get_chemical_formula(mode="reduce"),
        "n_atoms": len(frame),
        "structure_json": json.dumps(structure),
        "energy_ev": energy,
        "forces_json": json.dumps(np.asarray(forces).tolist()),
        "stress_json": None if stress is None else json.dumps(stress.tolist()),
        "source": str(frame.info.get("source", "")),
        "functional": frame.info.get("functional"),
    }


def frame_from_columns(
    structure_json: str,
    energy_ev: float,
    forces_json: str,
    stress_json: str | None,
    source: str = "",
    functional: str | None = None,
) -> Atoms:
    """The frame stored as :func:`frame_columns`."""
    structure = json.loads(structure_json)
    atoms = Atoms(
        numbers=structure["numbers"],
        positions=structure["positions"],
        cell=structure["cell"],
        pbc=structure["pbc"],
    )
    stress = None if stress_json is None else np.array(json.loads(stress_json))
    return make_frame(
        atoms, energy_ev, np.array(json.loads(forces_json)), stress, source, functional
    )


def potential_species(spec: PotentialSpec) -> frozenset[str] | None:
    """The elements a potential knows; None when it cannot tell (SevenNet: not checked)."""
    if spec.family == "emt":
        from ase.calculators.emt import parameters

        return frozenset(parameters)
    if spec.family.startswith("chgnet"):
        return frozenset(chemical_symbols[1 : CHGNET_ELEMENTS + 1])
    if spec.family.startswith("mace"):
        calculator = load_calculator(spec, "cpu")
        return frozenset(chemical_symbols[int(z)] for z in calculator.z_table.zs)
    return None


def subsample(frames: Sequence[Atoms], count: int) -> list[Atoms]:
    """The first ``count`` frames in frame-hash order: nested, deterministic subsets."""
    ordered = sorted(frames, key=lambda atoms: atoms.info["frame_hash"])
    return ordered[:count]
