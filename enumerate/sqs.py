"""Special quasirandom structures (SQS) on a given supercell with icet.

The supercell is handed to icet with, per site, the species its sublattice allows at this
composition (fixed sites keep their element). Each vacancy, and each real species that two
mixed sublattices would share, is stood in for by a placeholder element of its own that is
absent from the structure: icet keys its random-alloy target by chemical symbol and groups
sites into sublattices by their species lists, so a shared symbol would mis-target the SQS.
Placeholders are mapped back (vacancies removed) before the structure is returned.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from ase import Atoms
from icet import ClusterSpace
from icet.tools.structure_generation import (
    _get_sqs_cluster_vector,
    generate_sqs_from_supercells,
    occupy_structure_randomly,
)
from mchammer.calculators import compare_cluster_vectors
from pymatgen.core import Structure

from enumerate.grid import check_realisable
from enumerate.mc_random import private_random
from enumerate.placeholders import icet_symbols, to_structure
from enumerate.space import CompositionPoint, Sublattice, site_counts, sublattice_sites

logger = logging.getLogger(__name__)

_CUTOFF_MARGIN = 1e-2  # Å kept below the shortest periodic image distance


@dataclass(frozen=True)
class SQSResult:
    """An ordered decoration of a supercell and its distance from the random alloy.

    ``objective`` is icet's SQS score (van de Walle et al., Calphad 42, 13 (2013)): the
    L1 distance between the cluster vector and that of the infinite random alloy, minus the
    radius (Å) of the longest perfectly matched pair; lower is better, 0 for a pure
    composition. ``cutoffs`` are the cluster cutoffs actually used (Å, pair then triplet),
    empty when no cluster space was needed; ``n_steps`` is 0 when no annealing was run.
    """

    structure: Structure
    objective: float
    seed: int
    n_steps: int
    cutoffs: tuple[float, ...]


@dataclass(frozen=True)
class _Problem:
    """The icet view of one (supercell, composition): what both generators need."""

    cluster_space: ClusterSpace
    atoms: Atoms
    target: dict[str, dict[str, float]]
    to_species: dict[str, str]
    cutoffs: tuple[float, ...]


def shortest_image_distance(structure: Structure) -> float:
    """Length (Å) of the shortest non-zero lattice vector: a site's nearest periodic image."""
    matrix = structure.lattice.lll_matrix
    vectors = (np.dot(n, matrix) for n in itertools.product((-1, 0, 1), repeat=3) if any(n))
    return float(min(np.linalg.norm(v) for v in vectors))


def _clip_cutoffs(
    supercell: Structure, pair_cutoff: float, triplet_cutoff: float | None
) -> tuple[float, ...]:
    """Keep cutoffs below the shortest image distance, beyond which a site pairs with itself."""
    limit = shortest_image_distance(supercell) - _CUTOFF_MARGIN
    requested = (pair_cutoff,) if triplet_cutoff is None else (pair_cutoff, triplet_cutoff)
    used = tuple(min(c, limit) for c in requested)
    if used != requested:
        logger.info("cutoffs %s Å clipped to %s Å for this supercell", requested, used)
    return used


def _decorate(
    supercell: Structure, sublattices: Sequence[Sublattice], point: CompositionPoint
) -> tuple[list[str], dict[int, dict[str, Fraction]], dict[str, str]]:
    """Per-site icet symbols, icet occupations of the mixed sublattices, symbol -> species.

    Pure sublattices are decorated outright; mixed ones get their first icet symbol on every
    site (the generators reshuffle it). The second value maps a sublattice's index in
    ``sublattices`` to its icet symbol fractions.
    """
    counts = site_counts(supercell, sublattices)
    check_realisable(point, counts, (1, 1, 1), supercell)
    symbols = [site.specie.symbol for site in supercell]
    occupations = [point.occupation(sl) for sl in sublattices]
    symbol_maps = icet_symbols(supercell, sublattices, occupations)
    to_species = {sym: sp for m in symbol_maps for sp, sym in m.items()}
    mixed: dict[int, dict[str, Fraction]] = {}
    for index, (sl, occ, symbol_of) in enumerate(
        zip(sublattices, occupations, symbol_maps, strict=True)
    ):
        icet_occ = {symbol_of[s]: f for s, f in sorted(occ.items())}
        if len(icet_occ) > 1:
            mixed[index] = icet_occ
        for i in sublattice_sites(supercell, sl):
            symbols[i] = next(iter(icet_occ))
    return symbols, mixed, to_species


def _problem(
    supercell: Structure,
    sublattices: Sequence[Sublattice],
    mixed: Mapping[int, Mapping[str, Fraction]],
    symbols: list[str],
    to_species: dict[str, str],
    cutoffs: tuple[float, ...],
) -> _Problem:
    allowed = [[s] for s in symbols]
    for index, icet_occ in mixed.items():
        for i in sublattice_sites(supercell, sublattices[index]):
            allowed[i] = sorted(icet_occ)
    atoms = Atoms(
        symbols=symbols,
        scaled_positions=supercell.frac_coords,
        cell=supercell.lattice.matrix,
        pbc=True,
    )
    cluster_space = ClusterSpace(atoms, list(cutoffs), allowed)
    target: dict[str, dict[str, float]] = {}
    for icet_sublattice in cluster_space.get_sublattices(atoms).active_sublattices:
        icet_occ = next(
            o for o in mixed.values() if sorted(o) == sorted(icet_sublattice.chemical_symbols)
        )
        target[icet_sublattice.symbol] = {s: float(f) for s, f in icet_occ.items()}
    return _Problem(cluster_space, atoms, target, to_species, cutoffs)


def _objective(problem: _Problem, atoms: Atoms) -> float:
    """icet's SQS score of ``atoms`` against the random-alloy cluster vector."""
    target_cv = _get_sqs_cluster_vector(problem.cluster_space, problem.target)
    cv = problem.cluster_space.get_cluster_vector(atoms)
    return float(compare_cluster_vectors(cv, target_cv, problem.cluster_space.as_list))


def _run(
    supercell: Structure,
    sublattices: Sequence[Sublattice],
    point: CompositionPoint,
    seed: int,
    n_steps: int | None,
    pair_cutoff: float,
    triplet_cutoff: float | None,
) -> SQSResult:
    """Shared body: ``n_steps=None`` means a seeded random decoration, else annealing."""
    symbols, mixed, to_species = _decorate(supercell, sublattices, point)
    if not mixed:
        structure = to_structure(supercell.lattice, supercell.frac_coords, symbols, to_species)
        return SQSResult(structure, 0.0, seed, 0, ())
    cutoffs = _clip_cutoffs(supercell, pair_cutoff, triplet_cutoff)
    problem = _problem(supercell, sublattices, mixed, symbols, to_species, cutoffs)
    if not problem.cluster_space.number_of_orbits_by_order.get(2):
        logger.warning(
            "no pair cluster between mixed sites within %.2f Å in this supercell: the"
            " ordering of %s is unconstrained (use a larger supercell and pair cutoff)",
            cutoffs[0],
            point.label(),
        )
    if n_steps is None:
        atoms = problem.atoms.copy()
        occupy_structure_randomly(atoms, problem.cluster_space, problem.target, seed)
    else:
        with private_random():  # reproducible on a Dask worker too
            atoms = generate_sqs_from_supercells(
                problem.cluster_space,
                [problem.atoms],
                problem.target,
                n_steps=n_steps,
                random_seed=seed,
            )
    objective = _objective(problem, atoms)
    logger.info(
        "%s on %d sites: objective %.4f (%s, seed %d, cutoffs %s)",
        point.label(),
        len(atoms),
        objective,
        "random" if n_steps is None else f"{n_steps} MC steps",
        seed,
        cutoffs,
    )
    structure = to_structure(
        supercell.lattice, supercell.frac_coords, atoms.get_chemical_symbols(), to_species
    )
    return SQSResult(structure, objective, seed, n_steps or 0, cutoffs)


def generate_sqs(
    supercell: Structure,
    sublattices: Sequence[Sublattice],
    point: CompositionPoint,
    *,
    seed: int,
    n_steps: int = 3000,
    pair_cutoff: float = 6.0,
    triplet_cutoff: float | None = None,
) -> SQSResult:
    """Anneal an SQS of ``point`` on exactly this ``supercell`` (icet, van de Walle score).

    Cutoffs (Å) are clipped below the supercell's shortest periodic image distance. A
    composition whose sublattices are all pure is decorated directly (objective 0).

    Raises:
        SublatticeError: a sublattice replaces a species the supercell lacks.
        CompositionError: ``point`` does not match ``sublattices``.
        UnrealisableCompositionError: a species count in the supercell is not an integer
            (the suggested repetition is then one of ``supercell`` itself).
    """
    return _run(supercell, sublattices, point, seed, n_steps, pair_cutoff, triplet_cutoff)


def random_occupation(
    supercell: Structure,
    sublattices: Sequence[Sublattice],
    point: CompositionPoint,
    *,
    seed: int,
    pair_cutoff: float = 6.0,
    triplet_cutoff: float | None = None,
) -> SQSResult:
    """A seeded random decoration with exact counts, scored like :func:`generate_sqs`."""
    return _run(supercell, sublattices, point, seed, None, pair_cutoff, triplet_cutoff)
