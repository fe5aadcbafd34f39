"""The database goes away mid-campaign: the driver holds finished results, retries with
backoff, and stores every one once the database is back."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from tcp_proxy import CuttableProxy

from db.engine import make_engine
from db.migrate import ensure_schema
from db.models import Job, Relaxation
from screening.campaign import load_plan
from screening.driver import RunOptions, run_campaign

pytestmark = pytest.mark.postgres

OUTAGE_S = 4.0


@pytest.fixture
def proxy() -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(("127.0.0.1", 5432))
    yield proxy
    proxy.close()


def _done(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).where(Job.status == "done"))


@pytest.mark.slow
def test_a_campaign_survives_a_database_outage(
    postgres_url: str,
    proxy: CuttableProxy,
    cuau_campaign,
    caplog: pytest.LogCaptureFixture,
    farm_address: str,
) -> None:
    campaign = cuau_campaign(name="outage", supercell=[2, 1, 1], step=0.125, fmax=0.002)
    ensure_schema(postgres_url)
    direct = make_engine(postgres_url)
    through_proxy = make_url(postgres_url).set(port=proxy.port)
    cut_when: list[int] = []

    def outage() -> None:
        while _done(direct) < 2:
            time.sleep(0.05)
        cut_when.append(_done(direct))
        proxy.cut()
        time.sleep(OUTAGE_S)
        proxy.restore()

    threading.Thread(target=outage, daemon=True).start()
    with caplog.at_level(logging.WARNING, logger="db.retry"):
        summary = run_campaign(
            make_engine(through_proxy), load_plan(campaign), RunOptions(scheduler=farm_address)
        )

    with Session(direct) as session:
        jobs = session.scalar(select(func.count()).select_from(Job))
        statuses = set(session.scalars(select(Job.status)))
        per_job = session.execute(
            select(Relaxation.job_id, func.count()).group_by(Relaxation.job_id)
        ).all()
    assert cut_when and cut_when[0] < jobs, "the outage must land part-way through the run"
    assert proxy.refused > 0  # the driver really met a dead database
    assert any("database unreachable" in r.message for r in caplog.records)
    assert statuses == {"done"} and summary.failed == 0
    assert len(per_job) == jobs and {n for _, n in per_job} == {1}
    direct.dispose()
