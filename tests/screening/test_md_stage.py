"""Stage md + arrhenius end to end: EMT liquid copper through the farm into PostgreSQL,
and a very short CHGNet MD on a Li conductor proving the real path works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from sqlalchemy import select
from sqlalchemy.orm import Session

from db import queries
from db.artifacts import ArtifactStore
from db.engine import make_engine
from db.migrate import ensure_schema
from db.models import Arrhenius, Job, MdRun
from screening.campaign import load_plan
from screening.driver import RunOptions, run_campaign
from screening.stages.md import md_params
from screening.trajectory import Trajectory

LIQUID_COPPER = """
name = "cu-liquid"
parent = "POSCAR"                   # 32 Cu at random: a liquid from the start
potential = "emt"
mobile_species = "Cu"
charge_balance = false

[sublattices.fcc]
replaces = "Cu"
species = ["Cu"]
step = 1.0

[relax]
fmax = 0.05
max_steps = 100

[md]
temperatures = [2800, 3200, 3600]   # K: liquid EMT copper
timestep_fs = 2.0
steps = 2000
equilibration_steps = 250
sample_every = 5
fit_min_start_ps = 0.5              # a liquid is diffusive after a few hundred fs
supercell_min_length = 6.0          # Å: the 32-atom cell (7.4 Å) as it is
"""

LI_CONDUCTOR = """
name = "li3incl6-md"
parent = "Li3InCl6"
potential = "chgnet"
mobile_species = "Li"
oxidation_states = { Li = 1, In = 3, Cl = -1 }

[sublattices.metal]
replaces = "In"
species = ["In"]
step = 1.0

[hull]
elemental_references = false

[relax]
max_steps = 20

[md]
temperatures = [600]
steps = 20
equilibration_steps = 5
sample_every = 5
supercell_min_length = 5.0
"""


def test_a_lower_fit_slope_bound_keys_md_jobs_only_when_set(tmp_path: Path) -> None:
    path = tmp_path / "li.toml"
    path.write_text(LI_CONDUCTOR)
    plan = load_plan(path)
    assert "fit_slope_min" not in md_params(plan, plan.spec.md, 600.0, 1)  # keys as before
    path.write_text(LI_CONDUCTOR + "fit_slope_min = 0.7\n")
    plan = load_plan(path)
    assert md_params(plan, plan.spec.md, 600.0, 1)["fit_slope_min"] == 0.7


def _random_copper(path: Path, n_atoms: int = 32, seed: int = 5) -> None:
    """Cu atoms placed at random (no two closer than 1.9 Å) at liquid density."""
    rng = np.random.default_rng(seed)
    a = (n_atoms * 12.5) ** (1 / 3)  # Å, 12.5 Å^3/atom
    points: list[np.ndarray] = []
    while len(points) < n_atoms:
        trial = rng.random(3) * a
        if all(np.linalg.norm((trial - q + a / 2) % a - a / 2) > 1.9 for q in points):
            points.append(trial)
    liquid = Structure(Lattice.cubic(a), ["Cu"] * n_atoms, points, coords_are_cartesian=True)
    liquid.to(filename=str(path), fmt="poscar")


@pytest.mark.postgres
@pytest.mark.slow
def test_emt_liquid_md_and_arrhenius_into_postgres(
    postgres_url: str, tmp_path: Path, farm_address: str
) -> None:
    _random_copper(tmp_path / "POSCAR")
    path = tmp_path / "cu.toml"
    path.write_text(LIQUID_COPPER)
    ensure_schema(postgres_url)
    engine = make_engine(postgres_url)
    store = tmp_path / "artifacts"
    summary = run_campaign(
        engine, load_plan(path), RunOptions(artifact_root=store, scheduler=farm_address)
    )
    assert summary.failed == 0
    with Session(engine) as session:
        runs = sorted(session.scalars(select(MdRun)), key=lambda r: r.temperature_k)
        fits = {a.direction: a for a in session.scalars(select(Arrhenius))}
        md_jobs = session.scalars(select(Job).where(Job.kind == "md")).all()
    assert [r.temperature_k for r in runs] == [2800, 3200, 3600]
    assert all(r.stable and r.diffusive for r in runs), [
        (r.temperature_k, r.instability_reason) for r in runs
    ]
    d = [r.d_cm2_s for r in runs]
    assert d[0] < d[2]  # thermally activated (the runs are reproducible from the seed)
    assert 3e-6 < d[0] < 3e-4  # cm²/s: liquid-metal self-diffusion, not a unit slip
    assert all(r.d_err_cm2_s < r.d_cm2_s for r in runs), [(r.d_cm2_s, r.d_err_cm2_s) for r in runs]
    assert {j.status for j in md_jobs} == {"done"} and len(md_jobs) == 3

    total = fits["total"]
    assert 0.05 < total.e_a_ev < 1.0 and total.e_a_err_ev is not None
    assert json.loads(total.temperatures_json) == [2800, 3200, 3600]

    trajectory = Trajectory.from_npz_bytes(ArtifactStore(store).get(runs[0].trajectory_sha256))
    assert trajectory.n_frames == 401 and trajectory.positions_ang.shape[1] == 32
    assert np.ptp(trajectory.times_ps) == pytest.approx(4.0)
    analysis = np.load(ArtifactStore(store).path(runs[0].analysis_sha256))
    assert {"msd_total_ang2", "msd_ab_ang2", "rdf_Cu_Cu_g", "density_per_ang3"} <= set(analysis)

    row = queries.composition_summary(engine, "cu-liquid")[0]
    assert row["e_a_ev"] == pytest.approx(total.e_a_ev)
    assert row["sigma_300k_ms_cm"] is not None and row["d_300k_cm2_s"] > 0
    with engine.connect() as connection:  # the rows the results' per-direction table prints
        listed = queries.transport_results(connection, "cu-liquid", ("c", "ab", "a"))
    assert [r["direction"] for r in listed] == ["c", "ab", "a"]
    assert [r["e_a_ev"] for r in listed] == [fits[k].e_a_ev for k in ("c", "ab", "a")]
    engine.dispose()


@pytest.mark.slow
def test_short_chgnet_md_on_li3incl6(migrated_url: str, tmp_path: Path, farm_address: str) -> None:
    path = tmp_path / "li.toml"
    path.write_text(LI_CONDUCTOR)
    engine = make_engine(migrated_url)
    store = tmp_path / "artifacts"
    summary = run_campaign(
        engine, load_plan(path), RunOptions(artifact_root=store, scheduler=farm_address)
    )
    assert summary.failed == 0
    with Session(engine) as session:
        run = session.scalars(select(MdRun)).one()
    assert run.n_atoms == 20 and run.n_mobile == 6 and run.steps_done == 25, run.instability_reason
    assert run.stable is not None and run.device == "cpu"
    trajectory = Trajectory.from_npz_bytes(ArtifactStore(store).get(run.trajectory_sha256))
    assert trajectory.n_frames == 5  # 20 production steps sampled every 5, t = 0 included
    engine.dispose()
