"""Stage neb end to end: vacancy migration in EMT copper through the farm into the database,
with its percolating barrier in composition_summary; the worker side of the interstitial
mechanism (H in copper); and the [neb] table's validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.mep import NEB
from ase.optimize import FIRE
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from db import queries
from db.artifacts import ArtifactStore
from db.engine import make_engine
from db.migrate import ensure_schema
from db.models import Job, NebRun, Relaxation
from screening.campaign import load_plan
from screening.driver import RunOptions, run_campaign
from screening.errors import CampaignError
from screening.report import print_results
from screening.stages.neb import neb_params, run_neb_task
from screening.structures import structure_to_json, to_structure

COPPER_NEB = """
name = "cu-neb"
parent = "Cu-fcc"
potential = "emt"
mobile_species = "Cu"
charge_balance = false

[sublattices.fcc]
replaces = "Cu"
species = ["Cu"]
step = 1.0

[relax]
fmax = 0.01

[neb]
cutoff = 3.0                # Å: nearest neighbours only (2.55 Å in EMT Cu)
images = 3
fmax = 0.03
supercell_min_length = 7.0  # Å: the 32-atom 2x2x2 cell
"""


def _direct_ase_barrier(a_ang: float) -> float:
    """The same hop by hand: nearest-neighbour vacancy jump in a 2x2x2 fcc cell."""
    cell = bulk("Cu", "fcc", a=a_ang, cubic=True).repeat(2)
    target = cell.positions[1].copy()  # a nearest neighbour of atom 0
    initial, final = cell.copy(), cell.copy()
    final.positions[0] = target
    del initial[1], final[1]
    for endpoint in (initial, final):
        endpoint.calc = EMT()
        FIRE(endpoint, logfile=None).run(fmax=0.03, steps=500)
    images = [initial] + [initial.copy() for _ in range(3)] + [final]
    for image in images[1:-1]:
        image.calc = EMT()
    band = NEB(images, climb=True, method="improvedtangent")
    band.interpolate(method="idpp", mic=True)
    FIRE(band, maxstep=0.1, logfile=None).run(fmax=0.03, steps=500)
    energies = [image.get_potential_energy() for image in images]
    return max(energies) - energies[0]


def test_emt_copper_vacancy_barrier_through_the_farm(
    migrated_url: str, tmp_path: Path, farm_address: str
) -> None:
    path = tmp_path / "cu.toml"
    path.write_text(COPPER_NEB)
    engine = make_engine(migrated_url)
    store = tmp_path / "artifacts"
    summary = run_campaign(
        engine, load_plan(path), RunOptions(artifact_root=store, scheduler=farm_address)
    )
    assert summary.failed == 0, summary.failures
    with Session(engine) as session:
        run = session.scalars(select(NebRun)).one()
        hops = list(run.hops)
        job = session.get(Job, run.job_id)
        relaxed = json.loads(job.params_json)["relax_job_id"]
        a_relaxed = session.scalars(select(Relaxation.a).where(Relaxation.job_id == relaxed)).one()
    assert job.kind == "neb" and job.status == "done"
    assert run.grouping == "symmetry" and run.n_hops_computed == 1 == len(hops)
    hop = hops[0]
    assert hop.multiplicity == 12 and hop.converged
    assert hop.length_ang == pytest.approx(a_relaxed / np.sqrt(2), abs=0.02)
    assert hop.forward_barrier_ev == pytest.approx(hop.reverse_barrier_ev, abs=0.01)
    assert hop.n_atoms == 31  # 2x2x2 cell less the vacancy
    assert hop.forward_barrier_ev == pytest.approx(_direct_ase_barrier(a_relaxed), abs=0.01)
    # one hop type connects fcc in every dimension: it is the percolating barrier in 1-3D
    for barrier in (run.barrier_1d_ev, run.barrier_2d_ev, run.barrier_3d_ev):
        assert barrier == pytest.approx(max(hop.forward_barrier_ev, hop.reverse_barrier_ev))
    profiles = np.load(ArtifactStore(store).path(run.profiles_sha256))
    assert profiles["hop0_energy_ev"].shape == (5,) and profiles["hop0_energy_ev"][0] == 0.0

    row = queries.composition_summary(engine, "cu-neb")[0]
    assert row["neb_barrier_ev"] == pytest.approx(run.barrier_3d_ev)
    with engine.connect() as connection:
        (listed,) = queries.neb_runs(connection, "cu-neb")
    assert listed["n_converged"] == 1 and listed["barrier_3d_ev"] == run.barrier_3d_ev
    engine.dispose()
    console = Console(record=True, width=200)
    print_results(console, migrated_url, "cu-neb")
    printed = console.export_text()
    assert "migration barriers from NEB" in printed
    assert f"{run.barrier_3d_ev:.3f}" in printed


def test_interstitial_hydrogen_in_copper_on_the_worker(tmp_path: Path) -> None:
    path = tmp_path / "cu-h.toml"
    hydrogen = COPPER_NEB.replace('mobile_species = "Cu"', 'mobile_species = "H"')
    path.write_text(hydrogen.replace("[neb]\n", '[neb]\nmechanism = "interstitial"\n'))
    plan = load_plan(path)
    params = neb_params(plan, plan.spec.neb, relax_job_id=1)
    assert params["interstitial_min_distance"] == 1.0
    params.update(cutoff=1.7, fmax=0.05)  # Å: octahedral-tetrahedral hops only (1.56 Å)
    copper = to_structure(bulk("Cu", "fcc", a=3.6, cubic=True))
    payload = {
        "params": params,
        "structure_json": structure_to_json(copper),
        "potential": "emt",
        "torch_threads": 1,
        "artifact_root": str(tmp_path / "artifacts"),
    }
    result = run_neb_task(payload)

    run, (hop,) = result["run"], result["hops"]
    assert run["mechanism"] == "interstitial" and run["spacegroup"] == "Fm-3m"
    assert hop["multiplicity"] == 8 and hop["n_members"] == 32  # 4 octahedral x 8 tetrahedral
    assert hop["n_atoms"] == 33 and hop["converged"]
    # The octahedral hole is the lowest site: the network percolates at the climb out of it.
    assert hop["forward_barrier_ev"] > hop["reverse_barrier_ev"]
    for barrier in (run["barrier_1d_ev"], run["barrier_2d_ev"], run["barrier_3d_ev"]):
        assert barrier == pytest.approx(hop["forward_barrier_ev"])
    digest, _ = result["artifacts"]["neb_profiles"]
    profiles = np.load(ArtifactStore(tmp_path / "artifacts").path(digest))
    sites = profiles["interstitial_frac_coords"]
    assert sites.shape == (12, 3) and list(profiles["interstitial_class"]) == [0] * 4 + [1] * 8
    assert profiles["interstitial_distance_ang"] == pytest.approx([1.8, 3.6 * 3**0.5 / 4])
    assert profiles["interstitial_class"][hop["start_site"]] == 0
    assert profiles["interstitial_class"][hop["end_site"]] == 1


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('[neb]\nmechanism = "ring"\n', "neb.mechanism: Input should be 'vacancy' or"),
        ("[neb]\ninterstitial_min_distance = 0\n", "neb.interstitial_min_distance"),
        ('[neb]\ncompositions = ["Au"]\n', "neb.compositions: ['Au'] are not on the grid"),
        ("[neb]\ncutoff = -1\n", "neb.cutoff"),
    ],
)
def test_bad_neb_tables_are_refused(tmp_path: Path, table: str, words: str) -> None:
    path = tmp_path / "cu.toml"
    path.write_text(COPPER_NEB.split("[neb]")[0] + table)
    with pytest.raises(CampaignError, match=words.replace("[", r"\[").replace("]", r"\]")):
        load_plan(path)


LICL_NEB = """
name = "licl-neb"
parent = "LiCl"
potential = "chgnet"
mobile_species = "Li"
oxidation_states = { Li = 1, Cl = -1 }

[sublattices.anion]
replaces = "Cl"
species = ["Cl"]
step = 1.0

[hull]
elemental_references = false

[relax]
max_steps = 30

[neb]
cutoff = 3.8                # Å: the 12 nearest Li-Li neighbours of rock salt (3.6 Å)
images = 3
max_steps = 5               # the real path, not converged physics
supercell_min_length = 7.5  # Å: the 8-atom cell doubled, 63 atoms with the vacancy
"""


@pytest.mark.postgres
@pytest.mark.slow
def test_short_chgnet_neb_into_postgres(
    postgres_url: str, tmp_path: Path, farm_address: str
) -> None:
    path = tmp_path / "licl.toml"
    path.write_text(LICL_NEB)
    ensure_schema(postgres_url)
    engine = make_engine(postgres_url)
    store = tmp_path / "artifacts"
    summary = run_campaign(
        engine, load_plan(path), RunOptions(artifact_root=store, scheduler=farm_address)
    )
    assert summary.failed == 0, summary.failures
    with Session(engine) as session:
        run = session.scalars(select(NebRun)).one()
        hops = list(run.hops)
    engine.dispose()
    assert run.device == "cpu" and len(hops) == 1 and hops[0].n_atoms == 63
    assert hops[0].steps <= 5 and hops[0].force_calls > 0
    profiles = np.load(ArtifactStore(store).path(run.profiles_sha256))
    assert profiles["hop0_energy_ev"].shape == (5,)
    assert np.isfinite(profiles["hop0_coordinate_ang"]).all()
