"""[enumeration] method = "enumerate": every symmetry-distinct ordering of the grid's
compositions written as candidates, restricted to the grid, with the cap enforced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import CampaignStructure, Composition, Structure
from enumerate.errors import TooManyOrderingsError
from screening.campaign import load_plan
from screening.driver import prepare_campaign
from screening.progress import SilentProgress

CU_AU = """
name = "cuau-enum"
parent = "Cu-fcc"
potential = "emt"
charge_balance = false

[sublattices.fcc]
replaces = "Cu"
species = ["Au", "Cu"]
points = [{ Cu = 1.0 }, { Au = 0.5, Cu = 0.5 }]

[enumeration]
method = "enumerate"
max_sites = 4
"""


def _orderings_per_formula(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Composition.formula, Structure.origin_json)
        .join(CampaignStructure, CampaignStructure.composition_id == Composition.id)
        .join(Structure, Structure.id == CampaignStructure.structure_id)
    ).all()
    counts: dict[str, int] = {}
    for formula, origin in rows:
        assert json.loads(origin)["method"] == "enumerate"
        counts[formula] = counts.get(formula, 0) + 1
    return counts


def test_enumerated_orderings_become_candidates(migrated_url: str, tmp_path: Path) -> None:
    path = tmp_path / "cuau.toml"
    path.write_text(CU_AU)
    plan = load_plan(path)
    engine = make_engine(migrated_url)
    with Session(engine) as session:
        prepare_campaign(session, plan, SilentProgress())
        # fcc at Au = 1/2: the 2 two-site orderings (L1_0, L1_1) and 5 four-site ones
        assert _orderings_per_formula(session) == {"Cu": 1, "CuAu": 7}
        prepare_campaign(session, plan, SilentProgress())  # a rerun adds nothing
        assert _orderings_per_formula(session) == {"Cu": 1, "CuAu": 7}
    engine.dispose()


def test_the_cap_names_the_count(tmp_path: Path, migrated_url: str) -> None:
    path = tmp_path / "cuau.toml"
    path.write_text(CU_AU.replace("max_sites = 4", "max_sites = 8\nmax_structures = 20"))
    engine = make_engine(migrated_url)
    with Session(engine) as session, pytest.raises(TooManyOrderingsError, match="lower max_sites"):
        prepare_campaign(session, load_plan(path), SilentProgress())
    engine.dispose()
