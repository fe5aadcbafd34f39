"""Campaign-level step ``hull``: E_hull of every relaxed structure of one campaign.

It runs in the driver after the relaxations (milliseconds of pymatgen work) and replaces
the campaign's hull rows for its potential in one transaction, so it is always consistent
with the relaxations it saw. Unconverged relaxations take part (their energy is an upper
bound and they are flagged in the relaxation table).
"""

from __future__ import annotations

import json

from pymatgen.core import Composition
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.models import Campaign, CampaignStructure, Hull, Job, Relaxation, Structure
from screening.hull import HullEntry, HullPoint, compute_hull


def lowest_energies(session: Session, campaign: Campaign) -> dict[int, tuple[str, float]]:
    """structure id -> (reduced formula, lowest energy in eV/atom) over done relaxations."""
    rows = session.execute(
        select(Structure.id, Structure.formula, func.min(Relaxation.energy_ev_atom))
        .join(CampaignStructure, CampaignStructure.structure_id == Structure.id)
        .join(Relaxation, Relaxation.structure_id == Structure.id)
        .join(Job, Job.id == Relaxation.job_id)
        .where(
            CampaignStructure.campaign_id == campaign.id,
            Relaxation.potential_id == campaign.potential_id,
            Job.status == "done",
        )
        .group_by(Structure.id, Structure.formula)
    )
    return {sid: (formula, energy) for sid, formula, energy in rows}


def update_hull(session: Session, campaign: Campaign) -> list[HullPoint]:
    """Recompute and store E_hull for the campaign; raises HullError if it cannot."""
    energies = lowest_energies(session, campaign)
    entries = [
        HullEntry(sid, formula, energy * Composition(formula).num_atoms)
        for sid, (formula, energy) in energies.items()
    ]
    points = compute_hull(entries)
    session.execute(
        delete(Hull).where(
            Hull.campaign_id == campaign.id, Hull.potential_id == campaign.potential_id
        )
    )
    session.add_all(
        Hull(
            campaign_id=campaign.id,
            structure_id=point.key,
            potential_id=campaign.potential_id,
            e_hull_ev_atom=point.e_hull_ev_atom,
            e_form_ev_atom=point.e_form_ev_atom,
            decomposition_json=json.dumps(point.decomposition, sort_keys=True),
            is_stable=point.is_stable,
        )
        for point in points
    )
    session.commit()
    return points
