"""Read queries of db.queries over the sample campaign."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Job
from db.queries import (
    FailureGroup,
    StatusCount,
    composition_summary,
    failed_jobs,
    failure_groups,
    job_status_counts,
    jobs_in_campaign,
    stage_throughput,
)

if TYPE_CHECKING:
    from conftest import SampleCampaign


def test_job_status_counts_cover_the_campaign_potential_only(
    session: Session, sample_campaign: SampleCampaign
) -> None:
    assert job_status_counts(session, sample_campaign.campaign_id) == [
        StatusCount("md", "pending", 1),
        StatusCount("relax", "done", 5),
        StatusCount("relax", "failed", 1),
    ]


def test_failed_jobs_carry_their_error(session: Session, sample_campaign: SampleCampaign) -> None:
    (failed,) = failed_jobs(session, sample_campaign.campaign_id)
    assert failed.job_id == sample_campaign.failed_job_id
    assert (failed.kind, failed.formula) == ("relax", "Li3InCl3Br3")
    assert failed.error == "RuntimeError: relaxation exploded"
    assert failed_jobs(session, sample_campaign.campaign_id, limit=0) == []


def test_throughput_per_stage_over_the_active_span_and_the_last_hour(
    session: Session, sample_campaign: SampleCampaign
) -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    in_campaign = jobs_in_campaign(sample_campaign.campaign_id)
    relax_jobs = session.scalars(
        select(Job).where(in_campaign, Job.kind == "relax").order_by(Job.id)
    ).all()
    for i, job in enumerate(relax_jobs):  # one every 10 min, each taking 5 min
        job.started_at = start + dt.timedelta(minutes=10 * i)
        job.finished_at = job.started_at + dt.timedelta(minutes=5)
    session.commit()

    (relax,) = stage_throughput(
        session, sample_campaign.campaign_id, now=start + dt.timedelta(minutes=70)
    )
    assert relax.kind == "relax" and relax.finished == 6
    assert relax.jobs_per_hour == pytest.approx(6 / (55 / 60))  # 6 jobs from 0 to 55 min
    assert relax.mean_job_s == pytest.approx(300.0)
    assert relax.last_hour == 5  # the first finished 65 min before "now"


def test_failures_are_grouped_by_stage_and_first_line(
    session: Session, sample_campaign: SampleCampaign
) -> None:
    assert failure_groups(session, sample_campaign.campaign_id) == [
        FailureGroup(
            "relax", "RuntimeError: relaxation exploded", 1, [sample_campaign.failed_job_id]
        )
    ]


def test_composition_summary_accepts_a_session(
    session: Session, sample_campaign: SampleCampaign
) -> None:
    rows = composition_summary(session, sample_campaign.campaign_name)
    assert [row["formula"] for row in rows] == [
        "Li3InBr6",
        "Li3InCl3Br3",
        "Li3InCl3Br3",
        "Li3InCl6",
    ]
