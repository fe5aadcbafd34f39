"""Built-in parent crystals and loading of user parents.

Each prototype is rebuilt from its space group, conventional cell and Wyckoff positions
with :meth:`pymatgen.core.Structure.from_spacegroup`; its source is named in ``source``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Lattice, Structure

from enumerate.errors import PrototypeError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prototype:
    """A parent crystal given by space group, conventional cell (Å, degrees) and sites."""

    name: str
    space_group: int
    abc: tuple[float, float, float]
    angles: tuple[float, float, float]
    species: tuple[str, ...]
    frac_coords: tuple[tuple[float, float, float], ...]
    source: str

    def build(self) -> Structure:
        """Return the ordered conventional cell."""
        lattice = Lattice.from_parameters(*self.abc, *self.angles)
        return Structure.from_spacegroup(
            self.space_group, lattice, list(self.species), [list(x) for x in self.frac_coords]
        )


def _rock_salt(name: str, cation: str, anion: str, a: float, source: str) -> Prototype:
    return Prototype(
        name,
        225,
        (a, a, a),
        (90.0, 90.0, 90.0),
        (cation, anion),
        ((0.0, 0.0, 0.0), (0.5, 0.5, 0.5)),
        source,
    )


def _fcc(name: str, element: str, a: float, source: str) -> Prototype:
    return Prototype(
        name, 225, (a, a, a), (90.0, 90.0, 90.0), (element,), ((0.0, 0.0, 0.0),), source
    )


PROTOTYPES: dict[str, Prototype] = {
    p.name: p
    for p in (
        Prototype(
            name="Li3InCl6",
            space_group=12,
            abc=(6.41, 11.10, 6.39),
            angles=(90.0, 109.8, 90.0),
            species=("In", "Li", "Li", "Cl", "Cl"),
            frac_coords=(
                (0.0, 0.0, 0.0),  # In 2a
                (0.0, 0.5, 0.5),  # Li 2d
                (0.0, 0.172, 0.5),  # Li 4h
                (0.243, 0.0, 0.750),  # Cl 4i
                (0.257, 0.336, 0.759),  # Cl 8j
            ),
            source=(
                "C2/m (No. 12) cell after X. Li et al., Energy Environ. Sci. 12, 2665 (2019):"
                " a 6.41, b 11.10, c 6.39 Å, beta 109.8°. Ordered Li2MnO3-type site model"
                " (In 2a in the z=0 layer, Li 2d + 4h filling the z=1/2 layer; the partial"
                " Li/In occupancies of the refinement are not kept). The free coordinates are"
                " IDEALISED, not the refined ones: fitted at this cell to In-Cl 2.55 Å and"
                " Li-Cl 2.63 Å octahedra (every cation 6-coordinated, In-Cl 2.55-2.58 Å,"
                " Li-Cl 2.63-2.66 Å); relax before quoting structural numbers."
            ),
        ),
        _rock_salt("LiCl", "Li", "Cl", 5.13, "rock salt Fm-3m (No. 225), a = 5.13 Å (room T)"),
        _rock_salt("LiBr", "Li", "Br", 5.50, "rock salt Fm-3m (No. 225), a = 5.50 Å (room T)"),
        _fcc("Cu-fcc", "Cu", 3.615, "fcc Fm-3m (No. 225), a = 3.615 Å (room T)"),
        _fcc("Au-fcc", "Au", 4.078, "fcc Fm-3m (No. 225), a = 4.078 Å (room T)"),
    )
}


def prototype_names() -> list[str]:
    """Names of the built-in prototypes, in registry order."""
    return list(PROTOTYPES)


def _lookup(name: str) -> Prototype | None:
    by_lower = {key.lower(): proto for key, proto in PROTOTYPES.items()}
    return by_lower.get(name.strip().lower())


def build_prototype(name: str) -> Structure:
    """Build a built-in prototype by (case-insensitive) name.

    Raises:
        PrototypeError: the name is not in the registry.
    """
    proto = _lookup(name)
    if proto is None:
        raise PrototypeError(
            f"unknown prototype {name!r}; available: {', '.join(prototype_names())}"
        )
    return proto.build()


def load_parent(spec: str) -> Structure:
    """Return the parent crystal named by ``spec``: a prototype name, else a structure file.

    Any format pymatgen reads (CIF, POSCAR, ...) is accepted; oxidation-state decorations are
    stripped so that site species are plain elements.

    Raises:
        PrototypeError: the file is missing, unparsable, or has partial occupancies.
    """
    if _lookup(spec) is not None:
        return build_prototype(spec)
    path = Path(spec)
    if not path.is_file():
        raise PrototypeError(
            f"{spec!r} is neither a built-in prototype "
            f"({', '.join(prototype_names())}) nor an existing file"
        )
    # pymatgen's parsers warn (to stderr) about what they skip; when the file turns out
    # unreadable those warnings only bury the one-line error, so they are dropped then.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            structure = Structure.from_file(path)
        except (ValueError, KeyError, IndexError, TypeError, OSError, UnicodeDecodeError) as err:
            reason = "".join(c if c.isprintable() else "?" for c in f"{type(err).__name__}: {err}")
            reason = " ".join(reason.split())[:200]
            raise PrototypeError(
                f"cannot read parent file {str(path)!r} ({reason}); give a CIF, POSCAR or"
                " other structure file that pymatgen reads, or a built-in prototype"
            ) from err
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if not structure.is_ordered:
        raise PrototypeError(
            f"parent file {str(path)!r} has partially occupied sites; give an ordered parent"
            " and describe the disorder as sublattices"
        )
    structure.remove_oxidation_states()
    logger.debug("loaded parent %s from %s", structure.composition.reduced_formula, path)
    return structure
