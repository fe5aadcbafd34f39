"""Stage ``neb``: migration barriers of a relaxed candidate's mobile ion, and percolation.

One job per structure, created once its relax job is done (:func:`plan_neb_jobs`); its
input is that relaxation's final structure. The worker finds the hop classes, capped at
``max_hops``: between the mobile ions' sites (vacancy mechanism,
:func:`screening.hops.find_hops`) or between the interstitial sites of
:func:`screening.interstitials.find_interstitials` (interstitial mechanism, one ion added;
a hop's start and end sites then index the artifact's ``interstitial_frac_coords``). It
runs a climbing-image band for each in a supercell at least ``supercell_min_length`` wide
and computes the 1D/2D/3D percolating barriers, each hop's saddle counted from the lowest
endpoint of all bands, over the bands that converged with endpoints that stayed put (the
others are stored, flagged, and left out of the network). The energy profiles go to the
artifact store as one .npz. A job given a ``job_id`` writes its finished bands to
``<artifact root>/checkpoints/neb-job-<id>.json`` after each one
(:mod:`screening.neb_checkpoint`), and a retry computes only the bands still missing.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import numpy as np
from pymatgen.core import Structure
from sqlalchemy.orm import Session

from db.artifacts import ArtifactStore
from db.models import Job, NebHop, NebRun
from screening.atomic_file import checkpoint_path
from screening.campaign import CampaignPlan, NebSpec
from screening.hops import (
    Hop,
    HopClass,
    HopSet,
    HopSettings,
    InterstitialHop,
    find_hops,
    find_site_hops,
)
from screening.interstitials import InterstitialSettings, InterstitialSites, find_interstitials
from screening.neb import NEBResult, NEBSettings, barriers_above_lowest_site, run_neb
from screening.neb_checkpoint import NebCheckpointFile, neb_fingerprint
from screening.percolation import hop_edges, percolating_barriers
from screening.potentials import calculator_for_task
from screening.stages.followups import wants_followup
from screening.store import ensure_job, register_artifacts
from screening.structures import structure_from_json

log = logging.getLogger(__name__)


def neb_params(plan: CampaignPlan, neb: NebSpec, relax_job_id: int) -> dict[str, Any]:
    """The parameters of one neb job (they also key it)."""
    params = {
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
    if neb.mechanism == "interstitial":
        params["interstitial_min_distance"] = neb.interstitial_min_distance
    return params


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
    hop_set, hops, sites = _hops(relaxed, params)
    settings = NEBSettings(
        images=params["images"],
        fmax=params["fmax"],
        max_steps=params["max_steps"],
        supercell_min_length_ang=params["supercell_min_length"],
    )
    checkpoint = neb_checkpoint_file(payload)
    finished = checkpoint.load() if checkpoint is not None else []
    bands: list[tuple[HopClass, NEBResult]] = []
    for hop_class, hop in zip(hop_set.classes, hops, strict=True):
        if len(bands) < len(finished):
            bands.append((hop_class, finished[len(bands)]))
            continue
        bands.append((hop_class, run_neb(relaxed, hop, calculator, settings)))
        if checkpoint is not None:
            checkpoint.save([band for _, band in bands])
    usable = {hop.index: band for hop, band in bands if band.converged and band.endpoints_held}
    percolation = percolating_barriers(hop_edges(hop_set, barriers_above_lowest_site(usable)))
    artifacts = {}
    if bands:
        data = _profiles_npz(bands, sites)
        artifacts["neb_profiles"] = (ArtifactStore(payload["artifact_root"]).put(data), len(data))
    if checkpoint is not None:
        checkpoint.delete()
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
        "resumed_bands": len(finished),
    }


def neb_checkpoint_file(payload: dict[str, Any]) -> NebCheckpointFile | None:
    """Where the job of this payload keeps its finished bands (None without a job id)."""
    path = checkpoint_path(payload, "neb", ".json")
    if path is None:
        return None
    return NebCheckpointFile(path, neb_fingerprint(payload["params"], payload["structure_json"]))


def persist_neb(session: Session, job: Job, result: dict[str, Any]) -> None:
    """Driver side: the profiles artifact, the neb_run row and one neb_hop row per band."""
    stored = register_artifacts(session, result["artifacts"])
    if result.get("resumed_bands"):
        log.info(
            "neb job %d resumed with %d bands from its checkpoint", job.id, result["resumed_bands"]
        )
    run = NebRun(
        job_id=job.id,
        structure_id=job.structure_id,
        potential_id=job.potential_id,
        profiles_sha256=stored.get("neb_profiles"),
        **result["run"],
    )
    run.hops = [NebHop(**row) for row in result["hops"]]
    session.add(run)


def _hops(
    relaxed: Structure, params: dict[str, Any]
) -> tuple[HopSet, list[Hop | InterstitialHop], InterstitialSites | None]:
    """The hop classes of the job's mechanism, the hop each band runs, and the
    interstitial sites (None for the vacancy mechanism)."""
    settings = HopSettings(
        mobile_species=params["mobile_species"],
        cutoff_ang=params["cutoff"],
        max_hops=params["max_hops"],
    )
    if params["mechanism"] == "vacancy":
        hop_set = find_hops(relaxed, settings)
        return hop_set, [hop.representative for hop in hop_set.classes], None
    sites = find_interstitials(
        relaxed, InterstitialSettings(min_distance_ang=params["interstitial_min_distance"])
    )
    hop_set = find_site_hops(relaxed, sites.frac_coords, settings)
    hops: list[Hop | InterstitialHop] = [
        InterstitialHop.from_hop(hop.representative, sites.frac_coords, params["mobile_species"])
        for hop in hop_set.classes
    ]
    return hop_set, hops, sites


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


def _profiles_npz(
    bands: list[tuple[HopClass, NEBResult]], sites: InterstitialSites | None
) -> bytes:
    """Per hop class i: hop<i>_coordinate_ang (path length, Å), hop<i>_energy_ev (relative
    to the initial endpoint) and hop<i>_endpoint_shift_ang (farthest an atom moved in the
    endpoint relaxations); with interstitial sites, interstitial_frac_coords (n x 3, the
    rows hops start and end on), interstitial_class and interstitial_distance_ang (to the
    nearest atom, per class)."""
    arrays: dict[str, np.ndarray] = {}
    for hop, band in bands:
        arrays[f"hop{hop.index}_coordinate_ang"] = band.reaction_coordinate_ang
        arrays[f"hop{hop.index}_energy_ev"] = band.energy_profile_ev
        arrays[f"hop{hop.index}_endpoint_shift_ang"] = np.array(band.endpoint_shift_ang)
    if sites is not None:
        arrays["interstitial_frac_coords"] = sites.frac_coords
        arrays["interstitial_class"] = sites.site_class
        arrays["interstitial_distance_ang"] = np.array([s.distance_ang for s in sites.sites])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
