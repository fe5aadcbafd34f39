"""Stage ``relax``: relax a structure with the campaign's potential and store the result."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.models import Job, Relaxation
from screening.potentials import calculator_for_task
from screening.relax import RelaxSettings, relax_structure
from screening.structures import structure_from_json, structure_to_json


def run_relax(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker side: payload in, plain numbers and the relaxed structure out."""
    settings = RelaxSettings(**payload["params"])
    calculator, device = calculator_for_task(
        payload["potential"], payload.get("torch_threads"), need_stress=settings.relax_cell
    )
    result = relax_structure(structure_from_json(payload["structure_json"]), calculator, settings)
    lattice = result.lattice
    return {
        "energy_ev": result.energy_ev,
        "energy_ev_atom": result.energy_ev_atom,
        "a": lattice.a,
        "b": lattice.b,
        "c": lattice.c,
        "alpha": lattice.alpha,
        "beta": lattice.beta,
        "gamma": lattice.gamma,
        "volume_per_atom": lattice.volume_per_atom,
        "density_g_cm3": lattice.density_g_cm3,
        "max_force_ev_ang": result.max_force_ev_ang,
        "steps": result.steps,
        "converged": result.converged,
        "final_structure_json": structure_to_json(result.structure),
        "wall_time_s": result.wall_time_s,
        "device": device,
    }


def persist_relax(session: Session, job: Job, result: dict[str, Any]) -> None:
    """Driver side: one relaxation row for the job (the caller commits with the job)."""
    session.add(
        Relaxation(
            job_id=job.id, structure_id=job.structure_id, potential_id=job.potential_id, **result
        )
    )
