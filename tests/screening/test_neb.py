"""NEB bands: a vacancy hop in fcc Cu on EMT against a direct ASE NEB; a CHGNet smoke run."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.geometry import find_mic
from ase.mep import NEB
from ase.optimize import BFGS, FIRE
from pymatgen.core import Lattice, Structure

from screening.hops import HopError, HopSettings, InterstitialHop, find_hops
from screening.neb import NEBSettings, build_endpoints, run_neb
from screening.percolation import hop_edges, percolating_barriers
from screening.potentials import calculator_for_task
from screening.structures import to_structure

A_CU = 3.6
# The 32-atom cubic cell (2 x 2 x 2 conventional cells, 7.2 Å wide) and three images.
SMALL = NEBSettings(images=3, supercell_min_length_ang=7.0)


def copper() -> Structure:
    return to_structure(bulk("Cu", "fcc", a=A_CU, cubic=True))


def direct_ase_barrier(images: int) -> float:
    """A nearest-neighbour vacancy hop in 32-atom Cu, written with ASE alone."""
    atoms = bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(2)
    neighbour = int(np.argmin(np.linalg.norm(atoms.positions - [A_CU / 2, A_CU / 2, 0], axis=1)))
    initial = atoms.copy()
    final = atoms.copy()
    final.positions[0] = atoms.positions[neighbour]
    del initial[neighbour], final[neighbour]
    for end in (initial, final):
        end.calc = EMT()
        BFGS(end, logfile=None).run(fmax=0.01)
    band = [initial] + [initial.copy() for _ in range(images)] + [final]
    for image in band[1:-1]:
        image.calc = EMT()
    neb = NEB(band, climb=True, method="improvedtangent")
    neb.interpolate(method="idpp", mic=True)
    assert FIRE(neb, logfile=None).run(fmax=0.01, steps=1000)
    energies = [image.get_potential_energy() for image in band]
    return max(energies) - energies[0]


def test_vacancy_barrier_matches_direct_ase_neb_and_percolates_in_3d() -> None:
    hop_set = find_hops(copper(), HopSettings(mobile_species="Cu", cutoff_ang=3.0))
    (hop_class,) = hop_set.classes
    result = run_neb(copper(), hop_class.representative, EMT(), SMALL)

    assert result.converged and result.endpoints_converged
    assert result.mechanism == "vacancy"
    assert result.supercell == (2, 2, 2) and result.n_atoms == 31
    assert result.hop_length_ang == pytest.approx(A_CU / np.sqrt(2))
    assert result.forward_barrier_ev == pytest.approx(direct_ase_barrier(3), abs=0.01)
    assert result.reverse_barrier_ev == pytest.approx(result.forward_barrier_ev, abs=1e-3)
    assert result.max_force_ev_ang < SMALL.fmax
    profile, path = result.energy_profile_ev, result.reaction_coordinate_ang
    assert profile.shape == path.shape == (SMALL.images + 2,)
    assert profile[0] == 0.0 and profile.max() == pytest.approx(result.forward_barrier_ev)
    assert np.all(np.diff(path) > 0)
    # Every band step evaluates each image once; endpoint relaxations add their own.
    assert result.force_calls > SMALL.images * (result.steps + 1)

    percolation = percolating_barriers(hop_edges(hop_set, {hop_class.index: result.barrier_ev}))
    assert percolation.barrier_3d_ev == result.barrier_ev
    assert percolation.barrier_1d_ev == result.barrier_ev


def test_vacancy_endpoints_move_one_ion_into_the_vacancy() -> None:
    hop = find_hops(copper(), HopSettings(mobile_species="Cu", cutoff_ang=3.0)).classes[0]
    initial, final, supercell = build_endpoints(copper(), hop.representative, 10.0)
    assert supercell == (3, 3, 3)
    assert len(initial) == len(final) == 4 * 27 - 1
    assert np.all(initial.cell.volume / initial.cell.areas() >= 10.0)
    moved = _mic_displacements(initial, final)
    assert np.count_nonzero(moved > 1e-9) == 1
    assert moved.max() == pytest.approx(A_CU / np.sqrt(2))


def test_hop_longer_than_half_the_supercell_is_refused() -> None:
    hop = find_hops(copper(), HopSettings(mobile_species="Cu", cutoff_ang=3.0)).classes[0]
    with pytest.raises(HopError, match="supercell"):
        build_endpoints(copper(), hop.representative, 3.0)


def test_interstitial_octahedral_hop_is_symmetric() -> None:
    hop = InterstitialHop.from_positions(copper(), "H", [0.5, 0, 0], [0, 0.5, 0])
    result = run_neb(copper(), hop, EMT(), SMALL)
    assert result.mechanism == "interstitial"
    assert result.n_atoms == 33
    assert result.converged
    assert result.forward_barrier_ev > 0.1
    assert result.reverse_barrier_ev == pytest.approx(result.forward_barrier_ev, abs=1e-3)


def test_step_cap_returns_an_unconverged_band() -> None:
    hop = find_hops(copper(), HopSettings(mobile_species="Cu", cutoff_ang=3.0)).classes[0]
    settings = NEBSettings(images=3, supercell_min_length_ang=7.0, max_steps=2)
    result = run_neb(copper(), hop.representative, EMT(), settings)
    assert not result.converged
    assert result.steps == 2
    assert result.max_force_ev_ang > settings.fmax


def test_chgnet_band_on_bcc_lithium_runs() -> None:
    lithium = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    hop = find_hops(lithium, HopSettings(mobile_species="Li", cutoff_ang=3.2)).classes[0]
    calculator, _ = calculator_for_task("chgnet", 1)
    settings = NEBSettings(
        images=3, max_steps=3, endpoint_max_steps=3, supercell_min_length_ang=6.0
    )
    result = run_neb(lithium, hop.representative, calculator, settings)
    assert result.n_atoms == 15
    assert np.all(np.isfinite(result.energy_profile_ev))
    assert np.isfinite(result.forward_barrier_ev)
    assert result.force_calls >= 2 + 3 * (result.steps + 1)


def _mic_displacements(initial: Atoms, final: Atoms) -> np.ndarray:
    return find_mic(final.positions - initial.positions, initial.cell, pbc=True)[1]
