"""`screening analyze structure` on a vibrating rock-salt NaCl crystal written as extxyz with
per-frame times (info time_fs): octahedral coordination (6) with the cutoff between the first
and second shells, the van Hove self part and per-atom MSD of a species that only vibrates,
and a cube file that ASE reads back with the right number of ions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read, write
from typer.testing import CliRunner

from screening.cli import app

A_ANG = 5.64  # NaCl: Na-Cl 2.82 Å, Na-Na 3.99 Å
VIBRATION_ANG = 0.08
N_FRAMES = 40

runner = CliRunner()


@pytest.fixture(scope="module")
def nacl_extxyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(5)
    crystal = bulk("NaCl", "rocksalt", a=A_ANG, cubic=True).repeat(3)  # 216 atoms, 16.9 Å
    images = []
    for i in range(N_FRAMES):
        image = crystal.copy()
        image.positions += rng.normal(0, VIBRATION_ANG, image.positions.shape)
        image.info["time_fs"] = 50.0 * i
        images.append(image)
    path = tmp_path_factory.mktemp("nacl") / "nacl.extxyz"
    write(path, images, format="extxyz")
    return path


def test_coordination_density_and_van_hove(nacl_extxyz: Path, tmp_path: Path) -> None:
    output = tmp_path / "out"
    args = ["analyze", "structure", str(nacl_extxyz), "--species", "Na", "--output", str(output)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    shells = {(c["center"], c["neighbor"]): c for c in out["coordination"]}
    assert set(shells) == {("Na", "Na"), ("Na", "Cl"), ("Cl", "Na"), ("Cl", "Cl")}
    na_cl = shells[("Na", "Cl")]
    assert na_cl["first_peak_ang"] == pytest.approx(A_ANG / 2, abs=0.05)
    assert A_ANG / 2 < na_cl["cutoff_ang"] < A_ANG / np.sqrt(2)
    assert na_cl["coordination_number"] == pytest.approx(6.0, abs=0.05)
    assert na_cl["distribution"]["6"] > 0.99
    assert shells[("Na", "Na")]["coordination_number"] == pytest.approx(12.0, abs=0.1)
    # an atom that only vibrates: MSD 2 x 3 x 0.08² Å² between any two frames
    msd = out["atom_msd"]["Na"]
    assert msd["atoms"] == 108 and msd["atoms_beyond_one_hop"] == 0
    assert msd["msd_mean_ang2"] == pytest.approx(6 * VIBRATION_ANG**2, rel=0.1)
    assert out["van_hove_lag_ps"] == pytest.approx((N_FRAMES - 1) * 0.05 / 2)
    arrays = np.load(output / "structure.npz")
    r, p = arrays["van_hove_Na_r_ang"], arrays["van_hove_Na_p_per_ang"]
    assert np.sum(p) * (r[1] - r[0]) == pytest.approx(1.0, abs=1e-6)  # nothing beyond r_max
    assert r[np.argmax(p)] < 0.3  # displacements stay on the site
    cube = read(output / "density_Na.cube", format="cube", read_data=True, full_output=True)
    volume = abs(np.linalg.det(cube["atoms"].cell))
    assert cube["data"].sum() * volume / cube["data"].size == pytest.approx(
        108, rel=1e-4
    )  # 5 digits
    assert {Path(f).name for f in out["files"]} == {
        "structure.npz",
        "density_Na.cube",
        "density_Na.npz",
    }


def test_an_absent_species_is_refused(nacl_extxyz: Path, tmp_path: Path) -> None:
    args = ["analyze", "structure", str(nacl_extxyz), "--species", "Li", "-o", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: no Li atoms in the trajectory (it holds Cl, Na)"
    ]
