"""Campaign-level step of method ce-mc: fit the cluster expansion, anneal, sample.

Once the farm has relaxed the training set (the enumerated orderings and the SQS of the
grid's compositions), the driver maps each candidate's lowest-energy relaxed structure onto
the parent lattice, fits with cross validation and stores the expansion (settings and ECIs
as JSON) with one ``ce_training`` row per structure, used or dropped with the reason. The
training energies are hashed with the settings, so the same data are fitted once.

Every mixed composition is then annealed in ``anneal_supercell`` and sampled by canonical
Monte Carlo (plain-data tasks through ``map_tasks``: the farm in a run). The configurations
become candidates of their composition, their origin naming the expansion; a composition
that already holds them for this expansion and supercell is skipped, and structures are
stored once (content hash), so a rerun adds nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    Campaign,
    CampaignStructure,
    ClusterExpansion,
    ClusterExpansionTraining,
    Composition,
    Job,
    Relaxation,
    Structure,
)
from enumerate import grid, monte_carlo
from enumerate.cluster_expansion import (
    ClusterExpansionModel,
    MappingLimits,
    fit_cluster_expansion,
    map_to_lattice,
)
from enumerate.placeholders import ParentLattice
from enumerate.space import CompositionPoint, Sublattice
from screening.campaign import CampaignPlan
from screening.enumeration import Payload, TaskMap
from screening.progress import Progress
from screening.store import ensure_composition, ensure_structure, link_structure
from screening.structures import structure_from_json, structure_to_json

ANNEAL = "ce-anneal"
SAMPLE = "ce-mc"
ORIGINS = (ANNEAL, SAMPLE)  # origin_kind of the structures this step makes


@dataclasses.dataclass(frozen=True)
class _Relaxed:
    """A candidate's lowest-energy done relaxation with the campaign's potential."""

    structure_id: int
    content_hash: str
    relaxation_id: int
    energy_ev_atom: float
    structure_json: str


@dataclasses.dataclass(frozen=True)
class _Run:
    """One Monte Carlo task: a composition, annealed or sampled."""

    composition: Composition
    point: CompositionPoint
    method: str


def update_cluster_expansion(
    session: Session,
    plan: CampaignPlan,
    campaign: Campaign,
    progress: Progress,
    map_tasks: TaskMap = map,
) -> ClusterExpansion:
    """Fit (or find) the campaign's expansion, then anneal and sample what is missing.

    Raises:
        ClusterExpansionError: too few training structures for the CV splits, or an
            annealing supercell too small for the cutoffs.
    """
    expansion = fit_campaign_expansion(session, plan, campaign)
    progress.note(
        f"cluster expansion {expansion.id}: CV RMSE {expansion.cv_rmse_mev_site:.2f} meV/site,"
        f" {expansion.n_structures_used} training structures used,"
        f" {expansion.n_structures_dropped} dropped"
    )
    sample_cluster_expansion(session, plan, campaign, expansion, progress, map_tasks)
    return expansion


def fit_campaign_expansion(
    session: Session, plan: CampaignPlan, campaign: Campaign
) -> ClusterExpansion:
    """The expansion of the current training data and settings: stored, else fitted and
    stored (committed) with its ``ce_training`` rows."""
    ce = plan.spec.enumeration.ce
    lattice = ParentLattice.from_parent(plan.parent, plan.sublattices)
    limits = MappingLimits(ce.max_displacement, ce.max_volumetric_strain, ce.max_anisotropic_strain)
    settings = {
        "lattice": lattice.to_dict(),
        "cutoffs_ang": list(ce.cutoffs),
        "fit_method": ce.fit_method,
        "n_splits": ce.cv_splits,
        "seed": plan.spec.enumeration.seed,
        "mapping_limits": dataclasses.asdict(limits),
    }
    training = _training_set(session, campaign)
    data = [(t.content_hash, round(t.energy_ev_atom, 8)) for t in training]
    digest = hashlib.sha256(
        json.dumps({"settings": settings, "training": data}, sort_keys=True).encode()
    ).hexdigest()
    found = session.scalar(
        select(ClusterExpansion).where(
            ClusterExpansion.campaign_id == campaign.id,
            ClusterExpansion.potential_id == campaign.potential_id,
            ClusterExpansion.training_sha256 == digest,
        )
    )
    if found is not None:
        return found
    relaxed = [(structure_from_json(t.structure_json), t.energy_ev_atom) for t in training]
    mapping = map_to_lattice(lattice, relaxed, limits)
    model = fit_cluster_expansion(
        lattice,
        mapping.kept,
        cutoffs_ang=ce.cutoffs,
        fit_method=ce.fit_method,
        n_splits=ce.cv_splits,
        seed=plan.spec.enumeration.seed,
    )
    expansion = ClusterExpansion(
        campaign_id=campaign.id,
        potential_id=campaign.potential_id,
        training_sha256=digest,
        settings_json=json.dumps(settings, sort_keys=True),
        ecis_json=json.dumps(list(model.ecis)),
        cv_rmse_mev_site=1e3 * model.cv_rmse_ev_site,
        train_rmse_mev_site=1e3 * model.train_rmse_ev_site,
        n_structures_used=len(mapping.kept),
        n_structures_dropped=len(mapping.dropped),
    )
    session.add(expansion)
    session.flush()
    records = [
        (
            kept.index,
            {
                "used": True,
                "energy_ev_site": kept.energy_ev_site,
                "max_displacement_ang": kept.max_displacement_ang,
                "volumetric_strain": kept.volumetric_strain,
            },
        )
        for kept in mapping.kept
    ] + [
        (dropped.index, {"used": False, "drop_reason": dropped.reason})
        for dropped in mapping.dropped
    ]
    session.add_all(
        ClusterExpansionTraining(
            cluster_expansion_id=expansion.id,
            structure_id=training[index].structure_id,
            relaxation_id=training[index].relaxation_id,
            **fields,
        )
        for index, fields in records
    )
    session.commit()
    return expansion


def stored_model(expansion: ClusterExpansion) -> ClusterExpansionModel:
    """The fitted model of a stored expansion, rebuilt from its JSON columns."""
    settings = json.loads(expansion.settings_json)
    return ClusterExpansionModel(
        lattice=ParentLattice.from_dict(settings["lattice"]),
        cutoffs_ang=tuple(settings["cutoffs_ang"]),
        ecis=tuple(json.loads(expansion.ecis_json)),
        cv_rmse_ev_site=expansion.cv_rmse_mev_site / 1e3,
        train_rmse_ev_site=expansion.train_rmse_mev_site / 1e3,
        n_structures=expansion.n_structures_used,
        fit_method=settings["fit_method"],
        n_splits=settings["n_splits"],
        seed=settings["seed"],
    )


def sample_cluster_expansion(
    session: Session,
    plan: CampaignPlan,
    campaign: Campaign,
    expansion: ClusterExpansion,
    progress: Progress,
    map_tasks: TaskMap = map,
) -> None:
    """Anneal and sample every mixed composition still lacking it (one commit per task)."""
    ce = plan.spec.enumeration.ce
    done = _sampled(session, campaign, expansion.id, list(ce.anneal_supercell))
    runs: list[_Run] = []
    for point in plan.compositions:
        if all(len(point.occupation(sl)) == 1 for sl in plan.sublattices):
            continue  # a pure composition has a single configuration
        formula = grid.formula_of(point, plan.parent, plan.sublattices)
        composition = ensure_composition(session, campaign, formula, point.to_json())
        for method, count in ((ANNEAL, 1), (SAMPLE, ce.mc_samples)):
            if any((composition.id, method, k) not in done for k in range(count)):
                runs.append(_Run(composition, point, method))
    session.commit()
    if not runs:
        return
    progress.start("ce-mc", len(runs))
    results = map_tasks(run_monte_carlo, _payloads(plan, expansion, runs))
    for run, result in zip(runs, results, strict=True):
        for k, found in enumerate(result["samples"]):
            origin = {
                "method": run.method,
                "cluster_expansion_id": expansion.id,
                "sample": k,
                "seed": found["seed"],
                "temperature_k": found["temperature_k"],
                "ce_energy_ev_site": found["energy_ev_site"],
                "step": found["step"],
                "supercell": list(ce.anneal_supercell),
            }
            row = ensure_structure(
                session, structure_from_json(found["structure_json"]), run.method, origin
            )
            link_structure(session, campaign, row, "candidate", run.composition)
        session.commit()
        progress.advance("ce-mc")


def run_monte_carlo(payload: Payload) -> Payload:
    """One composition annealed or sampled (a farm task): plain data in and out."""
    model = ClusterExpansionModel.from_dict(payload["model"])
    supercell = structure_from_json(payload["supercell_json"])
    sublattices = [Sublattice(**data) for data in payload["sublattices"]]
    point = CompositionPoint.from_json(payload["point_json"])
    options = payload["options"]
    if payload["method"] == ANNEAL:
        found = (monte_carlo.anneal(model, supercell, sublattices, point, **options),)
    else:
        found = monte_carlo.sample_canonical(model, supercell, sublattices, point, **options)
    return {
        "samples": [
            {
                "structure_json": structure_to_json(s.structure),
                "energy_ev_site": s.energy_ev_site,
                "temperature_k": s.temperature_k,
                "step": s.step,
                "seed": s.seed,
            }
            for s in found
        ]
    }


def _payloads(
    plan: CampaignPlan, expansion: ClusterExpansion, runs: list[_Run]
) -> Iterator[Payload]:
    spec = plan.spec.enumeration
    ce = spec.ce
    supercell = plan.parent.make_supercell(list(ce.anneal_supercell), in_place=False)
    common = {
        "model": stored_model(expansion).to_dict(),
        "supercell_json": structure_to_json(supercell),
        "sublattices": [dataclasses.asdict(sl) for sl in plan.sublattices],
    }
    options = {
        ANNEAL: {
            "seed": spec.seed,
            "n_steps": ce.anneal_steps,
            "t_start_k": ce.anneal_start_k,
            "t_stop_k": ce.anneal_stop_k,
        },
        SAMPLE: {
            "seed": spec.seed,
            "temperature_k": ce.mc_temperature_k,
            "n_samples": ce.mc_samples,
            "n_equilibration_steps": ce.mc_equilibration_steps,
            "sample_interval": ce.mc_interval,
        },
    }
    for run in runs:
        yield {
            **common,
            "method": run.method,
            "point_json": run.point.to_json(),
            "options": options[run.method],
        }


def _training_set(session: Session, campaign: Campaign) -> list[_Relaxed]:
    """The lowest-energy done relaxation of every candidate not made by this step."""
    rows = session.execute(
        select(
            Structure.id,
            Structure.content_hash,
            Relaxation.id,
            Relaxation.energy_ev_atom,
            Relaxation.final_structure_json,
        )
        .join(CampaignStructure, CampaignStructure.structure_id == Structure.id)
        .join(Relaxation, Relaxation.structure_id == Structure.id)
        .join(Job, Job.id == Relaxation.job_id)
        .where(
            CampaignStructure.campaign_id == campaign.id,
            CampaignStructure.role == "candidate",
            Structure.origin_kind.not_in(ORIGINS),
            Relaxation.potential_id == campaign.potential_id,
            Job.status == "done",
        )
        .order_by(Structure.content_hash, Relaxation.energy_ev_atom, Relaxation.id)
    )
    lowest: dict[int, _Relaxed] = {}
    for row in rows:
        lowest.setdefault(row[0], _Relaxed(*row))
    return list(lowest.values())


def _sampled(
    session: Session, campaign: Campaign, expansion_id: int, supercell: list[int]
) -> set[tuple[int, str, int]]:
    """(composition id, method, sample index) this expansion already gave the campaign."""
    rows = session.execute(
        select(CampaignStructure.composition_id, Structure.origin_kind, Structure.origin_json)
        .join(Structure, Structure.id == CampaignStructure.structure_id)
        .where(CampaignStructure.campaign_id == campaign.id, Structure.origin_kind.in_(ORIGINS))
    )
    done = set()
    for composition_id, kind, origin_json in rows:
        origin = json.loads(origin_json)
        if origin["cluster_expansion_id"] == expansion_id and origin["supercell"] == supercell:
            done.add((composition_id, kind, origin["sample"]))
    return done
