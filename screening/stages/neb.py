"""Stage ``neb``: migration barriers of a relaxed candidate's mobile ion, and percolation.

One job per structure, created once its relax job is done (:func:`plan_neb_jobs`); its
input is that relaxation's final structure. The worker finds the hop classes
(:func:`screening.hops.find_hops`, capped at ``max_hops``), runs a climbing-image band for
each in a supercell at least ``supercell_min_length`` wide, and computes the 1D/2D/3D
percolating barriers over the converged bands (an unconverged band is stored, flagged, and
left out of the network). The energy profiles go to the artifact store as one .npz.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from db.artifacts import ArtifactStore
from db.models import Job, NebHop, NebRun
from screening.campaign import CampaignPlan, NebSpec
from screening.hops import HopClass, HopSettings, find_hops
from screening.neb import NEBResult, NEBSettings, run_neb
from screening.percolation import hop_edges, percolating_barriers
from screening.potentials import calculator_for_task
from screening.stages.followups import wants_followup
from screening.store import ensure_job, register_artifacts
from screening.structures import structure_from_json


def neb_params(plan: CampaignPlan, neb: NebSpec, relax_job_id: int) -> dict[str, Any]:
    """The parameters of one neb job (they also key it)."""
    return {
        "relax_job_id": relax_job_id,
        "mobile_species": plan.spec.mobile_species,
        "mechanism": neb.mechanism,
        "cutoff": neb.cutoff,
        "images": neb.images,
        "fmax": neb.fmax,
        "max_steps": neb.max_steps,
        "supercell_min_length": neb.supercell_min_length,
        "max_hops": neb.max_hops,
    }


def plan_neb_jobs(session: Session, plan: CampaignPlan, relax_job: Job) -> list[int]:
    """Create the neb job of a done relax job's structure; return its id while pending."""
    neb = plan.spec.neb
    if neb is None or not neb.enabled or not wants_followup(session, relax_job, neb.compositions):
        return []
    job = ensure_job(
        session,
        relax_job.structure_id,
        "neb",
        neb_params(plan, neb, relax_job.id),
        relax_job.potential_id,
    )
    return [job.id] if job.status == "pending" else []


def run_neb_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker side: hops, bands, percolation; profiles written; plain numbers returned."""
    params = payload["params"]
    calculator, device = calculator_for_task(
        payload["potential"], payload.get("torch_threads"), need_stress=False
    )
    relaxed = structure_from_json(payload["structure_json"])
    hop_set = find_hops(
        relaxed,
        HopSettings(
            mobile_species=params["mobile_species"],
            cutoff_ang=params["cutoff"],
            max_hops=params["max_hops"],
        ),
    )
    settings = NEBSettings(
        images=params["images"],
        fmax=params["fmax"],
        max_steps=params["max_steps"],
        supercell_min_length_ang=params["supercell_min_length"],
    )
    bands = [
        (hop, run_neb(relaxed, hop.representative, calculator, settings)) for hop in hop_set.classes
    ]
    converged = {hop.index: band.barrier_ev for hop, band in bands if band.converged}
    percolation = percolating_barriers(hop_edges(hop_set, converged))
    artifacts = {}
    if bands:
        data = _profiles_npz(bands)
        artifacts["neb_profiles"] = (ArtifactStore(payload["artifact_root"]).put(data), len(data))
    return {
        "run": {
            "mechanism": params["mechanism"],
            "cutoff_ang": params["cutoff"],
            "spacegroup": hop_set.spacegroup,
            "grouping": hop_set.grouping,
            "n_symmetry_classes": hop_set.n_symmetry_classes,
            "n_hops_computed": len(bands),
            "skipped_json": json.dumps([_class_summary(hop) for hop in hop_set.skipped]),
            "barrier_1d_ev": percolation.barrier_1d_ev,
            "barrier_2d_ev": percolation.barrier_2d_ev,
            "barrier_3d_ev": percolation.barrier_3d_ev,
            "wall_time_s": sum(band.wall_time_s for _, band in bands),
            "device": device,
        },
        "hops": [_hop_row(hop, band) for hop, band in bands],
        "artifacts": artifacts,
    }


def persist_neb(session: Session, job: Job, result: dict[str, Any]) -> None:
    """Driver side: the profiles artifact, the neb_run row and one neb_hop row per band."""
    stored = register_artifacts(session, result["artifacts"])
    run = NebRun(
        job_id=job.id,
        structure_id=job.structure_id,
        potential_id=job.potential_id,
        profiles_sha256=stored.get("neb_profiles"),
        **result["run"],
    )
    run.hops = [NebHop(**row) for row in result["hops"]]
    session.add(run)


def _class_summary(hop: HopClass) -> dict[str, Any]:
    return {
        "index": hop.index,
        "length_ang": hop.length_ang,
        "multiplicity": hop.multiplicity,
        "n_members": len(hop.members),
        "environment": hop.environment,
    }


def _hop_row(hop: HopClass, band: NEBResult) -> dict[str, Any]:
    representative = hop.representative
    return {
        "hop_index": hop.index,
        "start_site": representative.start,
        "end_site": representative.end,
        "image_json": json.dumps(list(representative.image)),
        "length_ang": band.hop_length_ang,
        "multiplicity": hop.multiplicity,
        "n_members": len(hop.members),
        "environment": hop.environment,
        "forward_barrier_ev": band.forward_barrier_ev,
        "reverse_barrier_ev": band.reverse_barrier_ev,
        "converged": band.converged,
        "endpoints_converged": band.endpoints_converged,
        "max_force_ev_ang": band.max_force_ev_ang,
        "steps": band.steps,
        "force_calls": band.force_calls,
        "n_atoms": band.n_atoms,
        "wall_time_s": band.wall_time_s,
    }


def _profiles_npz(bands: list[tuple[HopClass, NEBResult]]) -> bytes:
    """Per hop class i: hop<i>_coordinate_ang (path length, Å) and hop<i>_energy_ev
    (relative to the initial endpoint)."""
    arrays: dict[str, np.ndarray] = {}
    for hop, band in bands:
        arrays[f"hop{hop.index}_coordinate_ang"] = band.reaction_coordinate_ang
        arrays[f"hop{hop.index}_energy_ev"] = band.energy_profile_ev
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
