"""The campaign driver: register, enumerate, plan jobs, farm them out, persist, hull.

The database is the single source of truth. A job is marked ``running`` (attempts + 1)
when it is submitted and committed ``done`` together with its result, in one
transaction, when its future completes. A driver that dies leaves ``running`` jobs
behind; the next run reclaims them (one driver per campaign at a time), retries failed
jobs that still have attempts left, and skips done ones, so nothing is done twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from pymatgen.core import Structure as PmgStructure
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.models import Campaign, CampaignStructure, Job, Structure
from screening.campaign import CampaignPlan
from screening.enumeration import enumerate_campaign
from screening.farm import (
    Task,
    TaskOutcome,
    dashboard_note,
    local_torch_threads,
    open_client,
    run_tasks,
)
from screening.hull import HullError
from screening.progress import Progress, SilentProgress
from screening.references import elemental_reference
from screening.stages import STAGES
from screening.stages.hull import update_hull
from screening.store import (
    ensure_campaign,
    ensure_job,
    ensure_potential,
    ensure_structure,
    link_structure,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """Where to run: a scheduler address (else a LocalCluster of ``workers``)."""

    scheduler: str | None = None
    workers: int | None = None
    window: int | None = None


@dataclass
class RunSummary:
    campaign: str
    done: int = 0
    failed: int = 0
    already_done: int = 0
    failed_total: int = 0
    hull_error: str | None = None
    failures: list[str] = field(default_factory=list)


def prepare_campaign(session: Session, plan: CampaignPlan, progress: Progress) -> Campaign:
    """Register the campaign, enumerate its structures, add references, create relax jobs."""
    potential = ensure_potential(session, plan.potential)
    campaign = ensure_campaign(session, plan.spec.name, plan.spec.to_json(), potential)
    session.commit()
    enumerate_campaign(session, plan, campaign, progress)
    _add_references(session, plan, campaign)
    _create_relax_jobs(session, plan, campaign)
    session.commit()
    return campaign


def run_campaign(
    engine: Engine,
    plan: CampaignPlan,
    options: RunOptions = RunOptions(),
    progress: Progress | None = None,
) -> RunSummary:
    """Run every pending job of the campaign on the farm and update its hull."""
    progress = progress or SilentProgress()
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as session:
        campaign = prepare_campaign(session, plan, progress)
        summary = RunSummary(campaign=campaign.name)
        summary.already_done = _reclaim(session, campaign, plan.spec.farm.max_attempts)
        pending = _pending_job_ids(session, campaign)
    if pending:
        _run_jobs(sessions, plan, pending, options, progress, summary)
    with sessions() as session:
        try:
            update_hull(session, session.get(Campaign, campaign.id))
        except HullError as err:
            summary.hull_error = str(err)
        summary.failed_total = len(
            session.scalars(
                select(Job.id).where(_campaign_jobs(campaign), Job.status == "failed")
            ).all()
        )
    return summary


def _run_jobs(
    sessions: sessionmaker[Session],
    plan: CampaignPlan,
    job_ids: list[int],
    options: RunOptions,
    progress: Progress,
    summary: RunSummary,
) -> None:
    max_attempts = plan.spec.farm.max_attempts
    progress.start("relax", len(job_ids))
    with open_client(options.scheduler, options.workers, max_attempts) as client:
        workers = len(client.scheduler_info(n_workers=-1)["workers"]) or 1
        threads = local_torch_threads(workers) if options.scheduler is None else None
        queue = _TaskQueue(sessions, job_ids, plan.spec.potential, threads)
        window = options.window or max(8, 4 * workers)
        progress.note(f"farm: {workers} workers{dashboard_note(client)}")
        for outcome in run_tasks(client, queue, window):
            retry = _persist(sessions, outcome, max_attempts, summary)
            if retry:
                queue.retry(outcome.job_id)
            else:
                progress.advance("relax", ok=outcome.ok)


def _persist(
    sessions: sessionmaker[Session], outcome: TaskOutcome, max_attempts: int, summary: RunSummary
) -> bool:
    """Store one outcome with its job's status in one transaction; True means retry it."""
    with sessions() as session, session.begin():
        job = session.get(Job, outcome.job_id)
        job.worker = outcome.worker or job.worker
        if outcome.ok:
            STAGES[job.kind].persist(session, job, outcome.result)
            job.status, job.error = "done", None
            job.finished_at = dt.datetime.now(dt.UTC)
            summary.done += 1
            return False
        job.error = outcome.error
        if outcome.retryable and job.attempts < max_attempts:
            log.warning(
                "job %d failed (attempt %d), retrying: %s", job.id, job.attempts, outcome.error
            )
            return True
        job.status = "failed"
        job.finished_at = dt.datetime.now(dt.UTC)
        summary.failed += 1
        summary.failures.append(f"job {job.id}: {outcome.error.splitlines()[0]}")
        return False


class _TaskQueue:
    """Tasks for pending jobs, read from the database lazily, plus retries; never exhausted
    for good, so a retry queued after the last job still runs."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        job_ids: list[int],
        potential: str,
        torch_threads: int | None,
    ) -> None:
        self._sessions = sessions
        self._ids: Iterator[int] = iter(job_ids)
        self._retries: deque[int] = deque()
        self._potential = potential
        self._threads = torch_threads

    def __iter__(self) -> _TaskQueue:
        return self

    def __next__(self) -> Task:
        job_id = self._retries.popleft() if self._retries else next(self._ids)
        return self._claim(job_id)

    def retry(self, job_id: int) -> None:
        self._retries.append(job_id)

    def _claim(self, job_id: int) -> Task:
        with self._sessions() as session, session.begin():
            job = session.get(Job, job_id)
            structure = session.get(Structure, job.structure_id)
            job.status = "running"
            job.attempts += 1
            job.started_at = dt.datetime.now(dt.UTC)
            payload = {
                "params": json.loads(job.params_json),
                "structure_json": structure.structure_json,
                "potential": self._potential,
                "torch_threads": self._threads,
            }
            return Task(job_id, STAGES[job.kind].run, payload)


def _campaign_jobs(campaign: Campaign):
    structure_ids = select(CampaignStructure.structure_id).where(
        CampaignStructure.campaign_id == campaign.id
    )
    return (Job.structure_id.in_(structure_ids)) & (Job.potential_id == campaign.potential_id)


def _reclaim(session: Session, campaign: Campaign, max_attempts: int) -> int:
    """Reset stale running jobs and retryable failed ones to pending; count done jobs."""
    in_campaign = _campaign_jobs(campaign)
    session.execute(
        update(Job).where(in_campaign, Job.status == "running").values(status="pending")
    )
    session.execute(
        update(Job)
        .where(in_campaign, Job.status == "failed", Job.attempts < max_attempts)
        .values(status="pending")
    )
    session.commit()
    return len(session.scalars(select(Job.id).where(in_campaign, Job.status == "done")).all())


def _pending_job_ids(session: Session, campaign: Campaign) -> list[int]:
    return list(
        session.scalars(
            select(Job.id).where(_campaign_jobs(campaign), Job.status == "pending").order_by(Job.id)
        )
    )


def _add_references(session: Session, plan: CampaignPlan, campaign: Campaign) -> None:
    """Elemental references (unless disabled) and the competing phases, as reference rows."""
    if plan.spec.hull.elemental_references:
        for element in sorted(_campaign_elements(plan)):
            phase = elemental_reference(element)
            origin = {"element": element, "note": phase.note, "relax_cell": phase.relax_cell}
            row = ensure_structure(session, phase.structure, "reference", origin)
            link_structure(session, campaign, row, "reference")
    for path in plan.competing_phases:
        structure = PmgStructure.from_file(path)
        row = ensure_structure(session, structure, "competing_phase", {"file": str(path)})
        link_structure(session, campaign, row, "reference")


def _campaign_elements(plan: CampaignPlan) -> set[str]:
    replaced = {sublattice.replaces for sublattice in plan.sublattices}
    elements = {str(el) for el in plan.parent.composition.elements} - replaced
    for sublattice in plan.sublattices:
        elements.update(s for s in sublattice.species if s != "vacancy")
    return elements


def _create_relax_jobs(session: Session, plan: CampaignPlan, campaign: Campaign) -> None:
    rows = session.execute(
        select(Structure.id, Structure.origin_json)
        .join(CampaignStructure, CampaignStructure.structure_id == Structure.id)
        .where(CampaignStructure.campaign_id == campaign.id)
    )
    for structure_id, origin_json in rows.all():
        relax_cell = json.loads(origin_json).get("relax_cell")
        params = plan.spec.relax.settings(relax_cell=relax_cell).as_dict()
        ensure_job(session, structure_id, "relax", params, campaign.potential_id)
