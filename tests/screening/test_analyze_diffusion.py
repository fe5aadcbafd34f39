"""`screening analyze diffusion` on trajectories written by the tests: a Gaussian random walk
of Li (known D = σ²/2Δt per component) through a static, vibrating Cl framework, stored as
vasprun.xml (a minimal template with POTIM and TEBEG), XDATCAR, ASE .traj and a LAMMPS dump
(ASE writers where ASE has one). Every file is written wrapped into the cell, so each read
goes through the unwrapping; all formats must give the same D, the analytic one within its
reported uncertainty, and a walk split over two files must give exactly the unsplit result.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from typer.testing import CliRunner

from screening.cli import app
from screening.diffusion import nernst_einstein_ms_cm

CELL_ANG = 12.0
FRAME_PS = 0.1  # POTIM 100 fs, one frame per step: synthetic, not a physical time step
STEP_SIGMA_ANG = 0.3  # per Cartesian component and frame
D_TRUE_CM2_S = STEP_SIGMA_ANG**2 / (2 * FRAME_PS) * 1e-4
N_LI, N_CL, N_FRAMES = 48, 16, 600
TEBEG_K = 600.0
JSON_KEYS = {
    "d_cm2_s",
    "d_err_cm2_s",
    "d_axes_cm2_s",
    "d_axes_err_cm2_s",
    "d_planes_cm2_s",
    "d_planes_err_cm2_s",
    "fit_window_ps",
    "n_eff",
    "haven_ratio",
    "haven_ratio_err",
    "sigma_ms_cm",
    "sigma_err_ms_cm",
    "temperature_k",
}

runner = CliRunner()


def walk(seed: int, n_frames: int = N_FRAMES) -> tuple[list[str], np.ndarray]:
    """Symbols and wrapped positions (n_frames, atoms, 3) Å: Li walkers, Cl on a grid."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, CELL_ANG, (N_LI, 3))
    steps = rng.normal(0, STEP_SIGMA_ANG, (n_frames - 1, N_LI, 3))
    li = np.concatenate([start[None], start + np.cumsum(steps, axis=0)])
    grid = (np.indices((4, 2, 2)).reshape(3, -1).T + 0.25) * (CELL_ANG / np.array([4, 2, 2]))
    cl = grid + rng.normal(0, 0.05, (n_frames, N_CL, 3))
    positions = np.concatenate([li, cl], axis=1) % CELL_ANG
    return ["Li"] * N_LI + ["Cl"] * N_CL, positions


def frames(symbols: list[str], positions: np.ndarray) -> list[Atoms]:
    cell = np.eye(3) * CELL_ANG
    return [Atoms(symbols, positions=p, cell=cell, pbc=True) for p in positions]


def _vectors(rows: np.ndarray) -> str:
    return "".join(f"    <v>{a:.10f} {b:.10f} {c:.10f}</v>\n" for a, b, c in rows)


def write_vasprun(path: Path, symbols: list[str], positions: np.ndarray) -> Path:
    """A minimal vasprun.xml: the tags ASE's reader needs, POTIM and TEBEG/TEEND."""
    basis = _vectors(np.eye(3) * CELL_ANG)
    atoms = "".join(f"<rc><c>{s}</c><c>1</c></rc>" for s in symbols)

    def structure(name: str, fractional: np.ndarray) -> str:
        return (
            f'<structure{name}><crystal><varray name="basis">\n{basis}</varray></crystal>'
            f'<varray name="positions">\n{_vectors(fractional)}</varray></structure>\n'
        )

    energy = '<i name="e_fr_energy"> -1.0 </i><i name="e_0_energy"> -1.0 </i>'
    parts = [
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<modeling>\n',
        '<incar><i name="POTIM">100.0</i><i name="TEBEG">600</i></incar>\n',
        '<kpoints><varray name="kpointlist"><v>0 0 0</v></varray>',
        '<varray name="weights"><v>1</v></varray></kpoints>\n',
        '<parameters><separator name="ionic"><i name="POTIM">100.0</i>'
        '<i name="TEBEG">600</i><i name="TEEND">600</i></separator></parameters>\n',
        f'<atominfo><array name="atoms"><set>{atoms}</set></array></atominfo>\n',
        structure(' name="initialpos"', positions[0] / CELL_ANG),
    ]
    for frame in positions:
        parts.append(
            f"<calculation><scstep><energy>{energy}</energy></scstep>"
            f"{structure('', frame / CELL_ANG)}<energy>{energy}</energy></calculation>\n"
        )
    parts.append("</modeling>\n")
    path.write_text("".join(parts))
    return path


def write_lammps_dump(path: Path, symbols: list[str], positions: np.ndarray, every: int) -> Path:
    """A LAMMPS text dump with numeric types (Li 1, Cl 2), TIMESTEP every ``every`` steps."""
    types = [1 if s == "Li" else 2 for s in symbols]
    lines = []
    for i, frame in enumerate(positions):
        lines += [
            "ITEM: TIMESTEP",
            str(i * every),
            "ITEM: NUMBER OF ATOMS",
            str(len(symbols)),
            "ITEM: BOX BOUNDS pp pp pp",
            *[f"0.0 {CELL_ANG}"] * 3,
            "ITEM: ATOMS id type x y z",
        ]
        lines += [
            f"{j + 1} {t} {x:.8f} {y:.8f} {z:.8f}"
            for j, (t, (x, y, z)) in enumerate(zip(types, frame, strict=True))
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def analyze(*args: object) -> dict:
    result = runner.invoke(app, ["analyze", "diffusion", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(*args: object) -> str:
    """The one stderr line of a command that must end with exit code 2."""
    result = runner.invoke(app, [*map(str, args)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def walk_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same walk as vasprun.xml, XDATCAR, .traj and LAMMPS dump; halves of it; and a
    second half from another walk."""
    root = tmp_path_factory.mktemp("walk")
    symbols, positions = walk(seed=1)
    half = N_FRAMES // 2
    other_symbols, other = walk(seed=2)
    images = frames(symbols, positions)
    write(root / "XDATCAR", images, format="vasp-xdatcar")
    write(root / "XDATCAR_1", images[:half], format="vasp-xdatcar")
    write(root / "XDATCAR_2", images[half:], format="vasp-xdatcar")
    write(root / "XDATCAR_other", frames(other_symbols, other)[half:], format="vasp-xdatcar")
    for image in images:
        image.info["timestep_fs"] = FRAME_PS * 1000
    write(root / "walk.traj", images)
    return {
        "vasprun": write_vasprun(root / "vasprun.xml", symbols, positions),
        "vasprun_1": write_vasprun(root / "vasprun_1.xml", symbols, positions[:half]),
        # a restart that repeats the last frame of the first run
        "vasprun_2": write_vasprun(root / "vasprun_2.xml", symbols, positions[half - 1 :]),
        "xdatcar": root / "XDATCAR",
        "xdatcar_1": root / "XDATCAR_1",
        "xdatcar_2": root / "XDATCAR_2",
        "xdatcar_other": root / "XDATCAR_other",
        "traj": root / "walk.traj",
        "dump": write_lammps_dump(root / "walk.dump", symbols, positions, every=100),
    }


@pytest.fixture(scope="module")
def vasprun_result(walk_files: dict[str, Path]) -> dict:
    return analyze(walk_files["vasprun"], "--species", "Li")


def test_vasprun_walk_gives_the_analytic_d_within_its_error(vasprun_result: dict) -> None:
    out = vasprun_result
    assert set(out) <= JSON_KEYS and {"d_cm2_s", "d_err_cm2_s", "fit_window_ps"} <= set(out)
    assert out["d_err_cm2_s"] < 0.2 * out["d_cm2_s"]  # sharp enough to catch a wrong time unit
    assert abs(out["d_cm2_s"] - D_TRUE_CM2_S) < 2 * out["d_err_cm2_s"]
    for name in "abc":
        d, err = out["d_axes_cm2_s"][name], out["d_axes_err_cm2_s"][name]
        assert abs(d - D_TRUE_CM2_S) < 3 * err
    for name in ("ab", "ac", "bc"):
        d, err = out["d_planes_cm2_s"][name], out["d_planes_err_cm2_s"][name]
        assert abs(d - D_TRUE_CM2_S) < 3 * err
    start, end = out["fit_window_ps"]
    assert 2.0 <= start < end <= (N_FRAMES - 1) * FRAME_PS / 2 + 1e-9
    # TEBEG is the run temperature; sigma is Nernst-Einstein of D at it
    assert out["temperature_k"] == TEBEG_K
    volume = CELL_ANG**3
    expected = nernst_einstein_ms_cm(out["d_cm2_s"], N_LI, volume, TEBEG_K, 1)
    assert out["sigma_ms_cm"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("files", "options"),
    [
        (["xdatcar"], ["--timestep-fs", "100"]),
        (["traj"], []),  # info timestep_fs
        (["dump"], ["--timestep-fs", "1", "--lammps-types", "Li,Cl"]),  # TIMESTEP every 100
        (["vasprun_1", "vasprun_2"], []),  # the repeated frame is dropped
        (["xdatcar_1", "xdatcar_2"], ["--timestep-fs", "100"]),
    ],
    ids=["xdatcar", "traj", "lammps-dump", "vasprun-split", "xdatcar-split"],
)
def test_every_format_and_split_reads_the_same_walk(
    walk_files: dict[str, Path], vasprun_result: dict, files: list[str], options: list[str]
) -> None:
    out = analyze(*(walk_files[f] for f in files), "--species", "Li", *options)
    assert out["d_cm2_s"] == pytest.approx(vasprun_result["d_cm2_s"], rel=1e-6)
    assert out["fit_window_ps"] == pytest.approx(vasprun_result["fit_window_ps"])


def test_files_of_another_run_do_not_join(walk_files: dict[str, Path]) -> None:
    line = refused(
        "analyze",
        "diffusion",
        walk_files["xdatcar_1"],
        walk_files["xdatcar_other"],
        "--species",
        "Li",
        "--timestep-fs",
        "100",
    )
    assert "does not continue" in line and "XDATCAR_other" in line


def test_a_file_without_time_needs_the_timestep(walk_files: dict[str, Path]) -> None:
    line = refused("analyze", "diffusion", walk_files["xdatcar"], "--species", "Li")
    assert "--timestep-fs" in line


def test_a_dump_with_numeric_types_needs_their_elements(walk_files: dict[str, Path]) -> None:
    line = refused(
        "analyze", "diffusion", walk_files["dump"], "--species", "Li", "--timestep-fs", "1"
    )
    assert "--lammps-types" in line


def test_an_absent_species_is_named(walk_files: dict[str, Path]) -> None:
    line = refused("analyze", "diffusion", walk_files["vasprun"], "--species", "Na")
    assert "no Na atoms" in line and "Li" in line


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.txt", "just some notes\n1 2 3\n"), ("vasprun.xml", "<modeling><incar>")],
)
def test_a_file_that_is_not_a_trajectory_is_refused(
    tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    line = refused("analyze", "diffusion", path, "--species", "Li", "--timestep-fs", "1")
    assert "not a trajectory" in line and name in line


def test_plot_writes_a_png(walk_files: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "msd.png"
    analyze(walk_files["xdatcar"], "--species", "Li", "--timestep-fs", "100", "--plot", target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_lower_slope_bound_fits_a_short_walk_on_a_vibration_plateau(tmp_path: Path) -> None:
    # 8 ps of the walk with a 0.5 Å vibration per component on top: the MSD is 6 D t plus a
    # 1.5 Å² plateau, log-log slope 0.78 at 2 ps, 0.88 at 4 ps: linear, but not in [0.8, 1.2]
    # over a window twice as long as its start.
    symbols, positions = walk(seed=3, n_frames=81)
    positions[:, :N_LI] += np.random.default_rng(4).normal(0, 0.5, (81, N_LI, 3))
    images = frames(symbols, positions % CELL_ANG)
    for image in images:
        image.info["timestep_fs"] = FRAME_PS * 1000
    write(tmp_path / "short.traj", images)
    common = (tmp_path / "short.traj", "--species", "Li", "--fit-min-start-ps", 1.0)
    assert "d_cm2_s" not in analyze(*common)  # not diffusive: no D
    lowered = analyze(*common, "--fit-slope-min", 0.7)
    assert abs(lowered["d_cm2_s"] - D_TRUE_CM2_S) < 2 * lowered["d_err_cm2_s"]
