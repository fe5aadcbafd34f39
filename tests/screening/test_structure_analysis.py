"""Structure analysis on hand-checkable lattices: fcc Cu, rock salt, a triclinic fcc cell, a
Gaussian random walk with known D, and ions pinned at known fractional positions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.geometry import get_distances
from ase.io.cube import read_cube_data
from ase.units import Bohr

from screening.structure_analysis import (
    Density,
    StructureAnalysisError,
    atom_msd,
    coordination_distribution,
    coordination_numbers,
    partial_rdfs,
    perpendicular_widths_ang,
    probability_density,
    van_hove_self,
    write_cube,
)
from screening.trajectory import Trajectory

A_CU = 3.6
A_NACL = 5.64


def _trajectory(
    symbols: list[str], positions: np.ndarray, cells: np.ndarray, dt_ps: float = 0.1
) -> Trajectory:
    n_frames = positions.shape[0]
    return Trajectory(
        symbols=tuple(symbols),
        positions_ang=positions,
        cells_ang=cells,
        times_ps=np.arange(n_frames) * dt_ps,
        energies_ev=np.zeros(n_frames),
        temperatures_k=np.full(n_frames, 300.0),
    )


def _vibrating(atoms: Atoms, n_frames: int = 4, sigma_ang: float = 0.01, seed: int = 0):
    """Frames of ``atoms`` with small Gaussian displacements (σ Å per component)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, sigma_ang, (n_frames, len(atoms), 3))
    positions = atoms.positions[None] + noise
    cells = np.repeat(np.array(atoms.cell)[None], n_frames, axis=0)
    return _trajectory(atoms.get_chemical_symbols(), positions, cells)


def _peak_after(rdf, r_from: float, r_to: float) -> float:
    window = (rdf.r_ang > r_from) & (rdf.r_ang < r_to)
    return float(rdf.r_ang[window][np.argmax(rdf.g[window])])


def test_fcc_first_shell_twelve_at_a_over_root2_second_at_a() -> None:
    trajectory = _vibrating(bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(3))
    rdf = partial_rdfs(trajectory, r_max_ang=5.0)[("Cu", "Cu")]
    assert not rdf.r_max_clipped and rdf.r_max_ang == pytest.approx(5.0)
    shell = coordination_numbers(rdf)
    assert shell.first_peak_ang == pytest.approx(A_CU / math.sqrt(2), abs=0.02)
    assert A_CU / math.sqrt(2) < shell.cutoff_ang < A_CU
    assert shell.coordination_number == pytest.approx(12.0, abs=0.1)
    assert _peak_after(rdf, shell.cutoff_ang, 4.0) == pytest.approx(A_CU, abs=0.02)
    assert np.nanmax(rdf.g[rdf.r_ang < 2.3]) == 0.0  # nothing closer than the first shell


def test_rock_salt_partials() -> None:
    rdfs = partial_rdfs(_vibrating(bulk("NaCl", "rocksalt", a=A_NACL, cubic=True).repeat(3)))
    assert set(rdfs) == {("Cl", "Cl"), ("Cl", "Na"), ("Na", "Na")}
    unlike = coordination_numbers(rdfs[("Cl", "Na")])
    assert unlike.first_peak_ang == pytest.approx(A_NACL / 2, abs=0.02)
    assert unlike.coordination_number == pytest.approx(6.0, abs=0.1)
    like = coordination_numbers(rdfs[("Na", "Na")])
    assert like.first_peak_ang == pytest.approx(A_NACL / math.sqrt(2), abs=0.02)
    assert like.coordination_number == pytest.approx(12.0, abs=0.1)
    swapped = rdfs[("Cl", "Na")].swapped()
    assert (swapped.center, swapped.neighbor) == ("Na", "Cl")
    np.testing.assert_allclose(swapped.n_cumulative, rdfs[("Cl", "Na")].n_cumulative)


def test_triclinic_primitive_fcc_matches_cubic() -> None:
    primitive = bulk("Cu", "fcc", a=A_CU).repeat(5)  # 60° cell, width 5a/√3 = 10.4 Å
    assert np.allclose(primitive.cell.angles(), 60.0)
    rdf = partial_rdfs(_vibrating(primitive), r_max_ang=5.0)[("Cu", "Cu")]
    shell = coordination_numbers(rdf)
    assert shell.first_peak_ang == pytest.approx(A_CU / math.sqrt(2), abs=0.02)
    assert shell.coordination_number == pytest.approx(12.0, abs=0.1)
    cubic = partial_rdfs(_vibrating(bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(3)), r_max_ang=5)
    np.testing.assert_allclose(rdf.n_cumulative[-1], cubic[("Cu", "Cu")].n_cumulative[-1], 0.02)


def test_skewed_cell_distances_match_ase_minimum_image() -> None:
    rng = np.random.default_rng(1)
    cell = np.array([[9.0, 0.0, 0.0], [6.5, 8.0, 0.0], [-4.0, 5.0, 9.5]])  # far from reduced
    frac = rng.random((2, 40, 3)) + rng.integers(-2, 3, (2, 40, 3))  # unwrapped, any image
    trajectory = _trajectory(["Li"] * 40, frac @ cell, np.repeat(cell[None], 2, axis=0))
    rdf = partial_rdfs(trajectory, r_max_ang=20.0, bin_ang=0.1)[("Li", "Li")]
    assert rdf.r_max_clipped
    assert rdf.r_max_ang <= perpendicular_widths_ang(cell).min() / 2
    edges = np.arange(rdf.g.size + 1) * rdf.bin_ang
    expected = np.zeros(rdf.g.size)
    for frame in trajectory.positions_ang:
        _, d = get_distances(frame, cell=cell, pbc=True)
        expected += 2 * np.histogram(d[np.triu_indices(40, 1)], edges)[0]
    shells = 4 / 3 * np.pi * np.diff(edges**3)
    np.testing.assert_allclose(rdf.g, expected / (40 * 39 / abs(np.linalg.det(cell)) * 2 * shells))
    assert expected.sum() > 100  # the comparison covers many pairs


def test_ideal_gas_gives_g_one() -> None:
    rng = np.random.default_rng(2)
    positions = rng.random((200, 60, 3)) * 12.0
    cells = np.repeat(np.eye(3)[None] * 12.0, 200, axis=0)
    rdf = partial_rdfs(_trajectory(["Li"] * 60, positions, cells), bin_ang=0.2)[("Li", "Li")]
    # (N - 1)/V for like pairs: normalising by N/V instead would give 59/60 = 0.983
    assert np.average(rdf.g, weights=rdf.r_ang**2) == pytest.approx(1.0, abs=0.006)
    ideal_n = 59 / 12.0**3 * 4 / 3 * np.pi * rdf.r_ang**3  # n(r) at the bin centres
    np.testing.assert_allclose(rdf.n_cumulative[-5:], ideal_n[-5:], rtol=0.01)


def test_r_max_clipped_in_small_cell() -> None:
    rdfs = partial_rdfs(_vibrating(bulk("Cu", "fcc", a=A_CU, cubic=True)), r_max_ang=8.0)
    rdf = rdfs[("Cu", "Cu")]
    assert rdf.r_max_clipped
    assert rdf.r_max_requested_ang == 8.0
    assert rdf.r_max_ang == pytest.approx(A_CU / 2)
    assert rdf.r_ang[-1] < A_CU / 2


def test_coordination_distribution_perfect_lattice() -> None:
    trajectory = _vibrating(bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(3), sigma_ang=0.0)
    assert coordination_distribution(trajectory, "Cu", "Cu", 3.0) == {12: 1.0}
    salt = _vibrating(bulk("NaCl", "rocksalt", a=A_NACL, cubic=True).repeat(2))
    assert coordination_distribution(salt, "Na", "Cl", 3.5) == {6: 1.0}
    with pytest.raises(StructureAnalysisError, match="half the cell width"):
        coordination_distribution(trajectory, "Cu", "Cu", 6.0)


def test_coordination_distribution_around_a_vacancy() -> None:
    atoms = bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(3)
    del atoms[0]  # a vacancy: its 12 former neighbours keep 11, the other 95 atoms keep 12
    fractions = coordination_distribution(_vibrating(atoms, n_frames=2), "Cu", "Cu", 3.0)
    assert fractions == pytest.approx({11: 12 / 107, 12: 95 / 107})


def test_van_hove_self_matches_gaussian_random_walk() -> None:
    d_ang2_ps, dt_ps, lag_ps, bin_ang = 0.2, 0.1, 2.0, 0.05
    rng = np.random.default_rng(3)
    steps = rng.normal(0.0, math.sqrt(2 * d_ang2_ps * dt_ps), (100, 1000, 3))
    positions = np.cumsum(steps, axis=0)  # unwrapped, far outside the 10 Å cell
    cells = np.repeat(np.eye(3)[None] * 10.0, 100, axis=0)
    trajectory = _trajectory(["Li"] * 1000, positions, cells, dt_ps=dt_ps)
    r, p = van_hove_self(trajectory, "Li", lag_ps=lag_ps, bin_ang=bin_ang)
    assert np.sum(p) * bin_ang == pytest.approx(1.0, abs=1e-12)  # radial form: ∫ P dr = 1
    four_dt = 4 * d_ang2_ps * lag_ps
    expected = 4 * np.pi * r**2 * (np.pi * four_dt) ** -1.5 * np.exp(-(r**2) / four_dt)
    assert np.max(np.abs(p - expected)) < 0.06 * expected.max()
    cumulative = np.cumsum(p) * bin_ang  # P(|Δr| < upper bin edge) against the exact CDF
    x = (r + bin_ang / 2) / math.sqrt(four_dt)
    exact = np.array([math.erf(v) for v in x]) - 2 / math.sqrt(np.pi) * x * np.exp(-(x**2))
    assert np.max(np.abs(cumulative - exact)) < 0.01
    assert r[np.argmax(p)] == pytest.approx(math.sqrt(four_dt), abs=0.1)  # mode at √(4Dt)
    short = van_hove_self(trajectory, "Li", lag_ps=lag_ps, r_max_ang=1.0)[1]
    assert np.sum(short) * bin_ang < 0.5  # the part beyond r_max is left out, not renormalised
    with pytest.raises(StructureAnalysisError, match="outside the run"):
        van_hove_self(trajectory, "Li", lag_ps=100.0)


def test_atom_msd_separates_movers_from_rattlers() -> None:
    n_frames = 11
    positions = np.zeros((n_frames, 3, 3))
    positions[:, 0, 0] = 0.5 * np.arange(n_frames)  # drifts 0.5 Å per frame
    positions[:, 1, 0] = np.where(np.arange(n_frames) % 2 == 0, -1.0, 1.0)  # rattles ±1 Å
    cells = np.repeat(np.eye(3)[None] * 10.0, n_frames, axis=0)
    trajectory = _trajectory(["Li", "Li", "O"], positions, cells)
    result = atom_msd(trajectory, "Li")
    np.testing.assert_array_equal(result.atom_indices, [0, 1])
    np.testing.assert_allclose(result.squared_displacement_ang2, [25.0, 0.0])
    np.testing.assert_allclose(result.msd_half_run_ang2, [6.25, 4.0])  # lag 5 frames
    assert result.run_ps == pytest.approx(1.0) and result.lag_ps == pytest.approx(0.5)
    shifted = atom_msd(trajectory, "Li", positions_ang=positions * 2)
    np.testing.assert_allclose(shifted.squared_displacement_ang2, [100.0, 0.0])


def _pinned_density_trajectory() -> tuple[Trajectory, np.ndarray]:
    """Two Li and one O fixed in a triclinic cell; grid at 0.2 Å is (30, 26, 21)."""
    cell = np.array([[6.0, 0.0, 0.0], [1.0, 5.0, 0.0], [0.5, 0.5, 4.0]])
    frac = np.array([[0.3, 0.5, 0.1], [0.7, 0.2, 0.9], [0.0, 0.0, 0.0]])
    positions = np.repeat((frac @ cell)[None], 5, axis=0)
    positions[2, 0] += cell[0] - 2 * cell[2]  # an unwrapped frame: same site, other image
    cells = np.repeat(cell[None], 5, axis=0)
    return _trajectory(["Li", "Li", "O"], positions, cells), cell


def test_probability_density_peaks_at_pinned_sites_and_counts_ions() -> None:
    trajectory, cell = _pinned_density_trajectory()
    density = probability_density(trajectory, "Li", spacing_ang=0.2)
    shape = np.ceil(np.linalg.norm(cell, axis=1) / 0.2).astype(int)
    assert density.values_per_ang3.shape == tuple(shape)  # (30, 26, 21)
    assert density.values_per_ang3.sum() * density.voxel_volume_ang3 == pytest.approx(2.0)
    for voxel in [(9, 13, 2), (21, 5, 19)]:  # round((0.3, 0.5, 0.1) * shape), (0.7, 0.2, 0.9)
        assert density.values_per_ang3[voxel] == pytest.approx(1.0 / density.voxel_volume_ang3)
    assert np.count_nonzero(density.values_per_ang3) == 2
    again = Density.from_npz_bytes(density.to_npz_bytes())
    np.testing.assert_array_equal(again.values_per_ang3, density.values_per_ang3)
    assert (again.species, again.n_ions, again.n_frames) == ("Li", 2, 5)


def test_cube_file_round_trips(tmp_path) -> None:
    trajectory, cell = _pinned_density_trajectory()
    density = probability_density(trajectory, "Li", spacing_ang=0.5)
    path = tmp_path / "li.cube"
    density.to_cube(path, trajectory.symbols, trajectory.positions_ang[0])
    data, atoms = read_cube_data(str(path))
    np.testing.assert_allclose(data, density.values_per_ang3, rtol=1e-4)
    np.testing.assert_allclose(np.array(atoms.cell), cell, atol=1e-4)
    np.testing.assert_allclose(atoms.positions, trajectory.positions_ang[0], atol=1e-5)
    assert atoms.get_chemical_symbols() == ["Li", "Li", "O"]
    header = path.read_text().splitlines()[2:6]
    assert header[0].split() == ["3", "0.000000", "0.000000", "0.000000"]
    for i, line in enumerate(header[1:]):
        n, *vector = line.split()
        assert int(n) == density.values_per_ang3.shape[i]
        np.testing.assert_allclose(np.array(vector, float), cell[i] / int(n) / Bohr, atol=2e-6)


def test_write_cube_rejects_mismatched_atoms(tmp_path) -> None:
    with pytest.raises(StructureAnalysisError):
        write_cube(tmp_path / "x.cube", np.zeros((2, 2, 2)), np.eye(3), ["Li"], np.zeros((2, 3)))
