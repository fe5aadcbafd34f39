"""Read queries of db.queries over the sample campaign."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from db.queries import StatusCount, composition_summary, failed_jobs, job_status_counts

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
