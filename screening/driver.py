"""The campaign driver: register, enumerate, plan jobs, farm them out, persist, hull.

The database is the single source of truth. A job is marked ``running`` (attempts + 1)
when it is submitted and committed ``done`` together with its result, in one
transaction, when its future completes. A driver that dies leaves ``running`` jobs
behind; the next run reclaims them (one driver per campaign at a time), retries failed
jobs that still have attempts left, and skips done ones, so nothing is done twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymatgen.core import Structure as PmgStructure
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.artifacts import default_artifact_root
from db.models import Campaign, CampaignStructure, Job, Structure
from db.queries import jobs_in_campaign
from db.summary_cache import refresh_summary
from screening.campaign import CampaignPlan
from screening.enumeration import Payload, TaskFunction, TaskMap, enumerate_campaign
from screening.farm import (
    Task,
    TaskOutcome,
    dashboard_note,
    local_torch_threads,
    map_ordered,
    open_client,
    run_tasks,
)
from screening.hull import HullError
from screening.progress import Progress, SilentProgress
from screening.references import elemental_reference
from screening.stages import STAGES, followup_kinds, plan_followups
from screening.stages.arrhenius import update_arrhenius
from screening.stages.cluster_expansion import update_cluster_expansion
from screening.stages.hull import update_hull
from screening.store import (
    ensure_campaign,
    ensure_job,
    ensure_potential,
    ensure_structure,
    link_structure,
)

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """Where to run (a scheduler address, else a LocalCluster of ``workers``) and where the
    artifact store lives (workers write to it: a shared filesystem on a cluster)."""

    artifact_root: Path | None = None  # None: db.artifacts.default_artifact_root(URL)
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
    arrhenius_fits: int = 0
    failures: list[str] = field(default_factory=list)


def prepare_campaign(
    session: Session, plan: CampaignPlan, progress: Progress, map_tasks: TaskMap = map
) -> Campaign:
    """Register the campaign, enumerate its structures (SQS runs through ``map_tasks``),
    add references, and create the relax jobs and the md/neb jobs of structures already
    relaxed."""
    potential = ensure_potential(session, plan.potential)
    campaign = ensure_campaign(session, plan.spec.name, plan.spec.to_json(), potential)
    session.commit()
    enumerate_campaign(session, plan, campaign, progress, map_tasks)
    _add_references(session, plan, campaign)
    _create_relax_jobs(session, plan, campaign)
    for relax_job in session.scalars(
        select(Job).where(jobs_in_campaign(campaign.id), Job.kind == "relax", Job.status == "done")
    ):
        plan_followups(session, plan, relax_job)
    session.commit()
    return campaign


def run_campaign(
    engine: Engine,
    plan: CampaignPlan,
    options: RunOptions = RunOptions(),
    progress: Progress | None = None,
) -> RunSummary:
    """Enumerate (SQS runs on the farm), run every pending job of the campaign on the farm
    (md jobs join as their relaxations finish), then update its hull, Arrhenius fits and
    summary cache.

    Method ce-mc: once its training set is relaxed, fit the cluster expansion, anneal and
    sample every composition (on the farm), and relax the structures found.
    """
    progress = progress or SilentProgress()
    sessions = sessionmaker(engine, expire_on_commit=False)
    root = options.artifact_root or default_artifact_root(
        engine.url.render_as_string(hide_password=False)
    )
    options = dataclasses.replace(options, artifact_root=root)
    with _Farm(plan, options, progress) as farm:
        with sessions() as session:
            campaign = prepare_campaign(session, plan, progress, farm.map)
            summary = RunSummary(campaign=campaign.name)
            summary.already_done = _reclaim(session, campaign, plan.spec.farm.max_attempts)
        _run_pending(sessions, plan, campaign, options, progress, summary, farm)
        if plan.spec.enumeration.method == "ce-mc":
            with sessions() as session:
                current = session.get(Campaign, campaign.id)
                update_cluster_expansion(session, plan, current, progress, farm.map)
                _create_relax_jobs(session, plan, current)
                session.commit()
            _run_pending(sessions, plan, campaign, options, progress, summary, farm)
    with sessions() as session:
        current = session.get(Campaign, campaign.id)
        try:
            update_hull(session, current)
        except HullError as err:
            summary.hull_error = str(err)
        summary.arrhenius_fits = update_arrhenius(session, current)
        refresh_summary(session, current.id)  # the explorer's precomputed summary
        summary.failed_total = len(
            session.scalars(
                select(Job.id).where(jobs_in_campaign(campaign.id), Job.status == "failed")
            ).all()
        )
    return summary


def _run_pending(
    sessions: sessionmaker[Session],
    plan: CampaignPlan,
    campaign: Campaign,
    options: RunOptions,
    progress: Progress,
    summary: RunSummary,
    farm: _Farm,
) -> None:
    """Farm out the campaign's pending jobs, if it has any."""
    with sessions() as session:
        pending = _pending_job_ids(session, campaign)
    if pending:
        _run_jobs(sessions, plan, pending, options, progress, summary, farm)


def _run_jobs(
    sessions: sessionmaker[Session],
    plan: CampaignPlan,
    job_ids: list[int],
    options: RunOptions,
    progress: Progress,
    summary: RunSummary,
    farm: _Farm,
) -> None:
    max_attempts = plan.spec.farm.max_attempts
    with sessions() as session:
        kinds = dict(session.execute(select(Job.id, Job.kind).where(Job.id.in_(job_ids))).all())
    for stage in sorted({*kinds.values(), *followup_kinds(plan)}, key=_priority):
        progress.start(stage, sum(kind == stage for kind in kinds.values()))
    client = farm.client()
    threads = local_torch_threads(farm.workers) if options.scheduler is None else None
    queue = _TaskQueue(sessions, job_ids, str(plan.potential), threads, options.artifact_root)
    for outcome in run_tasks(client, queue, farm.window):
        kind, retry, followups = _persist(sessions, plan, outcome, max_attempts, summary)
        if retry:
            queue.retry(outcome.job_id)
            continue
        progress.advance(kind, ok=outcome.ok)
        for followup_kind, followup in followups:
            progress.add(followup_kind)
            queue.add(followup)


class _Farm:
    """The run's Dask client, opened on first use (a rerun with nothing to compute starts
    no cluster) and closed with the run; enumeration's SQS runs and the jobs share it."""

    def __init__(self, plan: CampaignPlan, options: RunOptions, progress: Progress) -> None:
        self._plan, self._options, self._progress = plan, options, progress
        self._stack = ExitStack()
        self._client: Client | None = None
        self.workers = 0

    def __enter__(self) -> _Farm:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.__exit__(*exc_info)

    @property
    def window(self) -> int:
        """Futures kept in flight: ``RunOptions.window``, else 4 per worker (at least 8)."""
        return self._options.window or max(8, 4 * self.workers)

    def client(self) -> Client:
        if self._client is None:
            farm = self._plan.spec.farm
            workers = self._options.workers or farm.local_workers
            client = self._stack.enter_context(
                open_client(self._options.scheduler, workers, farm.max_attempts)
            )
            self.workers = len(client.scheduler_info(n_workers=-1)["workers"]) or 1
            self._progress.note(f"farm: {self.workers} workers{dashboard_note(client)}")
            self._client = client
        return self._client

    def map(self, function: TaskFunction, payloads: Iterable[Payload]) -> Iterator[Payload]:
        """``map`` on the farm, in order (the :data:`screening.enumeration.TaskMap`)."""
        return map_ordered(self.client(), function, payloads, self.window)


def _priority(kind: str) -> int:
    return STAGES[kind].priority


def _persist(
    sessions: sessionmaker[Session],
    plan: CampaignPlan,
    outcome: TaskOutcome,
    max_attempts: int,
    summary: RunSummary,
) -> tuple[str, bool, list[tuple[str, int]]]:
    """Store one outcome with its job's status in one transaction.

    Returns the job's kind, whether to retry it, and (kind, id) of the jobs it unlocked
    (the md and neb jobs of a finished relaxation), created in the same transaction.
    """
    with sessions() as session, session.begin():
        job = session.get(Job, outcome.job_id)
        job.worker = outcome.worker or job.worker
        if outcome.ok:
            STAGES[job.kind].persist(session, job, outcome.result)
            job.status, job.error = "done", None
            job.finished_at = dt.datetime.now(dt.UTC)
            summary.done += 1
            return job.kind, False, plan_followups(session, plan, job)
        job.error = outcome.error
        if outcome.retryable and job.attempts < max_attempts:
            log.warning(
                "job %d failed (attempt %d), retrying: %s", job.id, job.attempts, outcome.error
            )
            return job.kind, True, []
        job.status = "failed"
        job.finished_at = dt.datetime.now(dt.UTC)
        summary.failed += 1
        summary.failures.append(f"job {job.id} ({job.kind}): {outcome.error.splitlines()[0]}")
        return job.kind, False, []


class _TaskQueue:
    """Tasks for pending jobs, read from the database lazily, then retries and unlocked
    follow-up jobs; never exhausted for good, so work queued after the last job still runs."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        job_ids: list[int],
        potential: str,
        torch_threads: int | None,
        artifact_root: Path,
    ) -> None:
        self._sessions = sessions
        self._ids: Iterator[int] = iter(job_ids)
        self._retries: deque[int] = deque()
        self._followups: deque[int] = deque()
        self._potential = potential
        self._threads = torch_threads
        self._artifact_root = str(artifact_root)

    def __iter__(self) -> _TaskQueue:
        return self

    def __next__(self) -> Task:
        if self._retries:
            return self._claim(self._retries.popleft())
        job_id = next(self._ids, None)
        if job_id is None and self._followups:
            job_id = self._followups.popleft()
        if job_id is None:
            raise StopIteration
        return self._claim(job_id)

    def retry(self, job_id: int) -> None:
        self._retries.append(job_id)

    def add(self, job_id: int) -> None:
        self._followups.append(job_id)

    def _claim(self, job_id: int) -> Task:
        with self._sessions() as session, session.begin():
            job = session.get(Job, job_id)
            stage = STAGES[job.kind]
            job.status = "running"
            job.attempts += 1
            job.started_at = dt.datetime.now(dt.UTC)
            payload = {
                "params": json.loads(job.params_json),
                "structure_json": stage.structure_input(session, job),
                "potential": self._potential,
                "torch_threads": self._threads,
                "artifact_root": self._artifact_root,
            }
            return Task(job_id, stage.run, payload)


def _reclaim(session: Session, campaign: Campaign, max_attempts: int) -> int:
    """Reset stale running jobs and retryable failed ones to pending; count done jobs."""
    in_campaign = jobs_in_campaign(campaign.id)
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
    """Pending jobs, cheap stages first (relaxations before MD)."""
    rows = session.execute(
        select(Job.id, Job.kind).where(jobs_in_campaign(campaign.id), Job.status == "pending")
    ).all()
    return [job_id for job_id, kind in sorted(rows, key=lambda r: (_priority(r[1]), r[0]))]


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
