"""MD checkpoints on EMT Cu-Au: a killed run continues from its last checkpoint and ends
exactly where the uninterrupted run with the same seed ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.neighborlist import NeighborList
from pymatgen.core import Structure

from db.artifacts import ArtifactStore
from screening.md import MDResult, MDSettings, run_md
from screening.md_checkpoint import CheckpointFile
from screening.stages.md import md_checkpoint_file, run_md_task
from screening.structures import structure_to_json, to_structure
from screening.trajectory import Trajectory

REPO = Path(__file__).resolve().parents[2]
SETTINGS = MDSettings(
    temperature_k=700,
    timestep_fs=2.0,
    steps=100,
    equilibration_steps=20,
    sample_every=5,
    mobile_species="Au",  # the Cu framework's MSD window is part of the saved state
    seed=5,
    checkpoint_every=20,
)
TOTAL_STEPS = SETTINGS.equilibration_steps + SETTINGS.steps

# The worker, in a process of its own; its EMT sleeps so that the parent's kill lands
# part-way through the run (the checkpoints do not depend on the calculator object).
WORKER = """
import json, sys, time
from ase.calculators.emt import EMT
import screening.stages.md as stage

class SlowEMT(EMT):
    def calculate(self, *args, **kwargs):
        time.sleep(0.02)
        super().calculate(*args, **kwargs)

stage.calculator_for_task = lambda *args, **kwargs: (SlowEMT(), "cpu")
stage.run_md_task(json.loads(sys.argv[1]))
"""


class Interrupted(Exception):
    """The in-process stand-in for a kill."""


class FreshEMT(EMT):
    """EMT whose neighbour list has no skin: its forces depend on the positions alone.

    ASE's EMT keeps a neighbour list with a 0.3 Å skin and sums the (tiny) terms of every
    listed pair, so its energies depend on where the list was last built at the 1e-14 level.
    """

    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__()
        self.calls = 0
        self.fail_after = fail_after

    def initialize(self, atoms) -> None:
        super().initialize(atoms)
        self.nl = NeighborList(
            [0.5 * self.rc_list] * len(atoms),
            skin=0.0,
            self_interaction=False,
            bothways=True,
        )

    def calculate(self, *args, **kwargs) -> None:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise Interrupted
        super().calculate(*args, **kwargs)


def _cuau() -> Structure:
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat(2)
    atoms.symbols[::4] = "Au"  # 24 Cu + 8 Au
    return to_structure(atoms)


def _assert_same_run(resumed: MDResult, reference: MDResult) -> None:
    assert resumed.steps_done == reference.steps_done == TOTAL_STEPS
    assert resumed.stable and reference.stable
    a, b = resumed.trajectory, reference.trajectory
    assert a.n_frames == b.n_frames == SETTINGS.steps // SETTINGS.sample_every + 1
    for name in ("positions_ang", "cells_ang", "times_ps", "energies_ev", "temperatures_k"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("thermostat", ["langevin", "nose-hoover", "bussi"])
def test_interrupted_run_resumes_bit_for_bit(tmp_path: Path, thermostat: str) -> None:
    settings = replace(SETTINGS, thermostat=thermostat)
    reference = run_md(_cuau(), FreshEMT(), settings)
    checkpoint = CheckpointFile(tmp_path / "md.npz")
    # One calculation at step 0, then one per step: the 91st is step 90, past the
    # checkpoint of step 80.
    with pytest.raises(Interrupted):
        run_md(_cuau(), FreshEMT(fail_after=90), settings, checkpoint)
    calculator = FreshEMT()
    resumed = run_md(_cuau(), calculator, settings, checkpoint)
    assert resumed.resumed_from_step == 80
    # Steps 81..120, the start energy and the restored state: nothing before step 80 again.
    assert calculator.calls == TOTAL_STEPS - 80 + 2
    _assert_same_run(resumed, reference)


def test_checkpoint_of_other_settings_or_unreadable_is_ignored(tmp_path: Path) -> None:
    checkpoint = CheckpointFile(tmp_path / "md.npz")
    with pytest.raises(Interrupted):
        run_md(_cuau(), FreshEMT(fail_after=30), SETTINGS, checkpoint)
    first = checkpoint.load(_fingerprint(checkpoint), 32)
    assert first is not None and first.step == 20
    other = replace(SETTINGS, seed=6)
    ignored = run_md(_cuau(), FreshEMT(), other, checkpoint)
    assert ignored.resumed_from_step is None
    _assert_same_run(ignored, run_md(_cuau(), FreshEMT(), other))
    # That run replaced the checkpoint with its own, of its last step.
    assert _fingerprint(checkpoint) != first.fingerprint
    assert checkpoint.load(first.fingerprint, 32) is None
    # Another checkpoint interval is still the same run: it resumes, here with nothing left.
    sparse = replace(other, checkpoint_every=1000)
    finished = run_md(_cuau(), FreshEMT(), sparse, checkpoint)
    assert finished.resumed_from_step == TOTAL_STEPS
    _assert_same_run(finished, ignored)
    assert checkpoint.load(_fingerprint(checkpoint), 31) is None  # another atom count
    checkpoint.path.write_bytes(b"not an npz")
    assert checkpoint.load(first.fingerprint, 32) is None


def _fingerprint(checkpoint: CheckpointFile) -> str:
    with np.load(checkpoint.path) as saved:
        return str(saved["fingerprint"])


def _payload(tmp_path: Path, job_id: int) -> dict:
    params = {
        "temperature_k": SETTINGS.temperature_k,
        "timestep_fs": SETTINGS.timestep_fs,
        "steps": SETTINGS.steps,
        "equilibration_steps": SETTINGS.equilibration_steps,
        "sample_every": SETTINGS.sample_every,
        "thermostat": "langevin",
        "seed": SETTINGS.seed,
        "supercell_min_length": 7.0,  # Å: the 7.4 Å cell as it is
        "hop_length": 1.5,
        "fit_min_start_ps": 0.05,
        "mobile_species": "Au",
        "charge": 1,
        "stability": {
            "temperature_window": [0.5, 1.5],
            "min_distance": 0.6,
            "framework_msd_max": 1.0,
        },
    }
    return {
        "params": params,
        "structure_json": structure_to_json(_cuau()),
        "potential": "emt",
        "torch_threads": 1,
        "artifact_root": str(tmp_path / "artifacts"),
        "job_id": job_id,
        "checkpoint_every": SETTINGS.checkpoint_every,  # the driver's [farm] checkpoint_every
    }


def _trajectory(tmp_path: Path, result: dict) -> Trajectory:
    store = ArtifactStore(tmp_path / "artifacts")
    return Trajectory.from_npz_bytes(store.get(result["artifacts"]["trajectory"][0]))


def test_killed_md_task_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    payload = _payload(tmp_path, job_id=7)
    path = md_checkpoint_file(payload).path
    assert path == tmp_path / "artifacts" / "checkpoints" / "md-job-7.npz"
    environment = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(payload)], cwd=REPO, env=environment
    )
    deadline = time.monotonic() + 60
    while not path.exists() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    worker.kill()  # SIGKILL: a batch queue's walltime
    assert worker.wait() == -9, "the worker ended before it could be killed"
    with np.load(path) as saved:
        checkpointed = int(saved["step"])
    assert 0 < checkpointed < TOTAL_STEPS and checkpointed % SETTINGS.checkpoint_every == 0

    resumed = run_md_task(payload)
    assert resumed["resumed_from_step"] == checkpointed
    assert resumed["steps_done"] == TOTAL_STEPS and resumed["stable"]
    assert not any(path.parent.iterdir())  # gone (and any partial write) with the artifacts

    reference = run_md_task(_payload(tmp_path, job_id=8))
    assert reference["resumed_from_step"] is None
    a, b = _trajectory(tmp_path, resumed), _trajectory(tmp_path, reference)
    assert a.n_frames == b.n_frames == SETTINGS.steps // SETTINGS.sample_every + 1
    # ASE's EMT carries its neighbour list from step to step (see FreshEMT): equal to 1e-10.
    np.testing.assert_allclose(a.positions_ang, b.positions_ang, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a.energies_ev, b.energies_ev, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(a.times_ps, b.times_ps)
