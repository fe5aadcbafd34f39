"""Relax + hull on a metallic toy campaign (Cu-Au on fcc, EMT) through a real LocalCluster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition, Lattice
from pymatgen.core import Structure as PmgStructure
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db import queries
from db.models import Hull, Job, Relaxation, Structure
from screening.campaign import load_plan
from screening.driver import RunOptions, run_campaign
from screening.hull import STABLE_TOLERANCE_EV_ATOM
from screening.potentials import PotentialSpec, load_calculator
from screening.relax import RelaxSettings, relax_structure
from screening.structures import to_structure


@pytest.fixture
def exploding_phase(tmp_path: Path) -> Path:
    """A 'competing phase' with two Cu atoms 0.1 Å apart: EMT forces of ~3000 eV/Å."""
    structure = PmgStructure(Lattice.cubic(4.0), ["Cu", "Cu"], [[0, 0, 0], [0.025, 0, 0]])
    path = tmp_path / "POSCAR_overlap"
    structure.to(filename=str(path), fmt="poscar")
    return path


def test_cuau_campaign_hull_matches_pymatgen(
    engine: Engine, cuau_campaign, exploding_phase: Path, farm_address: str
) -> None:
    plan = load_plan(cuau_campaign(competing=[exploding_phase]))
    summary = run_campaign(engine, plan, RunOptions(scheduler=farm_address))

    # 5 compositions (Cu, Cu3Au, CuAu, CuAu3, Au) + 2 elemental references + the bad phase
    assert summary.done == 7
    assert summary.failed == 1
    assert "forces exploded" in summary.failures[0]
    with Session(engine) as session:
        failed = session.scalars(select(Job).where(Job.status == "failed")).one()
        assert "forces exploded" in failed.error and "eV/Å" in failed.error
        assert session.scalar(select(func.count()).select_from(Relaxation)) == 7

        energies = session.execute(
            select(Structure.id, Structure.formula, Relaxation.energy_ev_atom).join(
                Relaxation, Relaxation.structure_id == Structure.id
            )
        ).all()
        stored = {h.structure_id: h for h in session.scalars(select(Hull))}

    # An independent pymatgen PhaseDiagram over the same stored energies.
    entries = {sid: PDEntry(Composition(f), e * Composition(f).num_atoms) for sid, f, e in energies}
    diagram = PhaseDiagram(list(entries.values()))
    assert set(stored) == set(entries)
    for sid, entry in entries.items():
        expected = diagram.get_e_above_hull(entry, allow_negative=True)
        assert stored[sid].e_hull_ev_atom == pytest.approx(expected, abs=1e-9)
        assert stored[sid].is_stable == (expected <= STABLE_TOLERANCE_EV_ATOM)

    rows = queries.composition_summary(engine, "cuau")
    assert [r["formula"] for r in rows] == sorted(["Cu", "Cu3Au", "CuAu", "CuAu3", "Au"])
    by_formula = {r["formula"]: r for r in rows}
    # The pure SQS cells sit on the hull (up to relaxation noise) next to the references.
    assert by_formula["Cu"]["e_hull_ev_atom"] == pytest.approx(0.0, abs=1e-5)
    assert by_formula["Au"]["is_stable"] is True
    assert all(r["n_structures"] == 1 for r in rows)
    fractions = json.loads(by_formula["Cu3Au"]["parameters"])
    assert fractions == {"fcc": {"Au": 0.25, "Cu": 0.75}}


def test_rerun_does_nothing_twice(engine: Engine, cuau_campaign, farm_address: str) -> None:
    plan = load_plan(cuau_campaign())
    first = run_campaign(engine, plan, RunOptions(scheduler=farm_address))
    second = run_campaign(engine, plan, RunOptions(scheduler=farm_address))
    assert first.done == 7 and first.failed == 0
    assert second.done == 0 and second.already_done == 7
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 7
        assert session.scalar(select(func.count()).select_from(Relaxation)) == 7
        assert set(session.scalars(select(Job.attempts))) == {1}


def _ase_emt_lattice_constant() -> float:
    """ASE's own answer: an equation-of-state fit of EMT fcc Cu."""
    volumes, energies = [], []
    for a in np.linspace(3.50, 3.68, 13):
        atoms = bulk("Cu", "fcc", a=a, cubic=True)
        atoms.calc = EMT()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    v0, _, _ = EquationOfState(volumes, energies).fit()
    return (v0) ** (1 / 3)


def test_relaxed_cu_lattice_matches_ase_emt() -> None:
    start = to_structure(bulk("Cu", "fcc", a=3.45, cubic=True))
    calculator = load_calculator(PotentialSpec.parse("emt"), "cpu")
    result = relax_structure(start, calculator, RelaxSettings(fmax=0.001, max_steps=2000))
    assert result.converged
    expected = _ase_emt_lattice_constant()
    assert expected == pytest.approx(3.59, abs=0.01)  # EMT's known fcc Cu lattice constant
    assert result.lattice.a == pytest.approx(expected, abs=2e-3)
    assert result.lattice.b == pytest.approx(expected, abs=2e-3)
    assert result.lattice.alpha == pytest.approx(90.0, abs=0.01)


def test_status_and_export_commands(
    migrated_url: str, cuau_campaign, tmp_path: Path, farm_address: str
) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from db.engine import make_engine
    from screening.cli import app

    engine = make_engine(migrated_url)
    run_campaign(engine, load_plan(cuau_campaign()), RunOptions(scheduler=farm_address))
    engine.dispose()
    runner = CliRunner()

    status = runner.invoke(app, ["status", "cuau", "--database", migrated_url])
    assert status.exit_code == 0, status.output
    assert "relax" in status.output and "done" in status.output and "7" in status.output
    assert "jobs/hour" in status.output  # the throughput table

    out = tmp_path / "export"
    exported = runner.invoke(
        app, ["export", "cuau", "--database", migrated_url, "--format", "parquet", "-o", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    summary = pd.read_parquet(out / "cuau_summary.parquet")
    structures = pd.read_parquet(out / "cuau_structures.parquet")
    assert len(summary) == 5 and summary["e_hull_ev_atom"].notna().all()
    assert set(structures["role"]) == {"candidate", "reference"} and len(structures) == 7

    missing = runner.invoke(app, ["status", "nope", "--database", migrated_url])
    assert missing.exit_code == 2 and "no campaign named 'nope'" in missing.output


def test_changing_the_supercell_adds_orderings(
    engine: Engine, cuau_campaign, farm_address: str
) -> None:
    run_campaign(engine, load_plan(cuau_campaign()), RunOptions(scheduler=farm_address))
    summary = run_campaign(
        engine,
        load_plan(cuau_campaign(supercell=[2, 1, 1], step=0.5)),
        RunOptions(scheduler=farm_address),
    )
    assert summary.done > 0
    with Session(engine) as session:
        sizes = set(session.scalars(select(Structure.n_atoms)))
    assert {4, 8} <= sizes  # the 4-atom orderings stay, 8-atom ones were generated
    rows = {r["formula"]: r for r in queries.composition_summary(engine, "cuau")}
    assert rows["CuAu"]["n_structures"] >= 2
