"""Reference labels for frames from any ASE calculator: the worker side of ``data label``.

A calculator is named by a potential spec (``emt``, ``chgnet``, ``mace:PATH``, ...: a cheap
reference, as in the tests) or by ``ase:MODULE.CLASS`` with keyword options (VASP, GPAW, CP2K,
Quantum ESPRESSO through ASE on the user's cluster), built fresh for every frame in a
directory of its own, since file-based codes keep state there. :func:`label_task` is a pure
function on plain data, run on the farm.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError

from screening.errors import CalculationFailed, PotentialError
from screening.potentials import PotentialSpec, calculator_for_task

ASE_PREFIX = "ase:"


def is_potential(spec: str) -> bool:
    """A potential spec (its labelling asks for a GPU worker on a GPU farm), not an
    ``ase:MODULE.CLASS`` file-based code."""
    return not spec.startswith(ASE_PREFIX)


def check_calculator(spec: str, options: dict[str, Any]) -> None:
    """Refuse, before any work, a calculator that cannot be built from ``spec``."""
    if not is_potential(spec):
        _calculator_class(spec)
    else:
        PotentialSpec.parse(spec)
        if options:
            raise PotentialError(f"calculator options are for ase:MODULE.CLASS, not {spec!r}")


def _calculator_class(spec: str) -> type[Calculator]:
    module_name, _, class_name = spec.removeprefix(ASE_PREFIX).rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as err:
        raise PotentialError(
            f"calculator {spec!r}: no class {class_name!r} in module {module_name!r} "
            "(use ase:MODULE.CLASS, e.g. ase:ase.calculators.vasp.Vasp)"
        ) from err
    return found


def reference_calculator(
    spec: str, options: dict[str, Any], directory: Path, torch_threads: int | None = None
) -> Calculator:
    """A new ``ase:`` calculator working in ``directory``, or the cached potential of a spec."""
    if not is_potential(spec):
        directory.mkdir(parents=True, exist_ok=True)
        return _calculator_class(spec)(**{"directory": str(directory), **options})
    calculator, _ = calculator_for_task(spec, torch_threads)
    return calculator


def atoms_payload(atoms: Atoms) -> dict[str, Any]:
    """An unlabelled structure as plain data (Å)."""
    return {
        "numbers": atoms.numbers.tolist(),
        "cell": atoms.cell.array.tolist(),
        "positions": atoms.positions.tolist(),
        "pbc": atoms.pbc.tolist(),
    }


def label_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Energy (eV), forces (eV/Å) and, for periodic cells, stress (eV/Å^3) of one structure.

    Payload: ``atoms`` (:func:`atoms_payload`), ``calculator`` (spec), ``options`` (keyword
    arguments of an ``ase:`` class), ``directory`` (its working directory) and
    ``torch_threads``.
    """
    atoms = Atoms(**payload["atoms"])
    spec = payload["calculator"]
    atoms.calc = reference_calculator(
        spec, payload["options"], Path(payload["directory"]), payload.get("torch_threads")
    )
    energy = float(atoms.get_potential_energy())
    forces = np.asarray(atoms.get_forces(), dtype=float)
    stress = None
    if atoms.pbc.all():
        try:
            stress = np.asarray(atoms.get_stress(voigt=True), dtype=float).tolist()
        except PropertyNotImplementedError:
            stress = None
    if not (np.isfinite(energy) and np.isfinite(forces).all()):
        raise CalculationFailed(f"{spec} returned NaN or infinite energy or forces")
    return {"energy_ev": energy, "forces_ev_ang": forces.tolist(), "stress_ev_ang3": stress}
