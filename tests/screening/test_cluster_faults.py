"""A real multi-process cluster on loopback (a ``dask scheduler`` and two ``dask worker``
processes): SIGKILL a worker mid-run, and every job still ends done exactly once; SIGKILL
the scheduler, and the driver exits with one clear error and a state a rerun resumes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from distributed import Client
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.migrate import ensure_schema
from db.models import Job, Relaxation
from screening.campaign import load_plan
from screening.driver import RunOptions, run_campaign
from screening.errors import FarmLost

DASK = str(Path(sys.executable).parent / "dask")


@dataclass(frozen=True)
class Loopback:
    address: str
    scheduler: subprocess.Popen


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[Loopback]:
    """A ``dask scheduler`` and two single-threaded ``dask worker`` processes (with nannies)."""
    scheduler_file = tmp_path / "scheduler.json"
    env = os.environ | {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "3"}
    quiet = {
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "env": env,
        "start_new_session": True,  # a process group each: a nanny goes with its worker
    }
    processes = [
        subprocess.Popen(
            [
                DASK,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            **quiet,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [DASK, "worker", address, "--nthreads", "1", "--no-dashboard"], **quiet
                )
            )
        with Client(address) as client:
            client.wait_for_workers(2, timeout=60)
        yield Loopback(address, processes[0])
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _done(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).where(Job.status == "done"))


@pytest.mark.slow
@pytest.mark.postgres
def test_a_worker_killed_mid_run_loses_nothing(
    loopback: Loopback, postgres_url: str, cuau_campaign
) -> None:
    scheduler = loopback.address
    campaign = cuau_campaign(name="killed-worker", supercell=[2, 1, 1], step=0.125, fmax=0.002)
    url = postgres_url
    ensure_schema(url)
    engine = make_engine(url)
    killed: list[int] = []

    def kill_a_busy_worker() -> None:
        with Client(scheduler) as client:
            while _done(engine) < 2:
                time.sleep(0.05)
            while not killed:
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                time.sleep(0.01)

    threading.Thread(target=kill_a_busy_worker, daemon=True).start()
    summary = run_campaign(engine, load_plan(campaign), RunOptions(scheduler=scheduler))

    with Session(engine) as session:
        jobs = session.scalar(select(func.count()).select_from(Job))
        statuses = set(session.scalars(select(Job.status)))
        per_job = dict(
            session.execute(
                select(Relaxation.job_id, func.count()).group_by(Relaxation.job_id)
            ).all()
        )
    assert killed, "a worker must have been killed mid-run"
    assert summary.failed == 0 and statuses == {"done"}
    assert len(per_job) == jobs and set(per_job.values()) == {1}  # each done exactly once
    engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_lost_scheduler_ends_the_run_cleanly_and_a_rerun_resumes(
    loopback: Loopback, postgres_url: str, cuau_campaign, farm_address: str
) -> None:
    plan = load_plan(
        cuau_campaign(name="lost-scheduler", supercell=[2, 1, 1], step=0.125, fmax=0.002)
    )
    farm = plan.spec.farm.model_copy(update={"scheduler_timeout_s": 3.0})  # give up soon
    campaign = dataclasses.replace(plan, spec=plan.spec.model_copy(update={"farm": farm}))
    ensure_schema(postgres_url)
    engine = make_engine(postgres_url)

    def kill_the_scheduler() -> None:
        while _done(engine) < 2:
            time.sleep(0.05)
        os.killpg(loopback.scheduler.pid, signal.SIGKILL)

    threading.Thread(target=kill_the_scheduler, daemon=True).start()
    with pytest.raises(FarmLost, match=r"lost the Dask scheduler .* rerunning the campaign"):
        run_campaign(engine, campaign, RunOptions(scheduler=loopback.address))
    with Session(engine) as session:
        before = dict(session.execute(select(Job.id, Job.status)).tuples().all())
        stored_before = session.scalar(select(func.count()).select_from(Relaxation))
    done_before = {job_id for job_id, status in before.items() if status == "done"}
    assert 2 <= len(done_before) < len(before)  # killed part-way
    assert stored_before == len(done_before)  # nothing half-stored

    summary = run_campaign(engine, campaign, RunOptions(scheduler=farm_address))
    with Session(engine) as session:
        per_job = dict(
            session.execute(
                select(Relaxation.job_id, func.count()).group_by(Relaxation.job_id)
            ).all()
        )
        attempts = dict(session.execute(select(Job.id, Job.attempts)).tuples().all())
    assert summary.failed == 0 and summary.already_done == len(done_before)
    assert set(per_job) == set(before) and set(per_job.values()) == {1}
    assert all(attempts[job_id] == 1 for job_id in done_before)  # not redone
    engine.dispose()
