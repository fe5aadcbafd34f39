"""Resume: SIGKILL the driver part-way, rerun, and every job is done exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.migrate import ensure_schema
from db.models import Job, Relaxation

SCREENING = str(Path(sys.executable).parent / "screening")


def _done_jobs(engine) -> dict[int, int]:
    """job id -> relaxation id of the jobs done so far."""
    with Session(engine) as session:
        rows = session.execute(
            select(Job.id, Relaxation.id)
            .join(Relaxation, Relaxation.job_id == Job.id)
            .where(Job.status == "done")
        )
        return dict(rows.all())


def _run(campaign: Path, url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [SCREENING, "run", str(campaign), "--database", url, "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill takes its local workers too
    )


@pytest.mark.slow
def test_killed_run_resumes_without_duplicates(tmp_path: Path, cuau_campaign) -> None:
    # SQLite, the embedded default: a driver killed mid-write must not corrupt the file.
    # A killed farm worker and a database outage on PostgreSQL: test_cluster_faults.py
    # and test_database_outage.py.
    database_url = f"sqlite:///{tmp_path / 'resume.db'}"
    # 5 compositions x 2 orderings on a 32-site cell: 10 EMT relaxations of ~0.5 s each
    campaign = cuau_campaign(
        name="resume",
        supercell=[2, 2, 2],
        step=0.25,
        orderings=2,
        sqs_steps=100,
        fmax=0.01,
    )
    ensure_schema(database_url)
    engine = make_engine(database_url)

    driver = _run(campaign, database_url)
    deadline = time.monotonic() + 240
    while len(_done_jobs(engine)) < 3:
        assert driver.poll() is None, driver.stderr.read().decode()
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()

    before = _done_jobs(engine)
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(Job))
        statuses = set(session.scalars(select(Job.status)))
    assert 3 <= len(before) < total, "the kill must land part-way through the campaign"
    assert "pending" in statuses or "running" in statuses

    rerun = subprocess.run(
        [SCREENING, "run", str(campaign), "--database", database_url, "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert rerun.returncode == 0, rerun.stderr

    after = _done_jobs(engine)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == total
        assert set(session.scalars(select(Job.status))) == {"done"}
        per_job = session.execute(
            select(Relaxation.job_id, func.count()).group_by(Relaxation.job_id)
        ).all()
    assert len(after) == total
    assert {count for _, count in per_job} == {1}  # exactly one result per job
    assert {job: after[job] for job in before} == before  # finished work was not redone
    engine.dispose()
