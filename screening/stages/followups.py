"""Jobs that start from a finished relaxation (md, neb): which structures get them, and
the relaxed structure they start from."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import CampaignStructure, Composition, Job, Relaxation, Structure
from screening.enumeration import TRAINING_ORIGIN


def wants_followup(session: Session, relax_job: Job, compositions: list[str]) -> bool:
    """Whether a done relax job's structure is a candidate of one of ``compositions``
    (reduced formulas; empty: every composition). The training set of a cluster expansion
    (origin ``ce-training``) gets none: its structures exist to be fitted, not screened."""
    if relax_job.kind != "relax":
        return False
    formula = session.scalar(
        select(Composition.formula)
        .join(CampaignStructure, CampaignStructure.composition_id == Composition.id)
        .join(Structure, Structure.id == CampaignStructure.structure_id)
        .where(
            CampaignStructure.structure_id == relax_job.structure_id,
            CampaignStructure.role == "candidate",
            Structure.origin_kind != TRAINING_ORIGIN,
        )
    )
    return formula is not None and (not compositions or formula in compositions)


def relaxed_input(session: Session, jobs: list[Job]) -> dict[int, str]:
    """The relaxed structures (JSON) follow-up jobs start from: their ``relax_job_id``'s."""
    relax_job_ids = {job.id: json.loads(job.params_json)["relax_job_id"] for job in jobs}
    rows = session.execute(
        select(Relaxation.job_id, Relaxation.final_structure_json).where(
            Relaxation.job_id.in_(set(relax_job_ids.values()))
        )
    )
    relaxed = dict(rows.tuples().all())
    return {job_id: relaxed[relax_job_id] for job_id, relax_job_id in relax_job_ids.items()}
