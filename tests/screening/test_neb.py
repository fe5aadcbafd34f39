"""NEB bands: a vacancy hop and an interstitial H hop in fcc Cu on EMT, each against a
direct ASE NEB; energies referenced to the lowest site; a CHGNet smoke run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.geometry import find_mic
from ase.mep import NEB
from ase.optimize import BFGS, FIRE
from pymatgen.core import Lattice, Structure

from screening.hops import HopError, HopSettings, InterstitialHop, find_hops, find_site_hops
from screening.interstitials import find_interstitials
from screening.neb import (
    NEBResult,
    NEBSettings,
    barriers_above_lowest_site,
    build_endpoints,
    run_neb,
)
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


def direct_ase_hydrogen_barriers() -> tuple[float, float]:
    """H from the octahedral hole (a/2, 0, 0) to the tetrahedral (a/4, a/4, -a/4) in
    32-atom Cu, with the project's settings (FIRE, fmax 0.05, spring 0.1, step 0.1 Å)."""
    cell = bulk("Cu", "fcc", a=A_CU, cubic=True).repeat(2)
    initial = cell + Atoms("H", [[A_CU / 2, 0, 0]])
    final = cell + Atoms("H", [[A_CU / 4, A_CU / 4, -A_CU / 4]])
    for end in (initial, final):
        end.calc = EMT()
        FIRE(end, logfile=None).run(fmax=0.05, steps=500)
    band = [initial] + [initial.copy() for _ in range(3)] + [final]
    for image in band[1:-1]:
        image.calc = EMT()
    neb = NEB(band, k=0.1, climb=True, method="improvedtangent")
    neb.interpolate(method="idpp", mic=True)
    assert FIRE(neb, maxstep=0.1, logfile=None).run(fmax=0.05, steps=500)
    energies = [image.get_potential_energy() for image in band]
    return max(energies) - energies[0], max(energies) - energies[-1]


def test_interstitial_octahedral_to_tetrahedral_hop_matches_direct_ase_neb() -> None:
    sites = find_interstitials(copper())
    hop_set = find_site_hops(copper(), sites.frac_coords, HopSettings(cutoff_ang=1.7))
    (hop_class,) = hop_set.classes
    hop = InterstitialHop.from_hop(hop_class.representative, sites.frac_coords, "H")
    assert sites.site_class[hop_class.representative.start] == 0  # the octahedral hole
    result = run_neb(copper(), hop, EMT(), SMALL)

    assert result.converged and result.endpoints_converged and result.endpoints_held
    assert result.n_atoms == 33 and result.hop_length_ang == pytest.approx(A_CU * 3**0.5 / 4)
    forward, reverse = direct_ase_hydrogen_barriers()
    assert result.forward_barrier_ev == pytest.approx(forward, abs=0.01)
    assert result.reverse_barrier_ev == pytest.approx(reverse, abs=0.01)
    assert result.forward_barrier_ev > result.reverse_barrier_ev + 0.5  # octahedral is lower
    assert barriers_above_lowest_site({0: result}) == {0: pytest.approx(result.barrier_ev)}


def band_energies(initial_ev: float, forward_ev: float, reverse_ev: float) -> NEBResult:
    """A band reduced to its energies (the rest is irrelevant to site referencing)."""
    return NEBResult(
        mechanism="interstitial",
        hop_length_ang=1.5,
        forward_barrier_ev=forward_ev,
        reverse_barrier_ev=reverse_ev,
        reaction_coordinate_ang=np.zeros(3),
        energy_profile_ev=np.zeros(3),
        converged=True,
        endpoints_converged=True,
        endpoint_shift_ang=0.1,
        initial_energy_ev=initial_ev,
        max_force_ev_ang=0.01,
        steps=10,
        force_calls=40,
        supercell=(2, 2, 2),
        n_atoms=33,
        wall_time_s=1.0,
    )


def test_barriers_are_counted_from_the_lowest_site() -> None:
    # octahedral (-10.0 eV) -> tetrahedral (-9.2 eV) over a saddle at -9.1 eV, and
    # tetrahedral -> tetrahedral over -8.9 eV: from the octahedral ground state that hop
    # costs 1.1 eV, not the 0.3 eV its own endpoints suggest.
    bands = {0: band_energies(-10.0, 0.9, 0.1), 1: band_energies(-9.2, 0.3, 0.3)}
    assert barriers_above_lowest_site(bands) == {0: pytest.approx(0.9), 1: pytest.approx(1.1)}
    assert barriers_above_lowest_site({}) == {}
    elsewhere = replace(bands[1], supercell=(3, 3, 3), n_atoms=109)
    with pytest.raises(ValueError, match="common energy zero"):
        barriers_above_lowest_site({0: bands[0], 1: elsewhere})
    # An endpoint that slid half a hop (1.5 Å) away no longer stands for its site.
    assert bands[0].endpoints_held
    assert not replace(bands[0], endpoint_shift_ang=0.75).endpoints_held


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
