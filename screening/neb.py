"""Migration barriers by climbing-image nudged elastic band (ASE's NEB) with any calculator.

Each band lives in a supercell whose every width reaches ``supercell_min_length_ang``.
Vacancy mechanism (a :class:`~screening.hops.Hop`): the ion on the hop's end site is
removed and the ion on its start site moves into that vacancy. Interstitial mechanism (an
:class:`~screening.hops.InterstitialHop`, e.g. between sites of
:mod:`screening.interstitials`): one ion is added and moves between two empty positions.
Endpoints are relaxed at fixed cell, the images interpolated by IDPP with the
minimum-image convention, and the band relaxed by FIRE with a climbing image and the
improved tangent. An unconverged band is a result (``converged=False``), not an error.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator
from ase.geometry import find_mic, get_distances
from ase.mep import NEB
from ase.optimize import FIRE
from pymatgen.core import Structure

from screening.errors import CalculationFailed
from screening.hops import Hop, HopError, InterstitialHop
from screening.md import supercell_for
from screening.relax import RelaxSettings, relax_structure
from screening.structures import to_atoms, to_structure

Mechanism = Literal["vacancy", "interstitial"]


@dataclass(frozen=True)
class NEBSettings:
    """One band: intermediate images, force threshold (eV/Å), step caps, spring (eV/Å²).

    ``fmax`` applies to the endpoint relaxations and to the band; ``max_step_ang`` is the
    largest move FIRE makes per band step.
    """

    images: int = 5
    fmax: float = 0.05
    max_steps: int = 500
    endpoint_max_steps: int = 500
    max_step_ang: float = 0.1
    spring_ev_ang2: float = 0.1
    supercell_min_length_ang: float = 10.0


@dataclass(frozen=True)
class NEBResult:
    """One relaxed band.

    Barriers are from the highest image (the climbing image) to the initial (forward) and
    final (reverse) endpoint. ``energy_profile_ev`` is relative to the initial endpoint,
    along ``reaction_coordinate_ang`` (cumulative image-to-image distance in 3N space).
    ``converged`` is the band's; ``endpoints_converged`` that of both endpoint
    relaxations, and ``endpoint_shift_ang`` the largest distance an atom moved in them.
    ``initial_energy_ev`` is the relaxed initial endpoint's total energy: bands of one
    structure share the supercell and its atoms, so their energies compare.
    ``force_calls`` counts every energy-and-forces evaluation.
    """

    mechanism: Mechanism
    hop_length_ang: float
    forward_barrier_ev: float
    reverse_barrier_ev: float
    reaction_coordinate_ang: np.ndarray
    energy_profile_ev: np.ndarray
    converged: bool
    endpoints_converged: bool
    endpoint_shift_ang: float
    initial_energy_ev: float
    max_force_ev_ang: float
    steps: int
    force_calls: int
    supercell: tuple[int, int, int]
    n_atoms: int
    wall_time_s: float

    @property
    def barrier_ev(self) -> float:
        """The larger of the two barriers: what it costs to cross the hop either way."""
        return max(self.forward_barrier_ev, self.reverse_barrier_ev)

    @property
    def endpoints_held(self) -> bool:
        """Whether both endpoints stayed within half a hop of where they were built. From an
        interstitial site that is no minimum the ion slides away; the band is then no hop."""
        return self.endpoint_shift_ang < 0.5 * self.hop_length_ang

    @property
    def saddle_energy_ev(self) -> float:
        """Total energy of the band's highest image (eV)."""
        return self.initial_energy_ev + self.forward_barrier_ev


def run_neb(
    structure: Structure,
    hop: Hop | InterstitialHop,
    calculator: Calculator,
    settings: NEBSettings = NEBSettings(),
) -> NEBResult:
    """Relax the endpoints, then the climbing-image band, of one hop in ``structure``.

    Raises HopError when the hop does not fit the supercell, CalculationFailed when the
    potential returns non-finite energies or forces.
    """
    started = time.perf_counter()
    initial, final, supercell = build_endpoints(structure, hop, settings.supercell_min_length_ang)
    relax = RelaxSettings(
        fmax=settings.fmax, max_steps=settings.endpoint_max_steps, relax_cell=False
    )
    endpoints = []
    for atoms in (initial, final):
        counted = _CountingCalculator(calculator)
        relaxed = relax_structure(to_structure(atoms), counted, relax)
        frozen = to_atoms(relaxed.structure)
        frozen.calc = SinglePointCalculator(frozen, energy=relaxed.energy_ev)
        endpoints.append((frozen, relaxed.converged, counted))
    (first, first_ok, first_calls), (last, last_ok, last_calls) = endpoints
    shift = max(_displacements(initial, first).max(), _displacements(final, last).max())

    images = [first] + [first.copy() for _ in range(settings.images)] + [last]
    band = NEB(
        images,
        k=settings.spring_ev_ang2,
        climb=True,
        method="improvedtangent",
    )
    band.interpolate(method="idpp", mic=True)
    image_calls = [_CountingCalculator(calculator) for _ in images[1:-1]]
    for image, counted in zip(images[1:-1], image_calls, strict=True):
        image.calc = counted
    optimizer = FIRE(band, maxstep=settings.max_step_ang, logfile=None)
    converged = bool(optimizer.run(fmax=settings.fmax, steps=settings.max_steps))

    energies = np.array([image.get_potential_energy() for image in images])
    forces = band.get_forces()
    return NEBResult(
        mechanism="vacancy" if isinstance(hop, Hop) else "interstitial",
        hop_length_ang=hop.length_ang,
        forward_barrier_ev=float(energies.max() - energies[0]),
        reverse_barrier_ev=float(energies.max() - energies[-1]),
        reaction_coordinate_ang=_path_length(images),
        energy_profile_ev=energies - energies[0],
        converged=converged,
        endpoints_converged=first_ok and last_ok,
        endpoint_shift_ang=float(shift),
        initial_energy_ev=float(energies[0]),
        max_force_ev_ang=float(np.linalg.norm(forces, axis=1).max()),
        steps=int(optimizer.nsteps),
        force_calls=sum(c.calls for c in (first_calls, last_calls, *image_calls)),
        supercell=supercell,
        n_atoms=len(first),
        wall_time_s=time.perf_counter() - started,
    )


def barriers_above_lowest_site(bands: Mapping[int, NEBResult]) -> dict[int, float]:
    """Each band's saddle above the lowest endpoint of all the bands (eV), keyed as given.

    The bands must share one supercell and its atoms (the hops of one structure). This is
    what an ion resting in the most stable site pays to cross each hop, so that hops
    between inequivalent sites (octahedral and tetrahedral, say) combine in one network;
    for a single band it is its ``barrier_ev``.
    """
    if len({(band.supercell, band.n_atoms) for band in bands.values()}) > 1:
        raise ValueError("bands in different supercells have no common energy zero")
    if not bands:
        return {}
    lowest = min(
        min(band.initial_energy_ev, band.saddle_energy_ev - band.reverse_barrier_ev)
        for band in bands.values()
    )
    return {index: band.saddle_energy_ev - lowest for index, band in bands.items()}


def build_endpoints(
    structure: Structure, hop: Hop | InterstitialHop, min_length_ang: float
) -> tuple[Atoms, Atoms, tuple[int, int, int]]:
    """Unrelaxed initial and final states of the hop in the supercell, and its repetitions.

    Both states hold the same atoms in the same order; only the moving ion differs.
    Raises HopError when the hop is not shorter than half the supercell's narrowest width
    (the minimum image would then be another hop).
    """
    supercell = supercell_for(structure, min_length_ang)
    cell = to_atoms(structure).repeat(supercell)
    if 2 * hop.length_ang >= min(cell.cell.volume / cell.cell.areas()):
        raise HopError(
            f"a {hop.length_ang:.2f} Å hop needs a supercell wider than twice that; "
            f"raise the minimum supercell length ({min_length_ang:g} Å)"
        )
    lattice = structure.lattice
    if isinstance(hop, InterstitialHop):
        initial = cell + Atoms(hop.species, [lattice.get_cartesian_coords(hop.start_frac)])
        final = cell + Atoms(hop.species, [lattice.get_cartesian_coords(hop.end_frac)])
        return initial, final, supercell
    end_position = lattice.get_cartesian_coords(structure.frac_coords[hop.end] + hop.image)
    vacancy = _atom_at(cell, end_position)
    moving = hop.start  # repeat() keeps the home cell's atoms first, in order
    initial, final = cell.copy(), cell.copy()
    final.positions[moving] = end_position
    del initial[vacancy], final[vacancy]
    return initial, final, supercell


class _CountingCalculator(Calculator):
    """One structure's view of a shared calculator: caches its own results (so an optimizer
    asking twice about an unchanged image costs one evaluation) and counts evaluations."""

    implemented_properties: ClassVar[list[str]] = ["energy", "forces"]

    def __init__(self, shared: Calculator) -> None:
        super().__init__()
        self.shared = shared
        self.calls = 0

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        energy = float(self.shared.get_potential_energy(self.atoms))
        forces = np.array(self.shared.get_forces(self.atoms))
        self.calls += 1
        if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
            raise CalculationFailed(f"non-finite energy or forces on a band image ({energy})")
        self.results = {"energy": energy, "forces": forces}


def _atom_at(atoms: Atoms, position: np.ndarray) -> int:
    """Index of the atom at ``position`` (periodic images included)."""
    _, distances = get_distances(position, atoms.positions, cell=atoms.cell, pbc=True)
    index = int(np.argmin(distances[0]))
    if distances[0, index] > 1e-3:
        raise HopError(f"no atom at {np.round(position, 3)} Å in the supercell")
    return index


def _displacements(before: Atoms, after: Atoms) -> np.ndarray:
    """Minimum-image distance each atom moved (Å)."""
    return find_mic(after.positions - before.positions, before.cell, pbc=True)[1]


def _path_length(images: list[Atoms]) -> np.ndarray:
    """Cumulative minimum-image distance between consecutive images (Å, all atoms)."""
    steps = [
        np.linalg.norm(find_mic(b.positions - a.positions, a.cell, pbc=True)[0])
        for a, b in itertools.pairwise(images)
    ]
    return np.concatenate([[0.0], np.cumsum(steps)])
