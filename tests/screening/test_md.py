"""MD with the stability monitor on EMT: stable runs, and runs stopped with a reason."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from screening.md import MDSettings, StabilityCriteria, run_md, supercell_for
from screening.potentials import PotentialSpec, load_calculator
from screening.structures import to_structure


@pytest.fixture(scope="module")
def emt():
    return load_calculator(PotentialSpec.parse("emt"), "cpu")


def _copper(a: float = 3.61, repeat: int = 3):
    return to_structure(bulk("Cu", "fcc", a=a, cubic=True).repeat(repeat))


def test_stable_run_records_production_frames(emt) -> None:
    settings = MDSettings(
        temperature_k=600,
        timestep_fs=2.0,
        steps=200,
        equilibration_steps=50,
        sample_every=10,
        mobile_species="Cu",
        seed=3,
    )
    result = run_md(_copper(), emt, settings)
    assert result.stable and result.instability_reason is None
    assert result.trajectory.n_frames == 21  # t = 0 and every 10th of 200 steps
    assert result.steps_done == 250
    assert result.trajectory.times_ps[1] - result.trajectory.times_ps[0] == pytest.approx(0.02)
    assert 300 < result.trajectory.temperatures_k.mean() < 900  # thermostat holds ~600 K
    again = run_md(_copper(), emt, settings)
    np.testing.assert_allclose(again.trajectory.positions_ang, result.trajectory.positions_ang)


def test_temperature_out_of_the_window_stops_the_run(emt) -> None:
    # Atoms rattled by 0.25 Å release their potential energy as heat: far above 1.5 x 50 K.
    rattled = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
    rattled.rattle(0.25, seed=1)
    settings = MDSettings(
        temperature_k=50,
        steps=400,
        equilibration_steps=0,
        sample_every=5,
        mobile_species="Cu",
        thermostat="nose-hoover",
    )
    result = run_md(to_structure(rattled), emt, settings)
    assert not result.stable
    assert "left the window [25, 75] K" in result.instability_reason
    assert 0 < result.catastrophic_step < 50
    assert result.pre_failure is not None and result.pre_failure.n_frames >= 1


def test_atoms_pushed_together_stop_the_run(emt) -> None:
    structure = _copper()
    structure.translate_sites([0], [0.2, 0.0, 0.0], frac_coords=False)  # 0.2 Å off its site
    neighbour = structure[0].coords + np.array([0.5, 0.0, 0.0])
    structure.replace(1, "Cu", coords=neighbour, coords_are_cartesian=True)
    settings = MDSettings(
        temperature_k=300,
        steps=50,
        equilibration_steps=0,
        sample_every=1,
        mobile_species="Cu",
        stability=StabilityCriteria(temperature_window=(0.0, 1e9), max_energy_rise_ev_atom=1e9),
    )
    result = run_md(structure, emt, settings)
    assert not result.stable
    assert result.catastrophic_step == 0
    assert "two atoms 0.50 Å apart" in result.instability_reason


def test_supercell_reaches_the_minimum_width() -> None:
    assert supercell_for(to_structure(bulk("Cu", "fcc", a=3.61, cubic=True)), 10.0) == (3, 3, 3)


def test_a_melting_framework_stops_the_run(emt) -> None:
    # Cu3Au at 3500 K (EMT melts it near 1300 K): the Cu framework around the "mobile" Au
    # diffuses, so the windowed framework MSD passes 1 Å² and keeps growing.
    alloy = bulk("Cu", "fcc", a=3.7, cubic=True).repeat(2)
    alloy.symbols[::4] = "Au"
    settings = MDSettings(
        temperature_k=3500,
        steps=3000,
        equilibration_steps=0,
        sample_every=5,
        mobile_species="Au",
        seed=2,
    )
    result = run_md(to_structure(alloy), emt, settings)
    assert not result.stable
    assert "framework melted" in result.instability_reason
    assert "mean over 500 fs" in result.instability_reason
    assert result.catastrophic_step > 250  # not before a whole window has been averaged
