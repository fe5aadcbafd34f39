"""Built-in parent crystals and loading of user parents.

Each prototype is rebuilt from its space group, conventional cell and Wyckoff positions
with :meth:`pymatgen.core.Structure.from_spacegroup`; its source is named in ``source``.
Prototypes with ``labels`` carry each site's Wyckoff label in the ``site_label`` site
property, so that a sublattice can select one of several sites of the same element
(``replaces = "Na2"``).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Lattice, Structure

from enumerate.errors import PrototypeError
from enumerate.space import SITE_LABEL

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prototype:
    """A parent crystal given by space group, conventional cell (Å, degrees) and sites.

    ``labels``, if given, names each Wyckoff site (one per entry of ``species``).
    """

    name: str
    space_group: int
    abc: tuple[float, float, float]
    angles: tuple[float, float, float]
    species: tuple[str, ...]
    frac_coords: tuple[tuple[float, float, float], ...]
    source: str
    labels: tuple[str, ...] | None = None

    def build(self) -> Structure:
        """Return the ordered conventional cell (with ``site_label``s if ``labels`` is set)."""
        lattice = Lattice.from_parameters(*self.abc, *self.angles)
        return Structure.from_spacegroup(
            self.space_group,
            lattice,
            list(self.species),
            [list(x) for x in self.frac_coords],
            site_properties=None if self.labels is None else {SITE_LABEL: list(self.labels)},
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
        Prototype(
            name="Na4Zr2Si3O12",
            space_group=167,
            abc=(9.1863, 9.1863, 22.181),
            angles=(90.0, 90.0, 120.0),
            species=("Na", "Na", "Zr", "Si", "O", "O"),
            frac_coords=(
                (0.0, 0.0, 0.0),  # Na1 6b
                (-0.36033, 0.0, 0.25),  # Na2 18e
                (0.0, 0.0, 0.14719),  # Zr 12c
                (0.29544, 0.0, 0.25),  # Si 18e
                (0.18534, 0.16651, 0.08652),  # O1 36f
                (0.18214, 0.02102, 0.19199),  # O2 36f
            ),
            labels=("Na1", "Na2", "Zr1", "Si1", "O1", "O2"),
            source=(
                "NaSICON end member Na4Zr2(SiO4)3 at 573 K, R-3c (No. 167, hexagonal axes),"
                " a 9.1863, c 22.181 Å, Z = 6: D. Tran Qui, J. J. Capponi, J. C. Joubert,"
                " R. D. Shannon, J. Solid State Chem. 39, 219 (1981); ICSD 15546. Every site"
                " is fully occupied, so both Na sites (Na1 6b, Na2 18e) carry Na and the"
                " tetrahedral 18e site Si; Na_(1+x)Zr2Si_xP_(3-x)O12 campaigns address them"
                " by label (Na1, Na2) and element (Si)."
            ),
        ),
        Prototype(
            name="LiGa",
            space_group=227,
            abc=(6.17, 6.17, 6.17),
            angles=(90.0, 90.0, 90.0),
            species=("Li", "Ga"),
            frac_coords=((0.0, 0.0, 0.0), (0.5, 0.5, 0.5)),
            labels=("Li1", "Ga1"),
            source=(
                "NaTl (B32) Zintl phase, Fd-3m (No. 227): Li on 8a, Ga on 8b, two"
                " interpenetrating diamond nets (Zintl & Brauer, Z. Phys. Chem. B 20, 245"
                " (1933)). a = 6.17 Å as measured on large beta-LiGa single crystals of"
                " composition Li0.45Ga0.55 ('Growth and characterization of large single"
                " crystals of LiGa Zintl intermetallic compound'); a grows with the Li content"
                " across the LiGa homogeneity range, so relax before quoting a."
            ),
        ),
        Prototype(
            name="beta-Li3PS4",
            space_group=62,
            abc=(12.8190, 8.2195, 6.1236),
            angles=(90.0, 90.0, 90.0),
            species=("Li", "Li", "Li", "P", "S", "S", "S"),
            frac_coords=(
                (0.3562, 0.013, 0.439),  # Li1 8d, occupancy 1
                (0.0, 0.0, 0.5),  # Li2 4b, occupancy 0.70
                (0.999, 0.25, 0.889),  # Li3 4c, occupancy 0.30
                (0.0872, 0.25, 0.1719),  # P1 4c
                (0.1551, 0.0458, 0.2852),  # S1 8d
                (0.9346, 0.25, 0.2574),  # S2 4c
                (0.1068, 0.25, 0.8366),  # S3 4c
            ),
            labels=("Li1", "Li2", "Li3", "P1", "S1", "S2", "S3"),
            source=(
                "beta-Li3PS4, Pnma (No. 62), a 12.8190, b 8.2195, c 6.1236 Å, Z = 4: K. Homma"
                " et al., Solid State Ionics 182, 53 (2011), doi:10.1016/j.ssi.2010.10.001;"
                " positions and occupancies of its ICSD entry as quoted in NRC-Mila/OBELiX"
                " issue #7 (Li1 8d 1, Li2 4b 0.70, Li3 4c 0.30; P, S full). Every Li site"
                " is filled here (Li16P4S16, the site frame of 12 Li over 16 sites), so a"
                " campaign must put Li/vacancy on Li2 or Li3. CAUTION: at the published"
                " coordinates Li3 lies 1.42 Å from S3 and 2.07 Å from P (Li1 and Li2 keep"
                " >= 2.18 Å to S): leave Li3 empty (Li1 + Li2 is the ordered Li3PS4) or"
                " relax and check structures that fill it."
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
    if SITE_LABEL not in structure.site_properties:  # CIF atom-site labels, e.g. "Na2"
        structure.add_site_property(SITE_LABEL, [site.label for site in structure])
    logger.debug("loaded parent %s from %s", structure.composition.reduced_formula, path)
    return structure
