"""`screening analyze arrhenius` on D(T) tables drawn from a known E_a with log-normal noise:
E_a recovered within its error, sigma(300 K) and its 95% interval from a structure file, the
interval's coverage over repeated draws, and bad tables refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from screening.arrhenius import K_B_EV_K
from screening.cli import app
from screening.diffusion import nernst_einstein_ms_cm
from screening.user_analysis import DTTable, arrhenius_json, fit_table

E_A_EV = 0.35
D0_CM2_S = 2e-3
TEMPERATURES_K = np.array([500.0, 600.0, 700.0, 800.0, 900.0, 1000.0])
NOISE = 0.15  # standard deviation of ln D
N_LI, VOLUME_ANG3 = 4, 10.0**3
SIGMA_300_TRUE = nernst_einstein_ms_cm(
    D0_CM2_S * np.exp(-E_A_EV / (K_B_EV_K * 300)), N_LI, VOLUME_ANG3, 300, 1
)

runner = CliRunner()


def draw(rng: np.random.Generator) -> np.ndarray:
    return D0_CM2_S * np.exp(-E_A_EV / (K_B_EV_K * TEMPERATURES_K) + rng.normal(0, NOISE, 6))


def write_table(path: Path, header: str, rows: list[tuple[float, ...]]) -> Path:
    path.write_text(header + "\n" + "\n".join(",".join(map(str, row)) for row in rows) + "\n")
    return path


@pytest.fixture
def poscar(tmp_path: Path) -> Path:
    """4 Li and 4 Cl in a 10 Å cube: N and V for sigma."""
    fcc = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    shifted = [[(x + 0.5) % 1, y, z] for x, y, z in fcc]
    structure = Structure(Lattice.cubic(10.0), ["Li"] * 4 + ["Cl"] * 4, fcc + shifted)
    path = tmp_path / "POSCAR"
    structure.to(filename=str(path), fmt="poscar")
    return path


def test_ea_and_sigma_from_a_table(tmp_path: Path, poscar: Path) -> None:
    d = draw(np.random.default_rng(3))
    rows = [(t, di, NOISE * di) for t, di in zip(TEMPERATURES_K, d, strict=True)]
    table = write_table(tmp_path / "dt.csv", "T (K),D (cm2/s),D_err", rows)
    plot = tmp_path / "arrhenius.png"
    args = ["analyze", "arrhenius", str(table), "--structure", str(poscar), "--species", "Li"]
    result = runner.invoke(app, [*args, "--json", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {
        "e_a_ev",
        "e_a_err_ev",
        "d0_cm2_s",
        "d_at_t_cm2_s",
        "sigma_at_t_ms_cm",
        "sigma_at_t_ci_ms_cm",
        "temperature_k",
    }
    assert 0.005 < out["e_a_err_ev"] < 0.05
    assert abs(out["e_a_ev"] - E_A_EV) < 2 * out["e_a_err_ev"]
    assert out["temperature_k"] == 300.0
    expected = nernst_einstein_ms_cm(out["d_at_t_cm2_s"], N_LI, VOLUME_ANG3, 300.0, 1)
    assert out["sigma_at_t_ms_cm"] == pytest.approx(expected, rel=1e-9)
    low, high = out["sigma_at_t_ci_ms_cm"]
    assert low < out["sigma_at_t_ms_cm"] < high and low < SIGMA_300_TRUE < high
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("with_errors", [True, False], ids=["d-err", "scatter"])
def test_sigma_interval_covers_the_truth_in_most_draws(with_errors: bool) -> None:
    """The 95% interval of sigma(300 K) over 200 tables: between 85% and 99% coverage, with
    the table's errors and with errors from the scatter alone (no D_err column)."""
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(200):
        d = draw(rng)
        table = DTTable(Path("t.csv"), TEMPERATURES_K, d, NOISE * d if with_errors else None)
        out = arrhenius_json(fit_table(table), 300.0, (N_LI, VOLUME_ANG3, 1))
        low, high = out["sigma_at_t_ci_ms_cm"]
        covered += low < SIGMA_300_TRUE < high
    assert 0.85 <= covered / 200 <= 0.99


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        ("T,D", [(600, 1e-6), (700, -2e-6)], "line 3: D must be positive"),
        ("T,diffusivity", [(600, 1e-6), (700, 2e-6)], "missing column(s) D"),
        ("temperature,D", [(600, "fast"), (700, 2e-6)], "line 2: D is 'fast', not a number"),
        ("T,D", [(600, 1e-6), (600, 2e-6)], "two distinct temperatures"),
    ],
    ids=["negative-d", "missing-column", "not-a-number", "one-temperature"],
)
def test_bad_tables_are_refused_in_one_line(
    tmp_path: Path, header: str, rows: list[tuple[object, ...]], message: str
) -> None:
    table = write_table(tmp_path / "bad.csv", header, rows)  # type: ignore[arg-type]
    result = runner.invoke(app, ["analyze", "arrhenius", str(table)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_a_structure_without_the_species_is_refused(tmp_path: Path, poscar: Path) -> None:
    table = write_table(tmp_path / "dt.csv", "T,D", [(600, 1e-6), (700, 2e-6)])
    args = ["analyze", "arrhenius", str(table), "--structure", str(poscar), "--species", "Na"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "no Na in the structure" in result.stderr
