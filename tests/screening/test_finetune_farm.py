"""Fine-tuning on the farm (``--scheduler``): CHGNet trained as one task on a worker of a real
Dask cluster, its epochs relayed to the command's progress bar, and the model it wrote read
back and registered by the command; SIS with its MD, labelling and fine-tuning farmed out."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ase.io import write
from dask.utils import key_split
from distributed import Client, get_task_stream
from sqlalchemy import select
from training_frames import emt_frames
from typer.testing import CliRunner

from db.engine import make_engine, make_session_factory
from db.models import Artifact, Potential, SisGeneration
from screening.cli import app
from screening.potentials import PotentialSpec, default_device

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cli(*args: str) -> str:
    """Run the command line, check it succeeded; its output with line wrapping undone."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _on_workers(address: str, function: Callable[[], Any]) -> dict[str, Any]:
    """``function()`` on every worker of the cluster, by worker address."""
    with Client(address) as client:
        return client.run(function)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_finetune_trains_on_a_worker_and_registers_here(tmp_path: Path, farm_address: str) -> None:
    url = f"sqlite:///{tmp_path / 'farm.db'}"
    data = tmp_path / "frames.extxyz"
    write(data, emt_frames(10, seed=4, rattle=0.08), format="extxyz")
    imported = _cli(
        "data", "import", str(data), "--dataset", "d", "--valid", "0.3", "--test", "0.3", "-d", url
    )  # fmt: skip
    assert "0 valid" not in imported and "0 test" not in imported, imported
    workdir, artifacts = tmp_path / "work", tmp_path / "artifacts"

    output = _cli(
        "potential", "finetune", "--base", "chgnet", "--dataset", "d", "--name", "farm-ft",
        "--epochs", "2", "--batch-size", "4", "--scheduler", farm_address,
        "--workdir", str(workdir), "--artifacts", str(artifacts), "-d", url,
    )  # fmt: skip

    assert re.search(r"finetune ━+ 2/2 0 failed", output), output  # epochs from the worker
    assert "registered farm-ft: chgnet-file:" in output
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        row = session.scalars(select(Potential).where(Potential.name == "farm-ft")).one()
        artifact = session.get(Artifact, row.model_sha256)
    engine.dispose()
    stored = Path(PotentialSpec.parse(row.spec).argument)
    assert stored.is_relative_to(artifacts.resolve()) and artifact is not None
    assert row.weights_sha256 == row.model_sha256 == _sha256(stored)
    # the file the worker wrote into the shared work directory is the one registered
    assert _sha256(workdir / "model.pth.tar") == row.weights_sha256
    assert (workdir / "train.log").stat().st_size > 0
    hyper = json.loads(row.hyperparameters_json)
    assert (hyper["family"], hyper["epochs"], hyper["epochs_run"]) == ("chgnet", 2, 2)
    worker = hyper["trained_on"]
    assert _on_workers(farm_address, os.getpid)[worker] != os.getpid()  # not in this process
    assert hyper["device"] == _on_workers(farm_address, default_device)[worker]
    # EMT's energy zero is eV/atom from CHGNet's: the fine-tuned model has learnt it
    assert row.test_energy_rmse_mev_atom is not None and row.test_energy_rmse_mev_atom < 150


def test_sis_fine_tunes_on_the_farm_and_stops_md_at_min_distance(
    tmp_path: Path, farm_address: str
) -> None:
    """At 1100 K, Cu-Au atoms come within 2.4 Å of each other in 0.1 ps: with
    ``--min-distance 2.4`` that is the catastrophic point, and SIS fine-tunes CHGNet on the
    frames from before it. MD, reference MD, labelling and fine-tuning are all farm tasks."""
    url = f"sqlite:///{tmp_path / 'sis.db'}"
    seed = tmp_path / "seed.extxyz"
    write(seed, emt_frames(8, seed=21, rattle=0.05), format="extxyz")
    _cli("data", "import", str(seed), "--dataset", "s", "--valid", "0.3", "-d", url)
    structure = tmp_path / "cell.extxyz"
    write(structure, emt_frames(1, seed=3, rattle=0.0)[0].repeat((2, 1, 1)), format="extxyz")

    with Client(farm_address) as client, get_task_stream(client) as stream:
        _cli(
            "potential", "sis", "--model", "chgnet", "--reference", "emt", "--dataset", "s",
            "--structure", str(structure), "--name", "close", "--temperature", "1100",
            "--steps", "300", "--equilibration-steps", "0", "--mobile-species", "Au",
            "--generations", "2", "--frames", "4", "--window-ps", "0.1", "--min-distance", "2.4",
            "--reference-md-steps", "4", "--epochs", "1", "--scheduler", farm_address,
            "--workdir", str(tmp_path / "work"), "--artifacts", str(tmp_path / "artifacts"),
            "-d", url,
        )  # fmt: skip

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        generations = session.scalars(select(SisGeneration)).all()
        first = next(g for g in generations if g.generation == 0)
        g1 = session.get_one(Potential, first.next_model_id)
    engine.dispose()
    assert first.reason is not None and "(limit 2.4 Å)" in first.reason, first.reason
    assert g1.name == "close-g1" and first.frames_added >= 1
    assert g1.weights_sha256 == _sha256(Path(PotentialSpec.parse(g1.spec).argument))
    trained_on = json.loads(g1.hyperparameters_json)["trained_on"]
    pids = _on_workers(farm_address, os.getpid)
    assert pids[trained_on] != os.getpid()
    # every MD run and every labelled frame was a task on a worker, not in this process
    ran_on: dict[str, list[str]] = {}
    for task in stream.data:
        ran_on.setdefault(key_split(task["key"]), []).append(task["worker"])
    assert len(ran_on["sis_md_task"]) == sum(g.runs for g in generations) >= 2
    assert 1 <= len(ran_on["sis_reference_md_task"]) <= sum(g.unstable_runs for g in generations)
    assert len(ran_on["sis_label_task"]) == sum(g.frames_added for g in generations)
    assert ran_on["finetune"] == [trained_on]
    assert all(pids[worker] != os.getpid() for workers in ran_on.values() for worker in workers)
