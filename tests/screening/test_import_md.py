"""`screening import md` into SQLite and PostgreSQL: reference trajectories (XDATCAR, as from
AIMD) of Li walking through rock-salt LiCl at three temperatures with D(T) from a known E_a
are stored as md_runs of the matching candidate, labelled aimd-pbe, and their Arrhenius row
recovers E_a. The campaign's own MLIP runs on the same structure are fitted on their own:
neither source's fit sees the other's runs, and the explorer's query returns both."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.io import write
from pymatgen.core import Lattice, Structure
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from db import explorer_queries
from db.models import Arrhenius, Campaign, Composition, MdRun, Potential
from screening.arrhenius import K_B_EV_K
from screening.cli import app
from screening.stages.arrhenius import update_arrhenius
from screening.store import (
    ensure_campaign,
    ensure_composition,
    ensure_job,
    ensure_structure,
    link_structure,
)
from screening.structures import to_atoms

E_A_EV, D0_CM2_S = 0.2, 1e-3
TEMPERATURES_K = (600.0, 800.0, 1000.0)
FRAME_PS, N_FRAMES = 0.1, 400  # --timestep-fs 2 --sample-every 50
MLIP_E_A_EV = 0.5  # the campaign's own MLIP runs, written as the md stage would

runner = CliRunner()


def d_true(temperature_k: float, e_a_ev: float = E_A_EV) -> float:
    return D0_CM2_S * np.exp(-e_a_ev / (K_B_EV_K * temperature_k))


def rocksalt() -> Structure:
    """Conventional rock-salt LiCl (8 atoms, a = 5.14 Å)."""
    fcc = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    shifted = [[(x + 0.5) % 1, y, z] for x, y, z in fcc]
    return Structure(Lattice.cubic(5.14), ["Li"] * 4 + ["Cl"] * 4, fcc + shifted)


def cesium_chloride() -> Structure:
    return Structure(Lattice.cubic(3.2), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def write_xdatcar(path: Path, temperature_k: float, seed: int, n_frames: int = N_FRAMES) -> Path:
    """A 2x2x2 rock-salt cell whose Li walk (Gaussian steps, D(T)) and Cl vibrate, wrapped."""
    rng = np.random.default_rng(seed)
    atoms = to_atoms(rocksalt() * (2, 2, 2))
    li = np.array([s == "Li" for s in atoms.get_chemical_symbols()])
    sigma = np.sqrt(2 * d_true(temperature_k) * 1e4 * FRAME_PS)  # Å per component
    positions = np.repeat(atoms.positions[None], n_frames, axis=0)
    positions += rng.normal(0, 0.05, positions.shape)
    steps = rng.normal(0, sigma, (n_frames - 1, li.sum(), 3))
    positions[1:, li] += np.cumsum(steps, axis=0)
    images = []
    for frame in positions:
        image = atoms.copy()
        image.positions = frame
        image.wrap()
        images.append(image)
    write(path, images, format="vasp-xdatcar")
    return path


def seed_campaign(session: Session) -> tuple[int, int, int]:
    """Campaign 'licl' (LiCl: rock-salt and CsCl-type candidates) with two MLIP md_runs on
    the rock-salt one; returns (campaign id, rock-salt id, CsCl id)."""
    potential = Potential(name="emt", spec="emt", weights_sha256="0" * 64)
    session.add(potential)
    session.flush()
    spec = {"name": "licl", "mobile_species": "Li", "oxidation_states": {"Li": 1, "Cl": -1}}
    campaign = ensure_campaign(session, "licl", json.dumps(spec), potential)
    composition = ensure_composition(session, campaign, "LiCl", '{"X": 1.0}')
    ids = []
    for structure in (rocksalt(), cesium_chloride()):
        row = ensure_structure(session, structure, "sqs", {})
        link_structure(session, campaign, row, "candidate", composition)
        ids.append(row.id)
    for temperature in (700.0, 900.0):
        job = ensure_job(
            session, ids[0], "md", {"temperature_k": temperature, "charge": 1}, potential.id
        )
        job.status = "done"
        d = d_true(temperature, MLIP_E_A_EV)
        session.add(
            MdRun(
                job_id=job.id,
                structure_id=ids[0],
                potential_id=potential.id,
                temperature_k=temperature,
                timestep_fs=2.0,
                steps=10000,
                steps_done=10000,
                thermostat="langevin",
                n_atoms=64,
                n_mobile=32,
                volume_ang3=rocksalt().volume * 8,
                stable=True,
                diffusive=True,
                d_cm2_s=d,
                d_err_cm2_s=0.1 * d,
                wall_time_s=1.0,
                device="cpu",
            )
        )
    session.commit()
    return campaign.id, ids[0], ids[1]


def import_md(url: str, artifacts: Path, *args: object) -> tuple[int, str]:
    command = ["import", "md", "licl", *map(str, args), "--label", "aimd-pbe"]
    command += ["--database", url, "--artifacts", str(artifacts)]
    result = runner.invoke(app, command)
    return result.exit_code, result.stdout + result.stderr


def test_import_md_stores_a_labelled_source_fitted_on_its_own(
    engine: Engine, session: Session, migrated_url: str, tmp_path: Path
) -> None:
    campaign_id, rocksalt_id, _ = seed_campaign(session)
    timing = ["--timestep-fs", "2", "--sample-every", "50"]
    for seed, temperature in enumerate(TEMPERATURES_K):
        path = write_xdatcar(tmp_path / f"XDATCAR_{temperature:.0f}", temperature, seed)
        code, output = import_md(
            migrated_url, tmp_path / "artifacts", path, *timing, "--temperature", temperature
        )
        assert code == 0, output
        assert "matches the first frame" in output  # rock-salt, not CsCl-type

    session.expire_all()
    runs = session.scalars(select(MdRun).where(MdRun.source == "aimd-pbe")).all()
    assert sorted(r.temperature_k for r in runs) == list(TEMPERATURES_K)
    for run in runs:
        assert run.structure_id == rocksalt_id and run.job_id is None and run.potential_id is None
        assert run.n_atoms == 64 and run.n_mobile == 32 and run.timestep_fs == 2.0
        assert run.steps == (N_FRAMES - 1) * 50
        assert run.diffusive and abs(run.d_cm2_s - d_true(run.temperature_k)) < 3 * run.d_err_cm2_s
        assert run.trajectory_sha256 and run.analysis_sha256
        assert (tmp_path / "artifacts" / run.trajectory_sha256[:2]).is_dir()

    fits = {
        row.source: row
        for row in session.scalars(select(Arrhenius).where(Arrhenius.direction == "total"))
    }
    assert set(fits) == {"aimd-pbe"}
    aimd = fits["aimd-pbe"]
    assert json.loads(aimd.temperatures_json) == list(TEMPERATURES_K)
    assert aimd.e_a_err_ev is not None and aimd.e_a_err_ev < 0.08
    assert abs(aimd.e_a_ev - E_A_EV) < 3 * aimd.e_a_err_ev
    assert aimd.potential_id == session.get(Campaign, campaign_id).potential_id
    assert aimd.sigma_300k_low_ms_cm < aimd.sigma_300k_ms_cm < aimd.sigma_300k_high_ms_cm

    # the driver's step fits the MLIP runs alone (two points: E_a exact) and keeps aimd-pbe
    assert update_arrhenius(session, session.get(Campaign, campaign_id)) > 0
    session.expire_all()
    totals = session.scalars(select(Arrhenius).where(Arrhenius.direction == "total")).all()
    by_source = {row.source: row for row in totals}
    assert set(by_source) == {"mlip", "aimd-pbe"}
    assert by_source["mlip"].e_a_ev == pytest.approx(MLIP_E_A_EV, rel=1e-9)
    assert by_source["aimd-pbe"].e_a_ev == aimd.e_a_ev
    composition_id = session.scalar(select(Composition.id).where(Composition.formula == "LiCl"))
    with engine.connect() as connection:
        shown = explorer_queries.arrhenius_fits(connection, composition_id)
    assert {(row["source"], row["direction"]) for row in shown} >= {
        ("mlip", "total"),
        ("aimd-pbe", "total"),
    }

    # refused in one line: the same trajectory again, a composition the campaign lacks, an
    # XDATCAR without --temperature
    short = write_xdatcar(tmp_path / "XDATCAR_short", 600.0, seed=9, n_frames=20)
    for path, extra, message in (
        (tmp_path / "XDATCAR_600", ["--temperature", 600], "already imported"),
        (short, ["--temperature", 600, "--composition", "LiBr"], "no LiBr structure"),
        (short, [], "pass --temperature"),
    ):
        code, output = import_md(migrated_url, tmp_path / "artifacts", path, *timing, *extra)
        assert code == 2 and message in output, output
        assert len(output.strip().splitlines()) == 1
