"""Write a campaign's compositions and structures into the database, idempotently.

``[enumeration] method``: ``sqs`` (``structures_per_composition`` seeded SQS per
composition in the campaign's supercell) or ``enumerate`` (every symmetry-distinct
ordering of the grid's compositions in cells of up to ``max_sites`` sites, each in its
smallest cell).
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Campaign, CampaignStructure, Composition, Structure
from enumerate import grid, orderings, sqs
from enumerate.space import CompositionPoint
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
    if spec.method == "enumerate":
        _link_orderings(session, plan, campaign, progress)
        return
    for point in plan.compositions:
        composition = _composition_row(session, plan, campaign, point)
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


def _composition_row(
    session: Session, plan: CampaignPlan, campaign: Campaign, point: CompositionPoint
) -> Composition:
    formula = grid.formula_of(point, plan.parent, plan.sublattices)
    return ensure_composition(session, campaign, formula, point.to_json())


def _link_orderings(
    session: Session, plan: CampaignPlan, campaign: Campaign, progress: Progress
) -> None:
    """Every ordering of the grid's compositions up to ``max_sites`` sites; the enumeration
    is restricted to the grid's range of fractions per sublattice, and its cap applies."""
    spec = plan.spec.enumeration
    found = orderings.enumerate_orderings(
        plan.parent,
        plan.sublattices,
        max_sites=spec.max_sites,
        restrictions=_grid_ranges(plan.compositions),
        max_structures=spec.max_structures,
    )
    by_point: dict[str, list[orderings.Ordering]] = {}
    for ordering in found:
        by_point.setdefault(ordering.point.to_json(), []).append(ordering)
    for point in plan.compositions:
        composition = _composition_row(session, plan, campaign, point)
        for ordering in by_point.get(point.to_json(), []):
            origin = {
                "method": "enumerate",
                "index": ordering.index,
                "n_sites": ordering.n_sites,
                "max_sites": spec.max_sites,
            }
            row = ensure_structure(session, ordering.structure, "enumerated", origin)
            link_structure(session, campaign, row, "candidate", composition)
        session.commit()
        progress.advance("enumerate")


def _grid_ranges(points: tuple[CompositionPoint, ...]) -> dict[str, dict[str, tuple]]:
    """Per sublattice and species, the lowest and highest fraction over the grid."""
    ranges: dict[str, dict[str, tuple]] = {}
    names = {name for point in points for name in point.fractions}
    for name in names:
        species = {s for point in points for s in point.fractions.get(name, {})}
        ranges[name] = {
            s: (
                min(point.fractions.get(name, {}).get(s, 0) for point in points),
                max(point.fractions.get(name, {}).get(s, 0) for point in points),
            )
            for s in species
        }
    return ranges


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
