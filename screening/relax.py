"""Structure relaxation with any ASE calculator: FIRE (or BFGS) on a FrechetCellFilter.

Non-convergence is a result (``converged=False``), not an exception; NaN or exploding
energies and forces raise :class:`CalculationFailed` with the step and the reason.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS, FIRE
from pymatgen.core import Structure

from screening.errors import CalculationFailed
from screening.structures import LatticeSummary, to_atoms, to_structure

OPTIMIZERS = {"fire": FIRE, "bfgs": BFGS}


@dataclass(frozen=True)
class RelaxSettings:
    """How to relax: force threshold (eV/Å), step cap, cell degrees of freedom, optimizer."""

    fmax: float = 0.05
    max_steps: int = 500
    relax_cell: bool = True
    optimizer: Literal["fire", "bfgs"] = "fire"
    max_force_ev_ang: float = 1.0e3  # larger forces mean the potential has exploded

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class RelaxResult:
    """A relaxed structure with its energy (eV), residual force (eV/Å) and lattice."""

    structure: Structure
    energy_ev: float
    energy_ev_atom: float
    max_force_ev_ang: float
    steps: int
    converged: bool
    lattice: LatticeSummary
    wall_time_s: float


def relax_structure(
    structure: Structure, calculator: Calculator, settings: RelaxSettings = RelaxSettings()
) -> RelaxResult:
    """Relax positions (and the cell unless ``settings.relax_cell`` is false).

    Raises CalculationFailed when energies or forces become NaN or exceed
    ``settings.max_force_ev_ang``.
    """
    atoms = to_atoms(structure)
    atoms.calc = calculator
    started = time.perf_counter()
    target = FrechetCellFilter(atoms) if settings.relax_cell else atoms
    optimizer = OPTIMIZERS[settings.optimizer](target, logfile=None)
    optimizer.attach(lambda: _check_sane(atoms, optimizer.nsteps, settings), interval=1)
    with warnings.catch_warnings():
        # The Frechet cell filter's matrix logarithm of a sheared (monoclinic) cell warns at
        # errors of 1e-13: noise, not a problem, and it would flood the terminal.
        warnings.filterwarnings("ignore", "logm result may be inaccurate", RuntimeWarning)
        converged = bool(optimizer.run(fmax=settings.fmax, steps=settings.max_steps))
    energy, largest_force = _check_sane(atoms, optimizer.nsteps, settings)
    relaxed = to_structure(_without_calculator(atoms))
    return RelaxResult(
        structure=relaxed,
        energy_ev=energy,
        energy_ev_atom=energy / len(atoms),
        max_force_ev_ang=largest_force,
        steps=int(optimizer.nsteps),
        converged=converged,
        lattice=LatticeSummary.from_structure(relaxed),
        wall_time_s=time.perf_counter() - started,
    )


def _check_sane(atoms: Atoms, step: int, settings: RelaxSettings) -> tuple[float, float]:
    """The energy (eV) and largest atomic force (eV/Å), checked for NaN and explosion."""
    energy = float(atoms.get_potential_energy())
    if not np.isfinite(energy):
        raise CalculationFailed(f"energy became {energy} at relaxation step {step}")
    forces = atoms.get_forces()
    if not np.all(np.isfinite(forces)):
        raise CalculationFailed(f"forces became non-finite at relaxation step {step}")
    largest = float(np.linalg.norm(forces, axis=1).max())
    if largest > settings.max_force_ev_ang:
        raise CalculationFailed(
            f"forces exploded to {largest:.3g} eV/Å at relaxation step {step} "
            f"(limit {settings.max_force_ev_ang:g} eV/Å)"
        )
    return energy, largest


def _without_calculator(atoms: Atoms) -> Atoms:
    copy = atoms.copy()
    copy.calc = None
    return copy
