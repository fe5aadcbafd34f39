"""Stage ``md``: NVT MD of a relaxed candidate at one temperature, analysed on the worker.

A job per (structure, temperature) is created once the structure's relax job is done
(:func:`plan_md_jobs`); its input is that relaxation's final structure, repeated until
every width reaches ``supercell_min_length``. The worker writes the trajectory, the
analysis arrays and, for an unstable run, the frames before the catastrophic point to
the artifact store, and returns the numbers; the driver stores them as an ``md_run``.
A job given a ``job_id`` checkpoints every ``checkpoint_every`` steps to
``<artifact root>/checkpoints/md-job-<id>.npz``, so a retry after a kill (a batch queue's
walltime) continues from there; the checkpoint goes once the artifacts are written.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from db.artifacts import ArtifactStore
from db.models import Job, MdRun
from screening.atomic_file import checkpoint_path
from screening.campaign import CampaignPlan, MdSpec
from screening.diffusion import DiffusionResult, FitWindowRule, analyze_diffusion
from screening.md import MDResult, MDSettings, StabilityCriteria, run_md, supercell_for
from screening.md_checkpoint import CheckpointFile
from screening.potentials import calculator_for_task
from screening.stages.followups import wants_followup
from screening.store import ensure_job, register_artifacts
from screening.structure_analysis import partial_rdfs, probability_density
from screening.structures import structure_from_json

log = logging.getLogger(__name__)

DIRECTION_COLUMNS = ("a", "b", "c", "ab", "ac", "bc")
ARTIFACT_COLUMNS = {
    "trajectory": "trajectory_sha256",
    "md_analysis": "analysis_sha256",
    "pre_failure": "pre_failure_sha256",
}


def md_params(
    plan: CampaignPlan, md: MdSpec, temperature_k: float, relax_job_id: int
) -> dict[str, Any]:
    """The parameters of one md job (they also key it)."""
    oxidation = plan.oxidation_states or {}
    return {
        "relax_job_id": relax_job_id,
        "temperature_k": float(temperature_k),
        "timestep_fs": md.timestep_fs,
        "steps": md.steps,
        "equilibration_steps": md.equilibration_steps,
        "sample_every": md.sample_every,
        "thermostat": md.thermostat,
        "seed": md.seed,
        "supercell_min_length": md.supercell_min_length,
        "hop_length": md.hop_length,
        "fit_min_start_ps": md.fit_min_start_ps,
        "mobile_species": plan.spec.mobile_species,
        "charge": abs(oxidation.get(plan.spec.mobile_species, 1)),
        "stability": md.stability.model_dump(mode="json"),
    } | (
        # only when set: md jobs planned before this key keep their keys (params key a job)
        {"fit_slope_min": md.fit_slope_min} if md.fit_slope_min != FitWindowRule.slope_min else {}
    )


def plan_md_jobs(session: Session, plan: CampaignPlan, relax_job: Job) -> list[int]:
    """Create the md jobs of a done relax job's structure; return the ids still pending."""
    md = plan.spec.md
    if md is None or not md.enabled or not wants_followup(session, relax_job, md.compositions):
        return []
    jobs = [
        ensure_job(
            session,
            relax_job.structure_id,
            "md",
            md_params(plan, md, t, relax_job.id),
            relax_job.potential_id,
        )
        for t in sorted(md.temperatures, reverse=True)  # high T first: most informative
    ]
    return [job.id for job in jobs if job.status == "pending"]


def run_md_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker side: MD, analysis, artifacts written; plain numbers and hashes returned."""
    params = payload["params"]
    calculator, device = calculator_for_task(
        payload["potential"], payload.get("torch_threads"), need_stress=False
    )
    relaxed = structure_from_json(payload["structure_json"])
    cell = relaxed * supercell_for(relaxed, params["supercell_min_length"])
    stability = params["stability"]
    settings = MDSettings(
        temperature_k=params["temperature_k"],
        timestep_fs=params["timestep_fs"],
        steps=params["steps"],
        equilibration_steps=params["equilibration_steps"],
        sample_every=params["sample_every"],
        thermostat=params["thermostat"],
        seed=params["seed"],
        mobile_species=params["mobile_species"],
        stability=StabilityCriteria(
            temperature_window=tuple(stability["temperature_window"]),
            min_distance_ang=stability["min_distance"],
            framework_msd_max_ang2=stability["framework_msd_max"],
        ),
        checkpoint_every=payload.get("checkpoint_every", 0),
    )
    checkpoint = md_checkpoint_file(payload)
    result = run_md(cell, calculator, settings, checkpoint)
    store = ArtifactStore(payload["artifact_root"])
    artifacts: dict[str, tuple[str, int]] = {}

    def keep(kind: str, data: bytes) -> str:
        artifacts[kind] = (store.put(data), len(data))
        return artifacts[kind][0]

    keep("trajectory", result.trajectory.to_npz_bytes())
    if result.pre_failure is not None:
        keep("pre_failure", result.pre_failure.to_npz_bytes())
    diffusion = None
    if result.stable and result.trajectory.n_frames > 2:
        diffusion = analyze_diffusion(
            result.trajectory,
            params["mobile_species"],
            charge=params["charge"],
            hop_length_ang=params["hop_length"],
            rule=FitWindowRule(
                min_start_ps=params["fit_min_start_ps"],
                slope_min=params.get("fit_slope_min", FitWindowRule.slope_min),
            ),
        )
        keep("md_analysis", analysis_npz(result, diffusion, params["mobile_species"]))
    if checkpoint is not None:
        checkpoint.delete()
    numbers = md_run_numbers(result, diffusion, cell, params, device)
    return numbers | {"artifacts": artifacts, "resumed_from_step": result.resumed_from_step}


def md_checkpoint_file(payload: dict[str, Any]) -> CheckpointFile | None:
    """Where the job of this payload keeps its checkpoint (None without a job id)."""
    path = checkpoint_path(payload, "md", ".npz")
    return None if path is None else CheckpointFile(path)


def persist_md(session: Session, job: Job, result: dict[str, Any]) -> None:
    """Driver side: artifact rows and the md_run row that references them."""
    stored = register_artifacts(session, result.pop("artifacts"))
    resumed_from = result.pop("resumed_from_step", None)
    if resumed_from is not None:
        log.info("md job %d resumed from its checkpoint at step %d", job.id, resumed_from)
    hashes = {ARTIFACT_COLUMNS[kind]: sha for kind, sha in stored.items()}
    session.add(
        MdRun(
            job_id=job.id,
            structure_id=job.structure_id,
            potential_id=job.potential_id,
            **result,
            **hashes,
        )
    )


def md_run_numbers(
    result: MDResult,
    diffusion: DiffusionResult | None,
    cell: Any,
    params: dict[str, Any],
    device: str,
) -> dict[str, Any]:
    """The md_run columns of one run (also used by ``screening import md``)."""
    mobile = sum(1 for s in cell.species if str(s) == params["mobile_species"])
    numbers: dict[str, Any] = {
        "temperature_k": params["temperature_k"],
        "timestep_fs": params["timestep_fs"],
        "steps": params["steps"],
        "steps_done": result.steps_done,
        "thermostat": params["thermostat"],
        "n_atoms": len(cell),
        "n_mobile": mobile,
        "volume_ang3": float(cell.volume),
        "stable": result.stable,
        "instability_reason": result.instability_reason,
        "catastrophic_step": result.catastrophic_step,
        "diffusive": bool(diffusion and diffusion.diffusive),
        "wall_time_s": result.wall_time_s,
        "device": device,
    }
    if diffusion is None:
        return numbers
    directions = diffusion.d_axes_cm2_s | diffusion.d_planes_cm2_s
    errors = diffusion.d_axes_err_cm2_s | diffusion.d_planes_err_cm2_s
    for name in DIRECTION_COLUMNS:
        numbers[f"d_{name}_cm2_s"] = directions.get(name)
        numbers[f"d_{name}_err_cm2_s"] = errors.get(name)
    window = diffusion.window_ps or (None, None)
    return numbers | {
        "d_cm2_s": diffusion.d_cm2_s,
        "d_err_cm2_s": diffusion.d_err_cm2_s,
        "fit_start_ps": window[0],
        "fit_end_ps": window[1],
        "n_eff": diffusion.n_eff,
        "haven_ratio": diffusion.haven_ratio,
        "sigma_ms_cm": diffusion.sigma_ms_cm,
    }


def analysis_npz(result: MDResult, diffusion: DiffusionResult, species: str) -> bytes:
    """MSD curves (Å², lags in ps), partial RDFs and the mobile-ion density in one .npz."""
    arrays: dict[str, np.ndarray] = {"time_ps": diffusion.time_ps, "mscd_ang2": diffusion.mscd_ang2}
    for name, (curve, _) in diffusion.msd.named().items():
        arrays[f"msd_{name}_ang2"] = curve
    window = diffusion.window_ps
    arrays["fit_window_ps"] = np.array(window if window else (np.nan, np.nan))
    stride = max(1, result.trajectory.n_frames // 200)
    for (center, neighbor), rdf in partial_rdfs(result.trajectory, frame_stride=stride).items():
        arrays[f"rdf_{center}_{neighbor}_r_ang"] = rdf.r_ang
        arrays[f"rdf_{center}_{neighbor}_g"] = rdf.g
    density = probability_density(result.trajectory, species)
    arrays["density_per_ang3"] = density.values_per_ang3
    arrays["density_cell_ang"] = density.cell_ang
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
