"""NEB checkpoints: a task killed after its first band resumes with that band and computes
only the rest, and the result equals an uninterrupted run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from test_neb_stage import COPPER_NEB

from screening.campaign import load_plan
from screening.neb import NEBResult
from screening.stages.neb import neb_checkpoint_file, neb_params, run_neb_task
from screening.structures import structure_to_json, to_structure

REPO = Path(__file__).resolve().parents[2]

WORKER = "import json, sys; from screening.stages.neb import run_neb_task; " + (
    "run_neb_task(json.loads(sys.argv[1]))"
)


def _payload(tmp_path: Path, job_id: int) -> dict:
    path = tmp_path / "cu.toml"
    path.write_text(COPPER_NEB)
    plan = load_plan(path)
    params = neb_params(plan, plan.spec.neb, relax_job_id=1)
    # first (2.54 Å) and second (3.59 Å) neighbour hops, in the 3x3x3 cell wider than
    # twice the longer one
    params.update(cutoff=3.7, supercell_min_length=7.5)
    return {
        "params": params,
        "structure_json": structure_to_json(to_structure(bulk("Cu", "fcc", a=3.59, cubic=True))),
        "potential": "emt",
        "torch_threads": 1,
        "artifact_root": str(tmp_path / "artifacts"),
        "job_id": job_id,
        "checkpoint_every": 500,  # the driver's [farm] checkpoint_every (NEB: every band)
    }


@pytest.mark.slow
def test_killed_neb_task_resumes_with_its_finished_bands(tmp_path: Path) -> None:
    payload = _payload(tmp_path, job_id=3)
    checkpoint = neb_checkpoint_file(payload)
    assert checkpoint.path == tmp_path / "artifacts" / "checkpoints" / "neb-job-3.json"
    environment = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(payload)], cwd=REPO, env=environment
    )
    deadline = time.monotonic() + 120
    while not checkpoint.path.exists() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    worker.kill()  # SIGKILL: a batch queue's walltime
    assert worker.wait() == -9, "the worker ended before it could be killed"
    (saved,) = checkpoint.load()  # the first band, the second one unfinished

    resumed = run_neb_task(payload)
    assert resumed["resumed_bands"] == 1
    assert not any(checkpoint.path.parent.iterdir())  # gone once the artifacts are written
    first = resumed["hops"][0]
    assert first["wall_time_s"] == saved.wall_time_s  # taken over, not recomputed
    assert first["forward_barrier_ev"] == saved.forward_barrier_ev

    reference = run_neb_task(_payload(tmp_path, job_id=4))
    assert reference["resumed_bands"] == 0
    for got, expected in zip(resumed["hops"], reference["hops"], strict=True):
        assert got["length_ang"] == pytest.approx(expected["length_ang"], abs=1e-9)
        assert got["forward_barrier_ev"] == pytest.approx(expected["forward_barrier_ev"], abs=1e-9)
        assert got["steps"] == expected["steps"]
    run = {k: v for k, v in resumed["run"].items() if k != "wall_time_s"}
    assert run == {k: v for k, v in reference["run"].items() if k != "wall_time_s"}


def _band(barrier_ev: float) -> NEBResult:
    return NEBResult(
        mechanism="vacancy",
        hop_length_ang=2.54,
        forward_barrier_ev=barrier_ev,
        reverse_barrier_ev=barrier_ev,
        reaction_coordinate_ang=np.linspace(0.0, 2.6, 5),
        energy_profile_ev=np.array([0.0, 0.3, barrier_ev, 0.3, 0.0]),
        converged=True,
        endpoints_converged=True,
        endpoint_shift_ang=0.01,
        initial_energy_ev=-120.5,
        max_force_ev_ang=0.02,
        steps=42,
        force_calls=180,
        supercell=(3, 3, 3),
        n_atoms=107,
        wall_time_s=3.25,
    )


def test_checkpoints_round_trip_and_others_are_ignored(tmp_path: Path) -> None:
    payload = _payload(tmp_path, job_id=5)
    checkpoint = neb_checkpoint_file(payload)
    bands = [_band(0.79), _band(3.24)]
    checkpoint.save(bands)
    (first, second) = checkpoint.load()
    assert first.forward_barrier_ev == 0.79 and second.supercell == (3, 3, 3)
    np.testing.assert_array_equal(second.energy_profile_ev, bands[1].energy_profile_ev)

    other = neb_checkpoint_file(payload | {"params": payload["params"] | {"fmax": 0.05}})
    assert other.path == checkpoint.path and other.load() == []  # another run's bands
    checkpoint.path.write_text("{not json")
    assert checkpoint.load() == []
    assert neb_checkpoint_file(payload | {"checkpoint_every": 0}) is None
    checkpoint.delete()
    assert not checkpoint.path.exists()
