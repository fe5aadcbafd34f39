"""EMT-labelled Cu-Au frames, and writers of minimal VASP outputs (vasprun.xml, OUTCAR) that
ASE's readers parse, for the fine-tuning data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

KBAR = 0.1 * units.GPa  # eV/Å^3 per kbar


def emt_frames(count: int, seed: int = 0, rattle: float = 0.08) -> list[Atoms]:
    """Rattled, strained Cu2Au2 cells (Cu first) with EMT energy, forces and stress."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        atoms = bulk("Cu", "fcc", a=3.75, cubic=True)
        atoms.symbols[2:] = "Au"
        atoms.set_cell(atoms.cell * (1 + rng.uniform(-0.02, 0.02, 3)), scale_atoms=True)
        atoms.positions += rng.normal(0.0, rattle, atoms.positions.shape)
        atoms.calc = EMT()
        results = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(),
            "stress": atoms.get_stress(),
        }
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    return frames


def _rows(tag: str, values: np.ndarray) -> str:
    return "".join(f"<{tag}>{' '.join(f'{x:.10f}' for x in row)}</{tag}>\n" for row in values)


def write_vasprun(path: Path, frames: list[Atoms]) -> None:
    """One calculation block per frame; stress in kbar with VASP's sign."""
    first = frames[0]
    atoms_set = "".join(f"<rc><c>{symbol}</c><c>1</c></rc>" for symbol in first.symbols)
    text = [
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<modeling>\n',
        '<kpoints><varray name="kpointlist"><v>0 0 0</v></varray>'
        '<varray name="weights"><v>1</v></varray></kpoints>\n',
        f'<atominfo><atoms>{len(first)}</atoms><array name="atoms"><set>{atoms_set}</set>'
        "</array></atominfo>\n",
        '<structure name="initialpos"><crystal><varray name="basis">\n',
        _rows("v", first.cell.array),
        '</varray></crystal><varray name="positions">\n',
        _rows("v", first.get_scaled_positions(wrap=False)),
        "</varray></structure>\n",
    ]
    for atoms in frames:
        energy = atoms.get_potential_energy()
        voigt = atoms.get_stress()
        tensor = -np.array(
            [
                [voigt[0], voigt[5], voigt[4]],
                [voigt[5], voigt[1], voigt[3]],
                [voigt[4], voigt[3], voigt[2]],
            ]
        )
        energies = f'<i name="e_fr_energy">{energy:.8f}</i><i name="e_0_energy">{energy:.8f}</i>'
        text += [
            f"<calculation><scstep><energy>{energies}</energy></scstep>\n",
            '<structure><crystal><varray name="basis">\n',
            _rows("v", atoms.cell.array),
            '</varray></crystal><varray name="positions">\n',
            _rows("v", atoms.get_scaled_positions(wrap=False)),
            '</varray></structure><varray name="forces">\n',
            _rows("v", atoms.get_forces()),
            '</varray><varray name="stress">\n',
            _rows("v", tensor / KBAR),
            f"</varray><energy>{energies}</energy></calculation>\n",
        ]
    text.append("</modeling>\n")
    path.write_text("".join(text))


def write_outcar(path: Path, frames: list[Atoms]) -> None:
    """Header (POTCARs, ions per type) and one ionic step per frame; atoms grouped by species."""
    species = list(dict.fromkeys(frames[0].get_chemical_symbols()))
    counts = [frames[0].get_chemical_symbols().count(s) for s in species]
    potcars = [f" POTCAR:    PAW_PBE {s} 01Jan2000\n" for s in species]
    lines = [*potcars, *potcars, f"   ions per type =   {'  '.join(map(str, counts))}\n"]
    lines.append("----------------------- Iteration      1(   1)  -----------------------\n")
    for atoms in frames:
        s = -atoms.get_stress() / KBAR  # xx yy zz yz xz xy -> OUTCAR's XX YY ZZ XY YZ ZX
        energy = atoms.get_potential_energy()
        lines += [
            "  in kB " + " ".join(f"{x:12.5f}" for x in (s[0], s[1], s[2], s[5], s[3], s[4])),
            "\n      direct lattice vectors                 reciprocal lattice vectors\n",
            *(f"  {' '.join(f'{x:12.9f}' for x in row)}   0 0 0\n" for row in atoms.cell.array),
            " POSITION                                       TOTAL-FORCE (eV/Angst)\n",
            " " + "-" * 80 + "\n",
            *(
                f"  {' '.join(f'{x:12.6f}' for x in (*p, *f))}\n"
                for p, f in zip(atoms.positions, atoms.get_forces(), strict=True)
            ),
            " " + "-" * 80 + "\n",
            "  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)\n",
            "  ---------------------------------------------------\n",
            f"  free  energy   TOTEN  =     {energy:16.8f} eV\n",
            "\n",
            f"  energy  without entropy=  {energy:16.8f}  energy(sigma->0) =  {energy:16.8f}\n",
        ]
    path.write_text("".join(lines))
