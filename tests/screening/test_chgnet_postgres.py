"""The real path: a tiny LIYBC campaign relaxed with CHGNet on a LocalCluster into PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db import queries
from db.engine import make_engine
from db.migrate import ensure_schema
from db.models import Potential, Relaxation
from screening.campaign import load_plan
from screening.driver import RunOptions, run_campaign
from screening.potentials import PotentialSpec, weights_sha256

CAMPAIGN = """
name = "liybc-tiny"
parent = "Li3InCl6"
potential = "chgnet"
oxidation_states = { Li = 1, In = 3, Y = 3, Cl = -1, Br = -1 }

[sublattices.metal]
replaces = "In"
species = ["In", "Y"]
points = [{ In = 0.5, Y = 0.5 }]

[sublattices.halide]
replaces = "Cl"
species = ["Br", "Cl"]
points = [{ Cl = 1.0 }, { Br = 0.5, Cl = 0.5 }]

[relax]
fmax = 0.1
max_steps = 40
"""


@pytest.mark.postgres
@pytest.mark.slow
def test_chgnet_campaign_into_postgres(
    postgres_url: str, tmp_path: Path, farm_address: str
) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(CAMPAIGN)
    ensure_schema(postgres_url)
    engine = make_engine(postgres_url)
    summary = run_campaign(engine, load_plan(path), RunOptions(scheduler=farm_address))

    # 2 SQS candidates + references Li, In, Y, Br, Cl
    assert summary.failed == 0 and summary.done == 7
    assert summary.hull_error is None
    rows = queries.composition_summary(engine, "liybc-tiny")
    assert sorted(r["formula"] for r in rows) == ["Li6YIn(BrCl)6", "Li6YInCl12"]
    for row in rows:
        assert row["n_structures"] == 1
        assert row["potential"] == "chgnet-0.3.0"
        assert -6.0 < row["energy_ev_atom"] < -2.0  # eV/atom: a bound halide, not garbage
        assert 6.0 < row["a"] < 7.5 and 10.5 < row["b"] < 12.5  # Å, the C2/m cell kept
        assert row["e_hull_ev_atom"] is not None and row["is_stable"] is not None
        assert row["e_a_ev"] is None  # transport columns stay NULL until MD lands
    bromide = next(r for r in rows if "Br" in r["formula"])
    chloride = next(r for r in rows if "Br" not in r["formula"])
    assert bromide["volume_per_atom"] > chloride["volume_per_atom"]  # Br is larger than Cl
    with Session(engine) as session:
        potential = session.scalars(select(Potential)).one()
        assert potential.weights_sha256 == weights_sha256(PotentialSpec.parse("chgnet"))
        assert {r.device for r in session.scalars(select(Relaxation))} == {"cpu"}
    engine.dispose()
