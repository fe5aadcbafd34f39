"""Canonical Monte Carlo on a cluster expansion (mchammer) in a supercell of the parent.

The composition stays fixed (swaps within a sublattice). :func:`anneal` cools from a high
temperature to find a low-energy ordering; :func:`sample_canonical` equilibrates at one
temperature and takes snapshots of the disordered state. Both start from a seeded random
occupation with exact counts and pass the same seed to mchammer, so a run is reproducible.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from icet import ClusterExpansion
from mchammer.calculators import ClusterExpansionCalculator
from mchammer.ensembles import CanonicalAnnealing, CanonicalEnsemble
from pymatgen.core import Structure

from enumerate.cluster_expansion import ClusterExpansionModel, build_cluster_expansion
from enumerate.errors import ClusterExpansionError
from enumerate.grid import check_realisable
from enumerate.mc_random import private_random
from enumerate.placeholders import to_structure
from enumerate.space import CompositionPoint, Sublattice, site_counts, sublattice_sites

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonteCarloStructure:
    """A configuration found by Monte Carlo.

    ``structure`` holds real species with vacancies removed; ``energy_ev_site`` is the
    cluster-expansion energy (eV per lattice site); ``temperature_k`` the sampling temperature
    (for annealing, the final one); ``step`` the trial steps done when it was taken.
    """

    structure: Structure
    energy_ev_site: float
    temperature_k: float
    step: int
    seed: int


def _initial(
    model: ClusterExpansionModel,
    supercell: Structure,
    sublattices: Sequence[Sublattice],
    point: CompositionPoint,
    seed: int,
) -> Atoms:
    """Seeded random occupation of ``supercell`` at ``point``, in the model's icet symbols.

    Raises:
        ClusterExpansionError: the sublattices are not those the model was fitted on.
        UnrealisableCompositionError: ``point`` needs fractional atoms in ``supercell``.
    """
    fitted = {name: sorted(m) for name, m in model.lattice.symbols.items()}
    given = {sl.name: sorted(sl.species) for sl in sublattices}
    if fitted != given:
        raise ClusterExpansionError(
            f"the cluster expansion was fitted on sublattices {fitted}, not {given}"
        )
    check_realisable(point, site_counts(supercell, sublattices), (1, 1, 1), supercell)
    rng = np.random.default_rng(seed)
    symbols = [site.specie.symbol for site in supercell]
    for sl in sublattices:
        sites = sublattice_sites(supercell, sl)
        symbol_of = model.lattice.symbols[sl.name]
        decoration = [
            symbol_of[species]
            for species, fraction in sorted(point.occupation(sl).items())
            for _ in range(int(fraction * len(sites)))
        ]
        for i, symbol in zip(sites, rng.permutation(decoration), strict=True):
            symbols[i] = str(symbol)
    return Atoms(
        symbols,
        scaled_positions=supercell.frac_coords,
        cell=supercell.lattice.matrix,
        pbc=True,
    )


def _calculator(
    expansion: ClusterExpansion, model: ClusterExpansionModel, atoms: Atoms
) -> ClusterExpansionCalculator:
    """The mchammer calculator of ``atoms``, refused when clusters reach their own images."""
    calculator = ClusterExpansionCalculator(atoms, expansion)
    if calculator.cpp_calc.is_self_interacting:
        raise ClusterExpansionError(
            f"a {len(atoms)}-site supercell is too small for cutoffs {list(model.cutoffs_ang)} Å:"
            " clusters would meet their own periodic images; use a larger supercell"
        )
    return calculator


def _result(
    expansion: ClusterExpansion,
    model: ClusterExpansionModel,
    atoms: Atoms,
    temperature_k: float,
    step: int,
    seed: int,
) -> MonteCarloStructure:
    structure = to_structure(
        atoms.cell[:],
        atoms.get_scaled_positions(),
        atoms.get_chemical_symbols(),
        model.lattice.to_species,
    )
    energy = float(expansion.predict(atoms))
    return MonteCarloStructure(structure, energy, temperature_k, step, seed)


def anneal(
    model: ClusterExpansionModel,
    supercell: Structure,
    sublattices: Sequence[Sublattice],
    point: CompositionPoint,
    *,
    seed: int,
    n_steps: int = 100_000,
    t_start_k: float = 2000.0,
    t_stop_k: float = 10.0,
) -> MonteCarloStructure:
    """Simulated annealing (exponential cooling) of ``point`` on ``supercell``.

    Returns the lowest-energy configuration seen: mchammer's ground-state candidate (recorded
    every ``len(supercell)`` steps) or the final one, whichever is lower.

    Raises:
        ClusterExpansionError: the sublattices are not those the model was fitted on, or the
            supercell is too small for the model's cutoffs.
        UnrealisableCompositionError: ``point`` needs fractional atoms in ``supercell``.
    """
    expansion = build_cluster_expansion(model)
    atoms = _initial(model, supercell, sublattices, point, seed)
    with private_random():  # reproducible on a Dask worker too
        ensemble = CanonicalAnnealing(
            atoms,
            _calculator(expansion, model, atoms),
            T_start=t_start_k,
            T_stop=t_stop_k,
            n_steps=n_steps,
            random_seed=seed,
        )
        ensemble.run()
    best = min(
        (ensemble.estimated_ground_state, ensemble.structure),
        key=expansion.predict,
    )
    result = _result(expansion, model, best, t_stop_k, n_steps, seed)
    logger.info(
        "annealed %s on %d sites: %.4f eV/site (seed %d, %d steps)",
        point.label(),
        len(atoms),
        result.energy_ev_site,
        seed,
        n_steps,
    )
    return result


def sample_canonical(
    model: ClusterExpansionModel,
    supercell: Structure,
    sublattices: Sequence[Sublattice],
    point: CompositionPoint,
    *,
    temperature_k: float,
    seed: int,
    n_samples: int = 1,
    n_equilibration_steps: int = 50_000,
    sample_interval: int = 10_000,
) -> tuple[MonteCarloStructure, ...]:
    """Canonical Monte Carlo of ``point`` on ``supercell`` at ``temperature_k``.

    After ``n_equilibration_steps`` trial swaps, takes ``n_samples`` snapshots
    ``sample_interval`` swaps apart.

    Raises:
        ClusterExpansionError: the sublattices are not those the model was fitted on, or the
            supercell is too small for the model's cutoffs.
        UnrealisableCompositionError: ``point`` needs fractional atoms in ``supercell``.
    """
    expansion = build_cluster_expansion(model)
    atoms = _initial(model, supercell, sublattices, point, seed)
    samples = []
    with private_random():  # reproducible on a Dask worker too
        ensemble = CanonicalEnsemble(
            atoms,
            _calculator(expansion, model, atoms),
            temperature=temperature_k,
            random_seed=seed,
        )
        ensemble.run(n_equilibration_steps)
        for _ in range(n_samples):
            ensemble.run(sample_interval)
            samples.append(
                _result(expansion, model, ensemble.structure, temperature_k, ensemble.step, seed)
            )
    logger.info(
        "%d samples of %s at %g K on %d sites (seed %d)",
        n_samples,
        point.label(),
        temperature_k,
        len(atoms),
        seed,
    )
    return tuple(samples)
