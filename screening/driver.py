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
import itertools
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
from db.retry import with_reconnect
from db.summary_cache import refresh_summary
from screening.campaign import CampaignPlan
from screening.clusters import FarmInfo, make_cluster
from screening.enumeration import Payload, TaskFunction, TaskMap, enumerate_campaign
from screening.farm import (
    Task,
    TaskOutcome,
    dashboard_note,
    map_ordered,
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
    only: frozenset[str] | None = None  # run only these stages (the rest stay pending)
    max_structures: int | None = None  # only the first N candidates (references always)


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

    def record(self, verdict: _Verdict, outcome: TaskOutcome) -> None:
        """Count a stored outcome (after its transaction committed)."""
        if outcome.ok:
            self.done += 1
        elif verdict.failed:
            self.failed += 1
            reason = (outcome.error or "").splitlines()[0]
            self.failures.append(f"job {outcome.job_id} ({verdict.kind}): {reason}")


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
            selection = _Selection.of(session, campaign, options)
        _run_pending(sessions, plan, campaign, selection, progress, summary, farm)
        if plan.spec.enumeration.method == "ce-mc" and selection.everything:
            with sessions() as session:
                current = session.get(Campaign, campaign.id)
                update_cluster_expansion(session, plan, current, progress, farm.map)
                _create_relax_jobs(session, plan, current)
                session.commit()
            _run_pending(sessions, plan, campaign, selection, progress, summary, farm)
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


@dataclass(frozen=True)
class _Selection:
    """The part of the campaign this run computes (``--only``, ``--max-structures``)."""

    stages: frozenset[str] | None
    structure_ids: frozenset[int] | None

    @classmethod
    def of(cls, session: Session, campaign: Campaign, options: RunOptions) -> _Selection:
        structures = None
        if options.max_structures is not None:
            members = session.execute(
                select(CampaignStructure.structure_id, CampaignStructure.role)
                .where(CampaignStructure.campaign_id == campaign.id)
                .order_by(CampaignStructure.structure_id)
            ).all()
            candidates = [i for i, role in members if role == "candidate"]
            references = [i for i, role in members if role != "candidate"]
            structures = frozenset(candidates[: options.max_structures] + references)
        return cls(options.only, structures)

    @property
    def everything(self) -> bool:
        return self.stages is None and self.structure_ids is None

    def runs_stage(self, kind: str) -> bool:
        return self.stages is None or kind in self.stages

    def admits(self, kind: str, structure_id: int) -> bool:
        return self.runs_stage(kind) and (
            self.structure_ids is None or structure_id in self.structure_ids
        )


def _run_pending(
    sessions: sessionmaker[Session],
    plan: CampaignPlan,
    campaign: Campaign,
    selection: _Selection,
    progress: Progress,
    summary: RunSummary,
    farm: _Farm,
) -> None:
    """Farm out the campaign's selected pending jobs, if it has any."""
    with sessions() as session:
        pending = _pending_jobs(session, campaign, selection)
    if pending:
        _run_jobs(sessions, plan, pending, selection, progress, summary, farm)


def _run_jobs(
    sessions: sessionmaker[Session],
    plan: CampaignPlan,
    pending: list[tuple[int, str]],
    selection: _Selection,
    progress: Progress,
    summary: RunSummary,
    farm: _Farm,
) -> None:
    farm_spec = plan.spec.farm
    kinds = [kind for _, kind in pending]
    for stage in sorted({*kinds, *followup_kinds(plan)}, key=_priority):
        if selection.runs_stage(stage):
            progress.start(stage, kinds.count(stage))
    client = farm.client()
    queue = _TaskQueue(sessions, [job_id for job_id, _ in pending], plan, farm)
    for outcomes in run_tasks(client, queue.take, farm.window, farm.mlip_resources):
        verdicts = with_reconnect(
            lambda outcomes=outcomes: _persist(sessions, plan, outcomes, farm_spec.max_attempts),
            f"storing {len(outcomes)} finished jobs",
            farm_spec.database_retry_s,
        )
        for outcome, verdict in zip(outcomes, verdicts, strict=True):
            if verdict.retry:
                queue.retry(outcome.job_id)
                continue
            summary.record(verdict, outcome)
            progress.advance(verdict.kind, ok=outcome.ok)
            for followup_kind, followup, structure_id in verdict.followups:
                if selection.admits(followup_kind, structure_id):
                    progress.add(followup_kind)
                    queue.add(followup)


class _Farm:
    """The run's Dask client, opened on first use (a rerun with nothing to compute starts
    no cluster) and closed with the run; enumeration's SQS runs and the jobs share it."""

    def __init__(self, plan: CampaignPlan, options: RunOptions, progress: Progress) -> None:
        self._plan, self._options, self._progress = plan, options, progress
        self._stack = ExitStack()
        self._client: Client | None = None
        self._farm_info: FarmInfo | None = None
        self.workers = 0

    def __enter__(self) -> _Farm:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.__exit__(*exc_info)

    @property
    def window(self) -> int:
        """Futures kept in flight: ``RunOptions.window``, else 4 per worker (at least 8)."""
        return self._options.window or max(8, 4 * self.workers)

    @property
    def artifact_root(self) -> Path:
        return self._options.artifact_root

    @property
    def torch_threads(self) -> int | None:
        """Torch threads per task (threads x workers = cores on a local cluster); None
        where the workers set their own."""
        return self._info().torch_threads

    @property
    def mlip_resources(self) -> dict[str, float] | None:
        """``{"GPU": 1}`` for potential calls where some workers have a GPU, else None."""
        return self._info().mlip_resources

    def client(self) -> Client:
        if self._client is None:
            farm = self._plan.spec.farm
            settings = farm.cluster_settings().overridden(
                self._options.scheduler, self._options.workers
            )
            client, info = self._stack.enter_context(make_cluster(settings, farm.max_attempts))
            self.workers = info.workers
            gpus = ", MLIP tasks on GPU workers" if info.mlip_resources else ""
            self._progress.note(
                f"farm: {settings.backend}, {self.workers} workers{gpus}{dashboard_note(client)}"
            )
            self._client, self._farm_info = client, info
        return self._client

    def _info(self) -> FarmInfo:
        self.client()
        return self._farm_info

    def map(self, function: TaskFunction, payloads: Iterable[Payload]) -> Iterator[Payload]:
        """``map`` on the farm, in order (the :data:`screening.enumeration.TaskMap`)."""
        return map_ordered(self.client(), function, payloads, self.window)


def _priority(kind: str) -> int:
    return STAGES[kind].priority


@dataclass(frozen=True)
class _Verdict:
    """What storing an outcome decided: retry the job, or it is done or failed for good;
    (kind, job id, structure id) of the follow-up jobs it unlocked."""

    kind: str
    retry: bool = False
    failed: bool = False
    followups: list[tuple[str, int, int]] = field(default_factory=list)


def _persist(
    sessions: sessionmaker[Session],
    plan: CampaignPlan,
    outcomes: list[TaskOutcome],
    max_attempts: int,
) -> list[_Verdict]:
    """Store a batch of outcomes with their jobs' statuses in one transaction (rerun whole
    if the database drops mid-way: a job already done is not stored twice)."""
    with sessions() as session, session.begin():
        ids = [outcome.job_id for outcome in outcomes]
        jobs = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(ids)))}
        return [_persist_one(session, plan, jobs[o.job_id], o, max_attempts) for o in outcomes]


def _persist_one(
    session: Session, plan: CampaignPlan, job: Job, outcome: TaskOutcome, max_attempts: int
) -> _Verdict:
    if job.status == "done":  # committed before the connection dropped
        return _Verdict(job.kind)
    job.worker = outcome.worker or job.worker
    if outcome.ok:
        STAGES[job.kind].persist(session, job, outcome.result)
        job.status, job.error = "done", None
        job.finished_at = dt.datetime.now(dt.UTC)
        unlocked = plan_followups(session, plan, job)
        return _Verdict(job.kind, followups=[(k, i, job.structure_id) for k, i in unlocked])
    job.error = outcome.error
    if outcome.retryable and job.attempts < max_attempts:
        log.warning("job %d failed (attempt %d), retrying: %s", job.id, job.attempts, outcome.error)
        return _Verdict(job.kind, retry=True)
    job.status = "failed"
    job.finished_at = dt.datetime.now(dt.UTC)
    return _Verdict(job.kind, failed=True)


class _TaskQueue:
    """Tasks for pending jobs, read from the database lazily, then retries and unlocked
    follow-up jobs; never exhausted for good, so work queued after the last job still runs."""

    def __init__(
        self, sessions: sessionmaker[Session], job_ids: list[int], plan: CampaignPlan, farm: _Farm
    ) -> None:
        self._sessions = sessions
        self._ids: Iterator[int] = iter(job_ids)
        self._retries: deque[int] = deque()
        self._followups: deque[int] = deque()
        self._farm_spec = plan.spec.farm
        self._common = {
            "potential": str(plan.potential),
            "torch_threads": farm.torch_threads,
            "artifact_root": str(farm.artifact_root),
            "checkpoint_every": plan.spec.farm.checkpoint_every,
        }

    def take(self, count: int) -> list[Task]:
        """Claim up to ``count`` jobs (retries first, then pending jobs in work order, then
        unlocked follow-ups) in one transaction, as tasks."""
        ids = [job_id for job_id in itertools.islice(self._next_ids(), count)]
        if not ids:
            return []
        return with_reconnect(
            lambda: self._claim(ids),
            f"claiming {len(ids)} jobs",
            self._farm_spec.database_retry_s,
        )

    def retry(self, job_id: int) -> None:
        self._retries.append(job_id)

    def add(self, job_id: int) -> None:
        self._followups.append(job_id)

    def _next_ids(self) -> Iterator[int]:
        while self._retries:
            yield self._retries.popleft()
        yield from self._ids
        while self._followups:
            yield self._followups.popleft()

    def _claim(self, ids: list[int]) -> list[Task]:
        with self._sessions() as session, session.begin():
            jobs = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(ids)))}
            inputs: dict[int, str] = {}
            for kind in {job.kind for job in jobs.values()}:
                of_kind = [job for job in jobs.values() if job.kind == kind]
                inputs.update(STAGES[kind].structure_input(session, of_kind))
            return [self._task(jobs[job_id], inputs[job_id]) for job_id in ids]

    def _task(self, job: Job, structure_json: str) -> Task:
        job.status = "running"
        job.attempts += 1
        job.started_at = dt.datetime.now(dt.UTC)
        params = json.loads(job.params_json)
        payload = {
            "job_id": job.id,
            "params": params,
            "structure_json": structure_json,
            **self._common,
        }
        return Task(
            job.id,
            STAGES[job.kind].run,
            payload,
            priority=_dask_priority(job.kind, params),
            timeout_s=self._farm_spec.timeout_s.get(job.kind),
        )


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


def _pending_jobs(
    session: Session, campaign: Campaign, selection: _Selection
) -> list[tuple[int, str]]:
    """(id, kind) of the selected pending jobs in :func:`work_order`."""
    rows = session.execute(
        select(Job.id, Job.kind, Job.structure_id, Job.params_json).where(
            jobs_in_campaign(campaign.id), Job.status == "pending"
        )
    ).all()
    chosen = [row for row in rows if selection.admits(row.kind, row.structure_id)]
    chosen.sort(key=lambda r: (work_order(r.kind, json.loads(r.params_json)), r.id))
    return [(row.id, row.kind) for row in chosen]


def work_order(kind: str, params: dict[str, Any]) -> tuple[int, float]:
    """Sort key of pending work, first first: cheap stages before expensive ones
    (relaxations, then NEB, then MD), and MD at high temperature (diffusive soonest, the
    most informative) before low."""
    return _priority(kind), -params.get("temperature_k", 0.0)


def _dask_priority(kind: str, params: dict[str, Any]) -> int:
    """:func:`work_order` as a Dask priority (higher runs first among submitted tasks)."""
    stage, minus_temperature = work_order(kind, params)
    return -1_000_000 * stage - round(minus_temperature)


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
