"""``screening import md``: an external trajectory (AIMD, classical MD) analysed like the
campaign's own runs and stored as an ``md_run`` of one of its candidate structures, marked
with its source label, then that label's Arrhenius rows refitted.

Which structure (``resolve_structure``): ``structure_id`` when given (it must be a candidate of
the campaign); else the candidates whose composition has the trajectory's reduced formula (or
``composition``, a formula). One such candidate is taken; of several orderings the one
that pymatgen's StructureMatcher matches to the first frame (supercells allowed); of several
matches, or none, the lowest-energy relaxed one (the ordering ``composition_summary``
reports); else the user must name it.

The row: ``job_id`` and ``potential_id`` NULL, ``source`` the label, ``thermostat`` and
``device`` 'external', ``stable`` true (the user vouches for the run), temperature the target
(``--temperature`` or TEBEG), else the mean kinetic temperature; numbers, trajectory and
analysis artifacts exactly as the md stage writes them. The same trajectory imported twice for
the same structure and label is refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from db import queries
from db.artifacts import ArtifactStore
from db.models import Campaign, MdRun
from screening.diffusion import DiffusionResult, FitWindowRule, analyze_diffusion
from screening.errors import ScreeningError
from screening.md import MDResult
from screening.stages.arrhenius import MLIP_SOURCE, update_arrhenius
from screening.stages.md import ARTIFACT_COLUMNS, analysis_npz, md_run_numbers
from screening.store import register_artifacts
from screening.structures import structure_from_json
from screening.trajectory import Trajectory
from screening.trajectory_io import LoadedTrajectory
from screening.user_analysis import require_species

if TYPE_CHECKING:
    from pymatgen.core import Structure

EXTERNAL = "external"
MAX_LABEL_LENGTH = 100  # md_run.source


@dataclass(frozen=True)
class ImportedRun:
    """What an import stored: the md_run, the structure and why it was chosen, the analysis,
    the run's temperature (K), the mobile ion's charge (e) and the Arrhenius rows written."""

    md_run_id: int
    structure_id: int
    chosen_by: str
    diffusion: DiffusionResult
    temperature_k: float
    charge: int
    arrhenius_rows: int


def import_md(
    session: Session,
    campaign_name: str,
    loaded: LoadedTrajectory,
    *,
    label: str,
    artifact_root: Path,
    species: str | None = None,
    charge: int | None = None,
    structure_id: int | None = None,
    composition: str | None = None,
    hop_length_ang: float = 2.5,
    rule: FitWindowRule | None = None,
) -> ImportedRun:
    """Analyse, store and refit (see the module docstring); commits. ScreeningError (or
    DatabaseError for an unknown campaign) names what is wrong."""
    _check_label(label)
    campaign = session.get_one(Campaign, queries.campaign_id(session, campaign_name))
    spec = json.loads(campaign.spec_json or "{}")
    species = species or spec.get("mobile_species")
    if not species:
        raise ScreeningError(f"campaign {campaign_name!r} names no mobile_species: pass --species")
    if charge is None:
        charge = abs((spec.get("oxidation_states") or {}).get(species, 1))
    trajectory = loaded.trajectory
    require_species(trajectory, species)
    temperature = _run_temperature(loaded)
    chosen, how = resolve_structure(session, campaign, trajectory, structure_id, composition)

    result = MDResult(
        trajectory=trajectory,
        stable=True,
        instability_reason=None,
        catastrophic_step=None,
        pre_failure=None,
        steps_done=(trajectory.n_frames - 1) * loaded.sample_every,
        wall_time_s=0.0,
    )
    store = ArtifactStore(artifact_root)
    trajectory_bytes = trajectory.to_npz_bytes()
    trajectory_sha = store.put(trajectory_bytes)
    earlier = session.scalar(
        select(MdRun.id).where(
            MdRun.structure_id == chosen,
            MdRun.source == label,
            MdRun.trajectory_sha256 == trajectory_sha,
        )
    )
    if earlier is not None:
        raise ScreeningError(
            f"this trajectory is already imported for structure {chosen} as {label!r} "
            f"(md_run {earlier})"
        )
    diffusion = analyze_diffusion(
        trajectory,
        species,
        charge=charge,
        hop_length_ang=hop_length_ang,
        rule=rule or FitWindowRule(),
    )
    analysis = analysis_npz(result, diffusion, species)
    artifacts = {
        "trajectory": (trajectory_sha, len(trajectory_bytes)),
        "md_analysis": (store.put(analysis), len(analysis)),
    }
    hashes = {ARTIFACT_COLUMNS[k]: sha for k, sha in register_artifacts(session, artifacts).items()}
    params = {
        "temperature_k": temperature,
        "timestep_fs": loaded.timestep_fs,
        "steps": result.steps_done,
        "thermostat": EXTERNAL,
        "mobile_species": species,
    }
    numbers = md_run_numbers(result, diffusion, _first_frame(trajectory), params, EXTERNAL)
    run = MdRun(
        job_id=None, structure_id=chosen, potential_id=None, source=label, **numbers, **hashes
    )
    session.add(run)
    session.flush()
    rows = update_arrhenius(session, campaign, source=label, charge=charge)  # commits
    return ImportedRun(run.id, chosen, how, diffusion, temperature, charge, rows)


def _check_label(label: str) -> None:
    if not label.strip() or label != label.strip():
        raise ScreeningError(f"--label must be a non-empty word like aimd-pbe, got {label!r}")
    if label == MLIP_SOURCE:
        raise ScreeningError(f"--label {MLIP_SOURCE!r} is reserved for the campaign's own runs")
    if len(label) > MAX_LABEL_LENGTH:
        raise ScreeningError(f"--label is longer than {MAX_LABEL_LENGTH} characters")


def _run_temperature(loaded: LoadedTrajectory) -> float:
    """The target temperature (K), else the mean kinetic one; ScreeningError if neither."""
    if loaded.target_temperature_k is not None:
        return loaded.target_temperature_k
    mean = float(np.mean(loaded.trajectory.temperatures_k))
    if not math.isfinite(mean) or mean <= 0:
        raise ScreeningError(
            "the trajectory carries no temperature (XDATCAR and LAMMPS dumps have none): "
            "pass --temperature K"
        )
    return mean


def _first_frame(trajectory: Trajectory) -> Structure:
    """The first frame as a pymatgen Structure (atom count, species, cell volume)."""
    from pymatgen.core import Lattice, Structure

    return Structure(
        Lattice(trajectory.cells_ang[0]),
        list(trajectory.symbols),
        trajectory.positions_ang[0],
        coords_are_cartesian=True,
    )


def resolve_structure(
    session: Session,
    campaign: Campaign,
    trajectory: Trajectory,
    structure_id: int | None,
    composition: str | None,
) -> tuple[int, str]:
    """The candidate structure the run belongs to and how it was chosen (module docstring)."""
    from pymatgen.core import Composition

    candidates = list(queries.candidate_structures(session, campaign.id))
    if structure_id is not None:
        if structure_id not in {c["structure_id"] for c in candidates}:
            raise ScreeningError(
                f"structure {structure_id} is not a candidate of campaign {campaign.name!r}"
            )
        return structure_id, "given"
    try:
        wanted = Composition(composition or "".join(trajectory.symbols)).reduced_composition
    except ValueError as err:
        raise ScreeningError(f"--composition {composition!r} is not a formula ({err})") from None
    same = [
        c for c in candidates if Composition(c["formula"]).reduced_composition.almost_equals(wanted)
    ]
    if not same:
        formulas = ", ".join(sorted({c["formula"] for c in candidates})) or "none"
        raise ScreeningError(
            f"campaign {campaign.name!r} has no {wanted.reduced_formula} structure (its "
            f"compositions: {formulas}); pass --composition or --structure-id"
        )
    if len(same) == 1:
        return same[0]["structure_id"], f"the campaign's only {same[0]['formula']} structure"
    matched = set(_matching(same, trajectory))
    pool = [c for c in same if c["structure_id"] in matched] or same
    if len(pool) == 1:
        return pool[0][
            "structure_id"
        ], f"the {pool[0]['formula']} ordering that matches the first frame"
    relaxed = [c for c in pool if c["energy_ev_atom"] is not None]
    if relaxed:
        lowest = min(relaxed, key=lambda c: c["energy_ev_atom"] or 0.0)
        return lowest["structure_id"], f"the lowest-energy {lowest['formula']} ordering"
    ids = ", ".join(str(c["structure_id"]) for c in pool)
    raise ScreeningError(
        f"{len(pool)} {pool[0]['formula']} structures fit the trajectory (ids {ids}) and none is "
        "relaxed yet: pass --structure-id"
    )


def _matching(candidates: list[dict[str, Any]], trajectory: Trajectory) -> list[int]:
    """Ids of the candidates that StructureMatcher (supercells allowed) maps onto frame 0."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(primitive_cell=False, attempt_supercell=True)
    frame = _first_frame(trajectory)
    return [
        c["structure_id"]
        for c in candidates
        if matcher.fit(structure_from_json(c["structure_json"]), frame)
    ]
