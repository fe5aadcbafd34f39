"""Write a campaign's compositions and structures (SQS) into the database, idempotently."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Campaign, CampaignStructure, Composition, Structure
from enumerate import grid, sqs
from screening.campaign import CampaignPlan
from screening.progress import Progress
from screening.store import ensure_composition, ensure_structure, link_structure


def enumerate_campaign(
    session: Session, plan: CampaignPlan, campaign: Campaign, progress: Progress
) -> None:
    """Generate the missing structures of every composition.

    A composition that already holds ``structures_per_composition`` candidates is
    skipped, so a rerun costs nothing. Seeds are ``seed + k`` for the k-th structure;
    identical orderings (as in pure end members) are stored once.
    """
    spec = plan.spec.enumeration
    progress.start("enumerate", len(plan.compositions))
    for point in plan.compositions:
        composition = ensure_composition(
            session,
            campaign,
            grid.formula_of(point, plan.parent, plan.sublattices),
            point.to_json(),
        )
        if (
            _candidate_count(session, campaign, composition, list(plan.spec.supercell))
            < spec.structures_per_composition
        ):
            for k in range(spec.structures_per_composition):
                result = sqs.generate_sqs(
                    plan.supercell,
                    plan.sublattices,
                    point,
                    seed=spec.seed + k,
                    n_steps=spec.sqs_steps,
                    pair_cutoff=spec.pair_cutoff,
                )
                origin = {
                    "method": "sqs",
                    "seed": result.seed,
                    "n_steps": result.n_steps,
                    "objective": result.objective,
                    "cutoffs": list(result.cutoffs),
                    "supercell": list(plan.spec.supercell),
                }
                row = ensure_structure(session, result.structure, "sqs", origin)
                link_structure(session, campaign, row, "candidate", composition)
        session.commit()
        progress.advance("enumerate")


def _candidate_count(
    session: Session, campaign: Campaign, composition: Composition, supercell: list[int]
) -> int:
    """Candidates of the composition made by SQS in the campaign's current supercell.

    Structures from an earlier supercell stay candidates, but do not count: changing
    ``supercell`` in the campaign file generates new orderings on the next run.
    """
    origins = session.scalars(
        select(Structure.origin_json)
        .join(CampaignStructure, CampaignStructure.structure_id == Structure.id)
        .where(
            CampaignStructure.campaign_id == campaign.id,
            CampaignStructure.composition_id == composition.id,
        )
    )
    return sum(json.loads(origin).get("supercell") == supercell for origin in origins)
