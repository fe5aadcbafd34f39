"""SQS as several seeded runs per ordering, on a real LocalCluster and with a plain map."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.migrate import upgrade
from db.models import CampaignStructure, Composition, Structure
from enumerate import sqs
from enumerate.grid import formula_of
from screening.campaign import CampaignPlan, load_plan
from screening.clusters import ClusterSettings, make_cluster
from screening.driver import prepare_campaign
from screening.farm import map_ordered
from screening.progress import SilentProgress
from screening.structures import content_hash

RUNS, ORDERINGS, SEED, STEPS = 3, 2, 7, 200
CAMPAIGN = f"""
name = "cuau-sqs"
parent = "Cu-fcc"
supercell = [2, 2, 2]
potential = "emt"
charge_balance = false

[sublattices.fcc]
replaces = "Cu"
species = ["Cu", "Au"]
step = 0.25

[enumeration]
structures_per_composition = {ORDERINGS}
sqs_runs = {RUNS}
seed = {SEED}
sqs_steps = {STEPS}
"""
Payload = dict[str, Any]


@dataclass
class CountingMap:
    """A plain in-process map that records every payload it runs."""

    calls: list[Payload] = field(default_factory=list)

    def __call__(self, function: Callable, payloads: Iterable[Payload]) -> Iterator[Payload]:
        for payload in payloads:
            self.calls.append(payload)
            yield function(payload)


@dataclass(frozen=True)
class Enumerated:
    url: str
    origins: dict[str, dict[str, Any]]  # content hash -> origin, with the formula
    runs: int


def _enumerate(url: str, plan: CampaignPlan, map_tasks: Callable) -> dict[str, dict[str, Any]]:
    engine = make_engine(url)
    with Session(engine) as session:
        prepare_campaign(session, plan, SilentProgress(), map_tasks)
        rows = session.execute(
            select(Structure.content_hash, Structure.origin_json, Composition.formula)
            .join(CampaignStructure, CampaignStructure.structure_id == Structure.id)
            .join(Composition, Composition.id == CampaignStructure.composition_id)
        ).all()
    engine.dispose()
    return {digest: {**json.loads(origin), "formula": f} for digest, origin, f in rows}


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> CampaignPlan:
    path = tmp_path_factory.mktemp("campaign") / "cuau-sqs.toml"
    path.write_text(CAMPAIGN)
    return load_plan(path)


@pytest.fixture(scope="module")
def local(plan: CampaignPlan, tmp_path_factory: pytest.TempPathFactory) -> Enumerated:
    """The campaign enumerated once with a plain in-process map."""
    url = f"sqlite:///{tmp_path_factory.mktemp('local') / 'screening.db'}"
    upgrade(url)
    counting = CountingMap()
    return Enumerated(url, _enumerate(url, plan, counting), len(counting.calls))


def test_farm_runs_give_the_structures_of_a_plain_map(
    plan: CampaignPlan, local: Enumerated, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'farm.db'}"
    upgrade(url)
    with make_cluster(ClusterSettings(workers=2)) as (client, _):

        def on_farm(function: Callable, payloads: Iterable[Payload]) -> Iterator[Payload]:
            return map_ordered(client, function, payloads, window=4)  # fewer than the runs

        farmed = _enumerate(url, plan, on_farm)
    assert farmed == local.origins  # the same structures (content hashes), the same origins


def test_each_ordering_keeps_its_best_run(local: Enumerated) -> None:
    mixed = [o for o in local.origins.values() if o["formula"] not in ("Cu", "Au")]
    assert len(mixed) == 3 * ORDERINGS  # Cu3Au, CuAu, CuAu3: distinct orderings each
    assert local.runs == 3 * ORDERINGS * RUNS + 2  # a pure end member runs once
    for origin in mixed:
        k = origin["ordering"]
        assert origin["run_seeds"] == [SEED + k * RUNS + r for r in range(RUNS)]
        assert all(origin["objective"] <= x for x in origin["run_objectives"])
        best = origin["run_objectives"].index(origin["objective"])
        assert origin["seed"] == origin["run_seeds"][best]
        assert origin["n_steps"] == STEPS
    assert max(max(o["run_objectives"]) - o["objective"] for o in mixed) > 0.1  # runs differ
    pure = [o for o in local.origins.values() if o["formula"] in ("Cu", "Au")]
    assert [(o["run_seeds"], o["objective"], o["n_steps"]) for o in pure] == [([SEED], 0.0, 0)] * 2


def test_the_recorded_seed_reproduces_the_structure(plan: CampaignPlan, local: Enumerated) -> None:
    points = {formula_of(p, plan.parent, plan.sublattices): p for p in plan.compositions}
    first = [(h, o) for h, o in local.origins.items() if o["ordering"] == 0 and o["n_steps"]]
    assert len(first) == 3
    for digest, origin in first:
        again = sqs.generate_sqs(
            plan.supercell,
            plan.sublattices,
            points[origin["formula"]],
            seed=origin["seed"],
            n_steps=origin["n_steps"],
            pair_cutoff=plan.spec.enumeration.pair_cutoff,
        )
        assert content_hash(again.structure) == digest
        assert again.objective == origin["objective"]


def test_a_rerun_computes_and_adds_nothing(plan: CampaignPlan, local: Enumerated) -> None:
    counting = CountingMap()
    engine = make_engine(local.url)
    with Session(engine) as session:
        prepare_campaign(session, plan, SilentProgress(), counting)
        members = session.scalar(select(func.count()).select_from(CampaignStructure))
    engine.dispose()
    assert counting.calls == []
    assert members == len(local.origins) + 2  # the candidates and two elemental references
