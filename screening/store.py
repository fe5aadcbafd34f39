"""Get-or-create writes the driver makes: potentials, campaigns, structures, jobs.

Every function is idempotent (unique keys: potential spec + weights hash, campaign name,
structure content hash, job structure + kind + parameters hash + potential), so running
a campaign twice writes nothing twice. Callers own the transaction.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pymatgen.core import Structure as PmgStructure
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    Artifact,
    Campaign,
    CampaignStructure,
    Composition,
    Job,
    Potential,
    Structure,
)
from screening.potentials import PotentialSpec, weights_sha256
from screening.structures import content_hash, structure_to_json


def params_hash(params: dict[str, Any]) -> str:
    """SHA-256 of a job's parameters in canonical JSON."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def ensure_potential(session: Session, spec: PotentialSpec) -> Potential:
    sha = weights_sha256(spec)
    found = session.scalar(
        select(Potential).where(Potential.spec == str(spec), Potential.weights_sha256 == sha)
    )
    if found:
        return found
    name = spec.name
    if session.scalar(select(Potential.id).where(Potential.name == name)) is not None:
        name = f"{name}-{sha[:8]}"
    potential = Potential(name=name, spec=str(spec), weights_sha256=sha)
    session.add(potential)
    session.flush()
    return potential


def ensure_campaign(session: Session, name: str, spec_json: str, potential: Potential) -> Campaign:
    """The campaign row, created or updated to the current spec and potential."""
    campaign = session.scalar(select(Campaign).where(Campaign.name == name))
    if campaign is None:
        campaign = Campaign(name=name, spec_json=spec_json, potential_id=potential.id)
        session.add(campaign)
    else:
        campaign.spec_json = spec_json
        campaign.potential_id = potential.id
    session.flush()
    return campaign


def ensure_composition(
    session: Session, campaign: Campaign, formula: str, fractions_json: str
) -> Composition:
    found = session.scalar(
        select(Composition).where(
            Composition.campaign_id == campaign.id, Composition.fractions_json == fractions_json
        )
    )
    if found:
        return found
    composition = Composition(
        campaign_id=campaign.id, formula=formula, fractions_json=fractions_json
    )
    session.add(composition)
    session.flush()
    return composition


def ensure_structure(
    session: Session, structure: PmgStructure, origin_kind: str, origin: dict[str, Any]
) -> Structure:
    """The stored row of a structure (by content hash), inserted if new."""
    digest = content_hash(structure)
    found = session.scalar(select(Structure).where(Structure.content_hash == digest))
    if found:
        return found
    row = Structure(
        content_hash=digest,
        formula=structure.composition.reduced_formula,
        n_atoms=len(structure),
        origin_kind=origin_kind,
        origin_json=json.dumps(origin, sort_keys=True),
        structure_json=structure_to_json(structure),
    )
    session.add(row)
    session.flush()
    return row


def link_structure(
    session: Session,
    campaign: Campaign,
    structure: Structure,
    role: str,
    composition: Composition | None = None,
) -> None:
    key = (campaign.id, structure.id)
    if session.get(CampaignStructure, key) is None:
        session.add(
            CampaignStructure(
                campaign_id=campaign.id,
                structure_id=structure.id,
                composition_id=composition.id if composition else None,
                role=role,
            )
        )
        session.flush()


def ensure_job(
    session: Session, structure_id: int, kind: str, params: dict[str, Any], potential_id: int
) -> Job:
    digest = params_hash(params)
    found = session.scalar(
        select(Job).where(
            Job.structure_id == structure_id,
            Job.kind == kind,
            Job.params_hash == digest,
            Job.potential_id == potential_id,
        )
    )
    if found:
        return found
    job = Job(
        structure_id=structure_id,
        kind=kind,
        params_hash=digest,
        params_json=json.dumps(params, sort_keys=True),
        potential_id=potential_id,
        status="pending",
        attempts=0,
    )
    session.add(job)
    session.flush()
    return job


def register_artifacts(session: Session, artifacts: dict[str, tuple[str, int]]) -> dict[str, str]:
    """Rows for artifacts a worker wrote (kind -> (sha256, bytes)); return kind -> sha256."""
    for kind, (sha, size) in artifacts.items():
        if session.get(Artifact, sha) is None:
            session.add(Artifact(sha256=sha, kind=kind, size_bytes=size))
    session.flush()
    return {kind: sha for kind, (sha, _) in artifacts.items()}
