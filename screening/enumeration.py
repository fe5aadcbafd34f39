"""Write a campaign's compositions and structures into the database, idempotently.

``[enumeration] method``: ``sqs`` (``structures_per_composition`` orderings per composition
in the campaign's supercell, each the best of ``sqs_runs`` seeded SQS runs) or
``enumerate`` (every symmetry-distinct ordering of the grid's compositions in cells of up
to ``max_sites`` sites, each in its smallest cell) or ``ce-mc`` (both, as the training set
of a cluster expansion, origin ``ce-training``; ``screening.stages.cluster_expansion`` fits
it once they are relaxed).

The SQS runs go through a ``map_tasks`` callable with the signature and ordering of the
builtin :func:`map` (the default, in this process); the driver passes one that runs them
on the farm. :func:`run_sqs` is the task: a pure function of plain data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Campaign, CampaignStructure, Composition, Structure
from enumerate import grid, orderings, sqs
from enumerate.space import CompositionPoint, Sublattice
from screening.campaign import CampaignPlan
from screening.progress import Progress
from screening.store import ensure_composition, ensure_structure, link_structure
from screening.structures import structure_from_json, structure_to_json

TRAINING_ORIGIN = "ce-training"  # origin_kind of the training set of method ce-mc

Payload = dict[str, Any]
TaskFunction = Callable[[Payload], Payload]
TaskMap = Callable[[TaskFunction, Iterable[Payload]], Iterable[Payload]]
"""``map(function, payloads)``: the results in the order of the payloads."""


@dataclass(frozen=True)
class _Missing:
    """The orderings a composition still lacks, and the seeded runs behind each."""

    composition: Composition
    point: CompositionPoint
    orderings: tuple[int, ...]
    runs: int


@dataclass(frozen=True)
class CompositionCount:
    """One composition's candidates after enumeration, for the table the CLI prints.

    Objectives are icet SQS scores (lower is better): ``best_objective`` over the kept
    structures, ``worst_run_objective`` over every seeded run behind them; both None
    when no candidate came from SQS.
    """

    formula: str
    label: str
    n_structures: int
    n_sqs_runs: int
    best_objective: float | None
    worst_run_objective: float | None


def enumerate_campaign(
    session: Session,
    plan: CampaignPlan,
    campaign: Campaign,
    progress: Progress,
    map_tasks: TaskMap = map,
) -> None:
    """Generate the missing structures of every composition.

    SQS: ordering k of a composition runs ``sqs_runs`` seeds, ``seed + k * sqs_runs + r``
    for run r, and keeps the structure with the lowest objective; its origin records the
    seed, the objective, every run's seed and objective, and the Monte Carlo steps. A
    composition that already holds its orderings in the current supercell is skipped, so
    a rerun computes nothing; identical orderings (as in pure end members, which have one
    ordering and one run) are stored once.
    """
    method = plan.spec.enumeration.method
    progress.start("enumerate", len(plan.compositions) * (2 if method == "ce-mc" else 1))
    if method in ("enumerate", "ce-mc"):
        _link_orderings(session, plan, campaign, progress)
    if method in ("sqs", "ce-mc"):
        _link_sqs(session, plan, campaign, progress, map_tasks)


def _origin_kind(plan: CampaignPlan, kind: str) -> str:
    """``ce-training`` for the training set of method ce-mc (orderings and SQS), else ``kind``."""
    return TRAINING_ORIGIN if plan.spec.enumeration.method == "ce-mc" else kind


def run_sqs(payload: dict[str, Any]) -> dict[str, Any]:
    """One seeded SQS run (a farm task): plain data in (see :func:`_sqs_payloads`), out."""
    result = sqs.generate_sqs(
        structure_from_json(payload["supercell_json"]),
        [Sublattice(**data) for data in payload["sublattices"]],
        CompositionPoint.from_json(payload["point_json"]),
        seed=payload["seed"],
        n_steps=payload["n_steps"],
        pair_cutoff=payload["pair_cutoff"],
    )
    return {
        "structure_json": structure_to_json(result.structure),
        "objective": result.objective,
        "seed": result.seed,
        "n_steps": result.n_steps,
        "cutoffs": list(result.cutoffs),
    }


def composition_counts(session: Session, campaign: Campaign) -> list[CompositionCount]:
    """Per composition of the campaign (by formula): its candidates and SQS objectives."""
    rows = session.execute(
        select(
            Composition.id, Composition.formula, Composition.fractions_json, Structure.origin_json
        )
        .outerjoin(CampaignStructure, CampaignStructure.composition_id == Composition.id)
        .outerjoin(Structure, Structure.id == CampaignStructure.structure_id)
        .where(Composition.campaign_id == campaign.id)
        .order_by(Composition.formula, Composition.id)
    ).all()
    grouped: dict[int, tuple[str, str, list[dict[str, Any]]]] = {}
    for composition_id, formula, fractions_json, origin_json in rows:
        _, _, origins = grouped.setdefault(composition_id, (formula, fractions_json, []))
        if origin_json is not None:
            origins.append(json.loads(origin_json))
    return [_count(formula, fractions, origins) for formula, fractions, origins in grouped.values()]


def _count(formula: str, fractions_json: str, origins: list[dict[str, Any]]) -> CompositionCount:
    sqs_origins = [o for o in origins if o.get("method") == "sqs"]
    kept = [o["objective"] for o in sqs_origins]
    runs = [x for o in sqs_origins for x in o.get("run_objectives", [o["objective"]])]
    return CompositionCount(
        formula=formula,
        label=CompositionPoint.from_json(fractions_json).label(),
        n_structures=len(origins),
        n_sqs_runs=len(runs),
        best_objective=min(kept, default=None),
        worst_run_objective=max(runs, default=None),
    )


def _link_sqs(
    session: Session,
    plan: CampaignPlan,
    campaign: Campaign,
    progress: Progress,
    map_tasks: TaskMap,
) -> None:
    """Find what each composition lacks, run every missing SQS through ``map_tasks`` at
    once, and store the best run of each ordering, one commit per composition."""
    missing: list[_Missing] = []
    for point in plan.compositions:
        composition = _composition_row(session, plan, campaign, point)
        lacking = _missing_orderings(session, plan, campaign, composition, point)
        if lacking.orderings:
            missing.append(lacking)
        else:
            progress.advance("enumerate")
    session.commit()
    if not missing:
        return
    results = iter(map_tasks(run_sqs, _sqs_payloads(plan, missing)))
    for lacking in missing:
        for k in lacking.orderings:
            runs = [next(results) for _ in range(lacking.runs)]
            best = min(runs, key=lambda run: run["objective"])  # the first on a tie
            origin = {
                "method": "sqs",
                "ordering": k,
                "seed": best["seed"],
                "objective": best["objective"],
                "run_seeds": [run["seed"] for run in runs],
                "run_objectives": [run["objective"] for run in runs],
                "n_steps": best["n_steps"],
                "cutoffs": best["cutoffs"],
                "supercell": list(plan.spec.supercell),
            }
            structure = structure_from_json(best["structure_json"])
            row = ensure_structure(session, structure, _origin_kind(plan, "sqs"), origin)
            link_structure(session, campaign, row, "candidate", lacking.composition)
        session.commit()
        progress.advance("enumerate")


def _sqs_payloads(plan: CampaignPlan, missing: list[_Missing]) -> Iterator[dict[str, Any]]:
    """The runs' payloads in the order :func:`_link_sqs` reads the results, built lazily."""
    spec = plan.spec.enumeration
    supercell_json = structure_to_json(plan.supercell)
    sublattices = [_sublattice_data(sl) for sl in plan.sublattices]
    for lacking in missing:
        point_json = lacking.point.to_json()
        for k in lacking.orderings:
            for r in range(lacking.runs):
                yield {
                    "supercell_json": supercell_json,
                    "sublattices": sublattices,
                    "point_json": point_json,
                    "seed": spec.seed + k * spec.sqs_runs + r,
                    "n_steps": spec.sqs_steps,
                    "pair_cutoff": spec.pair_cutoff,
                }


def _sublattice_data(sublattice: Sublattice) -> dict[str, Any]:
    """Keyword arguments that rebuild ``sublattice``, fractions as exact strings."""
    points = sublattice.points
    return {
        "name": sublattice.name,
        "replaces": sublattice.replaces,
        "species": list(sublattice.species),
        "step": None if sublattice.step is None else str(sublattice.step),
        "points": None if points is None else [{s: str(f) for s, f in p.items()} for p in points],
        "follows": sublattice.follows,
    }


def _missing_orderings(
    session: Session,
    plan: CampaignPlan,
    campaign: Campaign,
    composition: Composition,
    point: CompositionPoint,
) -> _Missing:
    """Orderings not yet stored by SQS in the campaign's current supercell.

    A pure composition has a single ordering and needs a single run. Structures from an
    earlier supercell stay candidates but do not count: changing ``supercell`` in the
    campaign file generates new orderings on the next run.
    """
    spec = plan.spec.enumeration
    pure = all(len(point.occupation(sl)) == 1 for sl in plan.sublattices)
    wanted = 1 if pure else spec.structures_per_composition
    origins = [
        json.loads(text)
        for text in session.scalars(
            select(Structure.origin_json)
            .join(CampaignStructure, CampaignStructure.structure_id == Structure.id)
            .where(
                CampaignStructure.campaign_id == campaign.id,
                CampaignStructure.composition_id == composition.id,
            )
        )
    ]
    current = [
        o
        for o in origins
        if o.get("method") == "sqs" and o.get("supercell") == list(plan.spec.supercell)
    ]
    done = {o.get("ordering") for o in current}
    lacking = () if len(current) >= wanted else tuple(k for k in range(wanted) if k not in done)
    return _Missing(composition, point, lacking, 1 if pure else spec.sqs_runs)


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
            kind = _origin_kind(plan, "enumerated")
            row = ensure_structure(session, ordering.structure, kind, origin)
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
