"""Partial campaigns (--max-structures, --only) and the order work is handed out in."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from db.models import CampaignStructure, Job
from screening.campaign import load_plan
from screening.cli import app
from screening.driver import RunOptions, run_campaign, work_order


def _relax_status(engine: Engine) -> dict[str, set[str]]:
    """role -> statuses of the relax jobs of that role's structures."""
    with Session(engine) as session:
        rows = session.execute(
            select(CampaignStructure.role, Job.status).join(
                Job, Job.structure_id == CampaignStructure.structure_id
            )
        ).all()
    statuses: dict[str, set[str]] = {}
    for role, status in rows:
        statuses.setdefault(role, set()).add(status)
    return statuses


def test_max_structures_computes_a_prefix_and_a_rerun_the_rest(
    engine: Engine, cuau_campaign, farm_address: str
) -> None:
    plan = load_plan(cuau_campaign())
    first = run_campaign(engine, plan, RunOptions(scheduler=farm_address, max_structures=2))
    with Session(engine) as session:
        done = session.scalars(select(Job.structure_id).where(Job.status == "done")).all()
        candidates = session.scalars(
            select(CampaignStructure.structure_id)
            .where(CampaignStructure.role == "candidate")
            .order_by(CampaignStructure.structure_id)
        ).all()
    assert first.done == 2 + 2  # two candidates and the Cu and Au references
    assert sorted(set(done) & set(candidates)) == candidates[:2]
    assert _relax_status(engine)["candidate"] == {"done", "pending"}

    rest = run_campaign(engine, plan, RunOptions(scheduler=farm_address))
    assert rest.done == len(candidates) - 2 and rest.already_done == 4
    assert _relax_status(engine) == {"candidate": {"done"}, "reference": {"done"}}


def test_only_leaves_other_stages_pending(engine: Engine, cuau_campaign, farm_address: str) -> None:
    result = run_campaign(
        engine,
        load_plan(cuau_campaign()),
        RunOptions(scheduler=farm_address, only=frozenset({"md"})),
    )
    assert result.done == 0
    assert _relax_status(engine) == {"candidate": {"pending"}, "reference": {"pending"}}


def test_unknown_stage_in_only_is_a_one_line_error(tmp_path, cuau_campaign) -> None:
    url = f"sqlite:///{tmp_path / 'only.db'}"
    result = CliRunner().invoke(
        app, ["run", str(cuau_campaign()), "--database", url, "--only", "relax,mdd"]
    )
    assert result.exit_code == 2
    assert "--only: unknown stage" in result.output and "'mdd'" in result.output


def test_relaxations_first_then_neb_then_md_from_the_highest_temperature() -> None:
    jobs = [
        ("md", {"temperature_k": 600.0}),
        ("neb", {}),
        ("relax", {}),
        ("md", {"temperature_k": 1000.0}),
        ("md", {"temperature_k": 800.0}),
    ]
    order = sorted(jobs, key=lambda job: work_order(*job))
    assert [(kind, params.get("temperature_k")) for kind, params in order] == [
        ("relax", None),
        ("neb", None),
        ("md", 1000.0),
        ("md", 800.0),
        ("md", 600.0),
    ]
