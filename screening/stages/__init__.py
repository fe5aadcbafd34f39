"""The stage registry: each stage is a pure worker function plus a driver-side persister.

A stage's worker function takes a plain-data payload (``params`` of the job, its input
structure as JSON, the potential spec, torch threads, the artifact root) and returns
plain data; ``structure_input`` reads the input structures of a batch of jobs in the
driver, in one query (the stored structure for relax, the relaxed one for md and neb);
the persister writes the result into the database in the same transaction that marks the
job done. New stages register here; ``priority`` orders pending work (lower first: cheap,
informative relaxations, then NEB, then MD).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Job, Structure
from screening.campaign import CampaignPlan
from screening.stages import md, neb, relax
from screening.stages.followups import relaxed_input

Persister = Callable[[Session, Job, dict[str, Any]], None]
WorkerFunction = Callable[[dict[str, Any]], dict[str, Any]]


InputReader = Callable[[Session, list[Job]], dict[int, str]]
"""The input structure (JSON) of each job, by job id."""


def stored_structure(session: Session, jobs: list[Job]) -> dict[int, str]:
    """The stored structures the jobs start from (a relaxation's input)."""
    rows = session.execute(
        select(Structure.id, Structure.structure_json).where(
            Structure.id.in_({job.structure_id for job in jobs})
        )
    )
    by_structure = dict(rows.tuples().all())
    return {job.id: by_structure[job.structure_id] for job in jobs}


@dataclass(frozen=True)
class Stage:
    name: str
    run: WorkerFunction
    persist: Persister
    structure_input: InputReader
    priority: int


STAGES: dict[str, Stage] = {
    "relax": Stage("relax", relax.run_relax, relax.persist_relax, stored_structure, 0),
    "md": Stage("md", md.run_md_task, md.persist_md, relaxed_input, 2),
    "neb": Stage("neb", neb.run_neb_task, neb.persist_neb, relaxed_input, 1),
}


def plan_followups(session: Session, plan: CampaignPlan, job: Job) -> list[tuple[str, int]]:
    """Create the jobs a done job unlocks (md and neb of a relaxation); return (kind, id)
    of those still pending."""
    return [("md", i) for i in md.plan_md_jobs(session, plan, job)] + [
        ("neb", i) for i in neb.plan_neb_jobs(session, plan, job)
    ]


def followup_kinds(plan: CampaignPlan) -> set[str]:
    """The follow-up stages the campaign enables."""
    stages = {"md": plan.spec.md, "neb": plan.spec.neb}
    return {name for name, spec in stages.items() if spec is not None and spec.enabled}
