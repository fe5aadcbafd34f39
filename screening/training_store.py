"""Database side of fine-tuning: datasets and their frames, fine-tuned potentials with their
provenance, SIS generations, and potential names resolved to specs.

Frames are get-or-create on (dataset, frame hash); a frame's split comes from its hash and
the dataset's fractions (:func:`screening.datasets.split_of`). A fine-tuned potential's model
file lives in the artifact store, and its spec points there (``mace:<store>/ab/cdef...``), so
its ``weights_sha256`` is the artifact's hash. Callers own the transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ase import Atoms
from sqlalchemy import inspect, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.artifacts import ArtifactStore
from db.engine import normalize_url
from db.errors import DatabaseError, one_line
from db.models import Dataset, Frame, Potential, SisGeneration
from screening.datasets import (
    SPLITS,
    DatasetError,
    SplitFractions,
    frame_columns,
    frame_from_columns,
    split_of,
)
from screening.errors import PotentialError
from screening.evaluation import Evaluation
from screening.potentials import PotentialSpec, validate_spec, weights_sha256
from screening.store import ensure_potential, register_artifacts


@dataclass(frozen=True)
class Added:
    """What adding frames to a dataset did."""

    added: int
    duplicates: int
    per_split: dict[str, int]


def get_dataset(session: Session, name: str) -> Dataset:
    """The dataset called ``name``; DatasetError listing the known ones otherwise."""
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        known = ", ".join(session.scalars(select(Dataset.name).order_by(Dataset.name))) or "none"
        raise DatasetError(f"no dataset named {name!r} (known: {known})")
    return dataset


def ensure_dataset(session: Session, name: str, fractions: SplitFractions | None) -> Dataset:
    """The dataset ``name``, created with ``fractions`` (default 0.1/0.1) if new; asking for
    other fractions than an existing dataset's is an error (its splits would move)."""
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        fractions = fractions or SplitFractions()
        dataset = Dataset(name=name, valid_fraction=fractions.valid, test_fraction=fractions.test)
        session.add(dataset)
        session.flush()
    elif fractions is not None and fractions != fractions_of(dataset):
        raise DatasetError(
            f"dataset {name!r} splits valid={dataset.valid_fraction:g}, "
            f"test={dataset.test_fraction:g}; it cannot change (leave the fractions out)"
        )
    return dataset


def fractions_of(dataset: Dataset) -> SplitFractions:
    return SplitFractions(valid=dataset.valid_fraction, test=dataset.test_fraction)


def add_frames(session: Session, dataset: Dataset, frames: Sequence[Atoms]) -> Added:
    """Insert the frames the dataset does not hold yet (by hash), each in its split."""
    present = set(session.scalars(select(Frame.frame_hash).where(Frame.dataset_id == dataset.id)))
    fractions = fractions_of(dataset)
    per_split = dict.fromkeys(SPLITS, 0)
    added = 0
    for frame in frames:
        columns = frame_columns(frame)
        if columns["frame_hash"] in present:
            continue
        present.add(columns["frame_hash"])
        split = split_of(columns["frame_hash"], fractions)
        session.add(Frame(dataset_id=dataset.id, split=split, **columns))
        per_split[split] += 1
        added += 1
    session.flush()
    return Added(added, len(frames) - added, per_split)


def load_frames(session: Session, dataset: Dataset, split: str | None = None) -> list[Atoms]:
    """The dataset's frames (of one split, or all), in frame-hash order."""
    query = select(Frame).where(Frame.dataset_id == dataset.id).order_by(Frame.frame_hash)
    if split is not None:
        query = query.where(Frame.split == split)
    return [
        frame_from_columns(
            row.structure_json,
            row.energy_ev,
            row.forces_json,
            row.stress_json,
            row.source,
            row.functional,
        )
        for row in session.scalars(query)
    ]


def split_record(splits: Mapping[str, Sequence[Atoms]]) -> dict[str, dict[str, Any]]:
    """Per split: how many frames and the SHA-256 of their sorted frame hashes."""
    record = {}
    for split, frames in splits.items():
        hashes = sorted(frame.info["frame_hash"] for frame in frames)
        digest = hashlib.sha256("\n".join(hashes).encode()).hexdigest()
        record[split] = {"frames": len(frames), "frame_hashes_sha256": digest}
    return record


def find_potential(session: Session, name: str) -> Potential | None:
    return session.scalar(select(Potential).where(Potential.name == name))


def resolve_potential(session: Session, text: str) -> tuple[PotentialSpec, Potential | None]:
    """A spec (``chgnet``, ``mace:PATH``, ...) or the name of a registered potential -> its
    spec, checked offline, and its row when registered."""
    row = find_potential(session, text)
    if row is not None:
        return validate_spec(row.spec), row
    try:
        return validate_spec(text), None
    except PotentialError as err:
        raise PotentialError(f"{err}, or the name of a registered potential") from err


def store_model(
    session: Session, store: ArtifactStore, model: Path, spec: str
) -> tuple[PotentialSpec, str]:
    """Copy a trained model file into the artifact store: the spec of the stored copy, and
    its SHA-256."""
    sha = store.put(model.read_bytes())
    register_artifacts(session, {"model": (sha, model.stat().st_size)})
    family = PotentialSpec.parse(spec).family
    return PotentialSpec(family, str(store.path(sha).resolve())), sha


@dataclass(frozen=True)
class Provenance:
    """How a fine-tuned potential was made."""

    parent: Potential
    dataset: Dataset
    splits: dict[str, dict[str, Any]]
    hyperparameters: dict[str, Any]
    test: Evaluation | None  # None: the dataset has no test frames yet
    wall_time_s: float


def register_finetuned(
    session: Session, name: str, spec: PotentialSpec, provenance: Provenance
) -> Potential:
    """The ``potential`` row of a fine-tuned model stored by :func:`store_model`."""
    if find_potential(session, name) is not None:
        raise PotentialError(f"a potential named {name!r} exists already: choose another --name")
    sha = weights_sha256(spec)
    test = provenance.test
    potential = Potential(
        name=name,
        spec=str(spec),
        weights_sha256=sha,
        parent_id=provenance.parent.id,
        dataset_id=provenance.dataset.id,
        split_json=json.dumps(provenance.splits, sort_keys=True),
        hyperparameters_json=json.dumps(provenance.hyperparameters, sort_keys=True, default=str),
        model_sha256=sha,
        test_energy_rmse_mev_atom=test.energy_rmse_mev_atom if test else None,
        test_force_rmse_mev_ang=test.force_rmse_mev_ang if test else None,
        test_stress_rmse_gpa=test.stress_rmse_gpa if test else None,
        training_wall_time_s=provenance.wall_time_s,
    )
    session.add(potential)
    session.flush()
    return potential


def base_potential(session: Session, spec: PotentialSpec, row: Potential | None) -> Potential:
    """The row of a base potential: the registered one, or a row for a universal spec."""
    return row if row is not None else ensure_potential(session, spec)


def lineage(session: Session, potential: Potential) -> list[Potential]:
    """The potential and its ancestors through ``parent_id``, the base last."""
    chain = [potential]
    while chain[-1].parent_id is not None and len(chain) < 1000:
        chain.append(session.get_one(Potential, chain[-1].parent_id))
    return chain


def run_generations(session: Session, run_name: str) -> list[SisGeneration]:
    """The generations of one SIS run, in order."""
    query = (
        select(SisGeneration)
        .where(SisGeneration.run_name == run_name)
        .order_by(SisGeneration.generation)
    )
    return list(session.scalars(query))


def generations_of(session: Session, potentials: Sequence[Potential]) -> list[SisGeneration]:
    """SIS generations that ran or produced any of ``potentials``, oldest first."""
    ids = [p.id for p in potentials]
    query = (
        select(SisGeneration)
        .where(or_(SisGeneration.model_id.in_(ids), SisGeneration.next_model_id.in_(ids)))
        .order_by(SisGeneration.id)
    )
    return list(session.scalars(query))


def registered_spec(url: str, name: str) -> str | None:
    """The spec registered under ``name`` at ``url``, read without writing; None when the
    database (a SQLite file that does not exist), its schema or the name is missing."""
    from db.explorer_queries import make_readonly_engine

    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return None
    engine = make_readonly_engine(parsed, pooled=False)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("potential"):
                return None
            return connection.scalar(select(Potential.spec).where(Potential.name == name))
    except SQLAlchemyError as err:
        raise DatabaseError(f"cannot look up potential {name!r}: {one_line(err)}") from err
    finally:
        engine.dispose()
