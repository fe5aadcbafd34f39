"""`screening enumerate` prints its table; `screening export-structures` writes files that
read back with pymatgen and ASE, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from ase.io import read as ase_read
from pymatgen.core import Structure as PmgStructure
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from db.models import Job, Relaxation, Structure
from screening.campaign import load_plan
from screening.cli import app
from screening.driver import RunOptions, run_campaign
from screening.structures import structure_from_json

runner = CliRunner()


def _stored(engine: Engine) -> dict[int, dict]:
    """Structure id -> (stored composition as element counts, origin) of the SQS rows."""
    with Session(engine) as session:
        rows = session.execute(
            select(Structure.id, Structure.structure_json, Structure.origin_json).where(
                Structure.origin_kind == "sqs"
            )
        ).all()
    return {
        sid: {
            "counts": structure_from_json(text).composition.as_dict(),
            "origin": json.loads(origin),
        }
        for sid, text, origin in rows
    }


def _manifest(directory: Path) -> list[dict[str, str]]:
    with (directory / "cuau_manifest.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_enumerate_table_and_every_format_reads_back(
    migrated_url: str, engine: Engine, cuau_campaign, tmp_path: Path
) -> None:
    campaign = cuau_campaign(supercell=[2, 1, 1], orderings=2, sqs_steps=100)
    enumerated = runner.invoke(app, ["enumerate", str(campaign), "--database", migrated_url])
    assert enumerated.exit_code == 0, enumerated.output
    assert "best objective" in enumerated.output and "SQS runs" in enumerated.output
    for formula in ("Cu3Au", "CuAu", "CuAu3"):
        assert formula in enumerated.output
    stored = _stored(engine)
    assert len(stored) == 2 + 3 * 2  # pure end members once, two orderings of the others

    for fmt in ("cif", "poscar", "extxyz"):
        out = tmp_path / fmt
        args = ["export-structures", "cuau", "-d", migrated_url, "--format", fmt, "-o", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        rows = _manifest(out)
        assert {int(r["structure_id"]) for r in rows} == set(stored)
        for row in rows:
            path = out / row["file"]
            expected = stored[int(row["structure_id"])]
            assert path.name.startswith(f"{row['formula']}_{row['structure_id']}.")
            assert (
                row["relaxed"] == "False" and json.loads(row["origin_json"]) == expected["origin"]
            )
            atoms = ase_read(path, format={"cif": "cif", "poscar": "vasp"}.get(fmt, "extxyz"))
            counts = {s: float(atoms.get_chemical_symbols().count(s)) for s in set(atoms.symbols)}
            assert counts == expected["counts"]
            if fmt != "extxyz":
                assert PmgStructure.from_file(path).composition.as_dict() == expected["counts"]
                continue
            origin = expected["origin"]
            assert atoms.info["method"] == "sqs" and atoms.info["seed"] == origin["seed"]
            assert atoms.info["objective"] == pytest.approx(origin["objective"], abs=1e-12)
            assert list(atoms.info["run_objectives"]) == pytest.approx(origin["run_objectives"])
            assert atoms.info["structure_id"] == int(row["structure_id"])


def test_relaxed_export_takes_the_lowest_energy_relaxation(
    engine: Engine, migrated_url: str, cuau_campaign, tmp_path: Path, farm_address: str
) -> None:
    plan = load_plan(cuau_campaign(step=0.5, sqs_steps=100))
    run_campaign(engine, plan, RunOptions(scheduler=farm_address))
    out = tmp_path / "relaxed"
    args = ["export-structures", "cuau", "-d", migrated_url, "-f", "poscar", "-o", str(out)]
    result = runner.invoke(app, [*args, "--relaxed"])
    assert result.exit_code == 0, result.output
    assert "3 structures (3 relaxed)" in result.output
    with Session(engine) as session:
        relaxed = dict(
            session.execute(
                select(Relaxation.structure_id, func.min(Relaxation.energy_ev_atom))
                .join(Job, Job.id == Relaxation.job_id)
                .where(Job.status == "done")
                .group_by(Relaxation.structure_id)
            ).all()
        )
        final = dict(
            session.execute(select(Relaxation.structure_id, Relaxation.final_structure_json)).all()
        )
    for row in _manifest(out):
        sid = int(row["structure_id"])
        assert row["file"] == f"{row['formula']}_{sid}_relaxed.vasp" and row["relaxed"] == "True"
        assert float(row["energy_ev_atom"]) == pytest.approx(relaxed[sid], abs=1e-9)
        written = PmgStructure.from_file(out / row["file"])
        # EMT relaxes fcc Cu from 3.615 Å to ~3.59 Å: the file holds the relaxed cell
        assert written.lattice.abc == pytest.approx(structure_from_json(final[sid]).lattice.abc)
        assert written.lattice.a != pytest.approx(3.615, abs=1e-3)


def test_bad_format_and_unknown_campaign_exit_2(migrated_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = runner.invoke(app, ["export-structures", "cuau", "-d", migrated_url, "-f", "xyz"])
    assert bad.exit_code == 2
    assert "--format 'xyz' is not supported: use cif, poscar or extxyz" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    missing = runner.invoke(app, ["export-structures", "nope", "-d", migrated_url, "-o", str(out)])
    assert missing.exit_code == 2 and "no campaign named 'nope'" in missing.output
    assert not out.exists()
