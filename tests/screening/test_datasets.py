"""Training data: VASP and extxyz frames read with their labels, validation, content hashes
that make re-imports idempotent, and splits that depend on the hash alone."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from training_frames import emt_frames, write_outcar, write_vasprun
from typer.testing import CliRunner

from db.models import Frame
from screening.cli import app
from screening.datasets import (
    DatasetError,
    SplitFractions,
    frame_hash,
    labels,
    read_frames,
    split_of,
)
from screening.model_training import import_files
from screening.training_store import get_dataset, load_frames

runner = CliRunner()


def _write(kind: str, path: Path, frames: list[Atoms]) -> Path:
    target = path / {"vasprun": "vasprun.xml", "outcar": "OUTCAR", "extxyz": "frames.extxyz"}[kind]
    if kind == "vasprun":
        write_vasprun(target, frames)
    elif kind == "outcar":
        write_outcar(target, frames)
    else:
        write(target, frames, format="extxyz")
    return target


@pytest.mark.parametrize("kind", ["vasprun", "outcar", "extxyz"])
def test_frames_are_read_with_energy_forces_and_stress(kind: str, tmp_path: Path) -> None:
    frames = emt_frames(3, seed=1)
    path = _write(kind, tmp_path, frames)
    read = read_frames(path, functional="PBE")
    assert len(read) == 3
    for got, expected in zip(read, frames, strict=True):
        energy, forces, stress = labels(got)
        assert energy == pytest.approx(expected.get_potential_energy(), abs=1e-6)
        np.testing.assert_allclose(forces, expected.get_forces(), atol=1e-5)
        np.testing.assert_allclose(stress, expected.get_stress(), atol=1e-7)  # eV/Å^3
        np.testing.assert_allclose(got.positions, expected.positions, atol=1e-5)
        assert got.get_chemical_symbols() == expected.get_chemical_symbols()
        assert got.info == {"source": str(path), "functional": "PBE"}


def _bad_frames() -> list[Atoms]:
    good = emt_frames(1, seed=9)[0]
    no_forces = good.copy()
    no_forces.calc = SinglePointCalculator(no_forces, energy=-1.0)
    nan_forces = good.copy()
    forces = good.get_forces().copy()
    forces[1, 2] = np.nan
    nan_forces.calc = SinglePointCalculator(nan_forces, energy=-1.0, forces=forces)
    lithium = good.copy()
    lithium.symbols[0] = "Li"
    lithium.calc = SinglePointCalculator(lithium, energy=-2.0, forces=good.get_forces())
    return [good, no_forces, nan_forces, lithium]


def test_import_skips_duplicates_and_reports_each_bad_frame(
    session: Session, tmp_path: Path
) -> None:
    vasprun = _write("vasprun", tmp_path, emt_frames(3, seed=1))
    outcar = _write("outcar", tmp_path, emt_frames(3, seed=2))
    mixed = _write("extxyz", tmp_path, _bad_frames())

    first = import_files(session, "cuau", [vasprun, outcar, mixed], potential="emt")
    session.commit()

    assert (first.read, first.added.added, first.added.duplicates) == (10, 7, 0)
    assert len(first.rejected) == 3
    assert first.rejected[0] == f"{mixed} frame 1: no forces"
    assert first.rejected[1].startswith(f"{mixed} frame 2: NaN")
    assert first.rejected[2] == f"{mixed} frame 3: species Li unknown to the potential"
    assert sum(first.added.per_split.values()) == 7

    again = import_files(session, "cuau", [outcar, vasprun, mixed], potential="emt")
    session.commit()
    assert (again.added.added, again.added.duplicates) == (0, 7)
    count = session.scalar(select(func.count()).select_from(Frame))
    assert count == 7

    stored = load_frames(session, get_dataset(session, "cuau"))
    read = [frame for path in (vasprun, outcar, mixed) for frame in read_frames(path)]
    originals = {frame_hash(frame): frame for frame in read}
    for frame in stored:
        original = originals[frame.info["frame_hash"]]
        assert labels(frame)[0] == labels(original)[0]
        np.testing.assert_array_equal(labels(frame)[1], labels(original)[1])
        np.testing.assert_array_equal(labels(frame)[2], labels(original)[2])
        np.testing.assert_array_equal(frame.positions, original.positions)
        assert frame.info["source"] == original.info["source"]
    assert len(stored) == 7


def test_split_depends_on_the_hash_alone(session: Session, tmp_path: Path) -> None:
    fractions = SplitFractions(valid=0.2, test=0.3)
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(4000)]
    splits = [split_of(d, fractions) for d in digests]
    assert splits.count("test") / 4000 == pytest.approx(0.3, abs=0.03)
    assert splits.count("valid") / 4000 == pytest.approx(0.2, abs=0.03)
    assert splits == [split_of(d, SplitFractions(valid=0.2, test=0.3)) for d in digests]

    frames = emt_frames(12, seed=4)
    small = _write("extxyz", tmp_path, frames[:4])
    (tmp_path / "all").mkdir()
    large = _write("extxyz", tmp_path / "all", frames)
    import_files(session, "grown", [small], fractions=fractions)
    import_files(session, "grown", [large])
    import_files(session, "fresh", [large], fractions=fractions)
    session.commit()
    rows = session.execute(select(Frame.dataset_id, Frame.frame_hash, Frame.split)).all()
    by_dataset: dict[int, dict[str, str]] = {}
    for dataset_id, digest, split in rows:
        by_dataset.setdefault(dataset_id, {})[digest] = split
        assert split == split_of(digest, fractions)
    grown, fresh = (get_dataset(session, name).id for name in ("grown", "fresh"))
    assert by_dataset[grown] == by_dataset[fresh] and len(by_dataset[grown]) == 12

    with pytest.raises(DatasetError, match="cannot change"):
        import_files(session, "grown", [small], fractions=SplitFractions(valid=0.1, test=0.1))
    with pytest.raises(DatasetError, match="together below 1"):
        SplitFractions(valid=0.5, test=0.5)


def test_hash_ignores_noise_below_the_rounding_and_sees_energy() -> None:
    frame = emt_frames(1, seed=5)[0]
    forces = frame.get_forces()
    frame.positions[0, 0] = 0.12341  # Å: 1e-7 away does not cross the 1e-4 rounding edge
    frame.calc = SinglePointCalculator(frame, energy=-1.0000001, forces=forces)
    nudged = frame.copy()
    nudged.positions[0, 0] += 1e-7
    nudged.calc = SinglePointCalculator(nudged, energy=-1.0000002, forces=forces)
    assert frame_hash(nudged) == frame_hash(frame)
    shifted = frame.copy()
    shifted.calc = SinglePointCalculator(
        shifted, energy=frame.get_potential_energy() + 1e-3, forces=frame.get_forces()
    )
    assert frame_hash(shifted) != frame_hash(frame)
    moved = frame.copy()
    moved.positions[0, 0] += 0.01
    moved.calc = SinglePointCalculator(moved, **frame.calc.results)
    assert frame_hash(moved) != frame_hash(frame)


def test_import_command_reports_and_refuses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data.db'}"
    mixed = _write("extxyz", tmp_path, _bad_frames())

    result = runner.invoke(
        app, ["data", "import", str(mixed), "--dataset", "d", "--potential", "emt", "-d", url]
    )

    assert result.exit_code == 0, result.output
    assert "4 frames read, 1 added" in result.output
    assert "3 rejected" in result.output
    assert "frame 3: species Li unknown to the potential" in result.output

    missing = runner.invoke(
        app, ["data", "import", str(tmp_path / "nope.xyz"), "--dataset", "d", "-d", url]
    )
    assert missing.exit_code == 2
    assert "nope.xyz: no such file" in missing.output
