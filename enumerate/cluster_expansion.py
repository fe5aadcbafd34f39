"""Cluster expansions of relaxed energies on a parent lattice (icet), stored as plain data.

Relaxed structures are first mapped back onto the ideal lattice; those that relax away (large
displacements, volume or shape change, atoms off their sublattice) are dropped with a reason.
The fit is cross-validated with trainstation. A fitted model is a frozen dataclass of plain
numbers and strings (JSON via :meth:`ClusterExpansionModel.to_dict`, never a pickle), and
:func:`build_cluster_expansion` rebuilds the icet object from it.

Energies are per lattice site (eV/site, vacant sites included); without vacancies that is
eV/atom.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from icet import ClusterExpansion, ClusterSpace, StructureContainer
from icet.tools import map_structure_to_reference
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from trainstation import CrossValidationEstimator

from enumerate.errors import ClusterExpansionError
from enumerate.placeholders import ParentLattice
from enumerate.space import VACANCY

logger = logging.getLogger(__name__)

_ICET_VACANCY = "X"  # what map_structure_to_reference puts on a vacant site


@dataclass(frozen=True)
class MappingLimits:
    """How far a relaxed structure may stray from its ideal lattice and still be used.

    Defaults are icet's own warning levels: the largest atomic displacement (Å), the
    absolute volumetric strain, and the anisotropic strain (largest minus smallest
    eigenvalue of the strain tensor: a change of shape such as a Bain distortion).
    """

    max_displacement_ang: float = 1.0
    max_volumetric_strain: float = 0.25
    max_anisotropic_strain: float = 0.1


@dataclass(frozen=True)
class TrainingStructure:
    """A relaxed structure mapped onto the ideal lattice, ready for fitting.

    ``ideal`` is the ideal supercell decorated with the lattice's icet symbols; ``index`` the
    position of the structure in the input.
    """

    index: int
    ideal: Atoms
    energy_ev_site: float
    max_displacement_ang: float
    volumetric_strain: float


@dataclass(frozen=True)
class DroppedStructure:
    """A relaxed structure left out of the fit: its input position and why."""

    index: int
    reason: str


@dataclass(frozen=True)
class MappingResult:
    """The structures kept for fitting and the record of those dropped."""

    kept: tuple[TrainingStructure, ...]
    dropped: tuple[DroppedStructure, ...]


def _inert_species(lattice: ParentLattice) -> list[str] | None:
    """Elements that never share a site with a vacancy, for icet's volume rescaling."""
    if not any(VACANCY in m for m in lattice.symbols.values()):
        return None
    substituents = {s for m in lattice.symbols.values() for s in m}
    fixed = {
        e
        for e, owner in zip(lattice.elements, lattice.sublattice_of, strict=True)
        if owner is None and e not in substituents
    }
    return sorted(fixed) or None


def _decorate_mapped(lattice: ParentLattice, mapped: Atoms) -> Atoms:
    """Replace the species of a mapped structure by the lattice's icet symbols.

    Raises:
        ClusterExpansionError: a species sits on a site whose sublattice does not allow it.
    """
    ideal = mapped.copy()
    allowed = lattice.allowed
    symbols = []
    for mapped_symbol, site in zip(
        mapped.get_chemical_symbols(), lattice.site_indices(mapped.positions), strict=True
    ):
        owner = lattice.sublattice_of[site]
        species = VACANCY if mapped_symbol == _ICET_VACANCY else mapped_symbol
        if owner is None:
            symbol = species if allowed[site] == [species] else ""
        else:
            symbol = lattice.symbols[owner].get(species, "")
        if not symbol:
            where = owner or f"fixed {lattice.elements[site]}"
            raise ClusterExpansionError(f"{species} relaxed onto a {where} site")
        symbols.append(symbol)
    ideal.set_chemical_symbols(symbols)
    for name in list(ideal.arrays):
        if name not in ("numbers", "positions"):
            del ideal.arrays[name]
    return ideal


def map_to_lattice(
    lattice: ParentLattice,
    relaxed: Sequence[tuple[Structure, float]],
    limits: MappingLimits = MappingLimits(),
) -> MappingResult:
    """Map relaxed (structure, energy in eV/atom) pairs onto the ideal lattice.

    Structures whose mapping fails or exceeds ``limits`` are dropped, each with a reason.
    Kept energies are converted to eV per lattice site.
    """
    reference = lattice.primitive()
    inert = _inert_species(lattice)
    kept: list[TrainingStructure] = []
    dropped: list[DroppedStructure] = []
    for index, (structure, energy_ev_atom) in enumerate(relaxed):
        atoms = AseAtomsAdaptor.get_atoms(structure)
        try:
            mapped, info = map_structure_to_reference(
                atoms, reference, inert_species=inert, suppress_warnings=True
            )
            ideal = _decorate_mapped(lattice, mapped)
        except (ValueError, ClusterExpansionError) as err:
            dropped.append(DroppedStructure(index, f"cannot be mapped: {err}"))
            continue
        eigenvalues = info.strain_tensor_eigenvalues
        anisotropic = float(eigenvalues[-1] - eigenvalues[0])
        problems = [
            f"{name} {value:.3g} > {limit:g}"
            for name, value, limit in (
                ("max displacement (Å)", info.drmax, limits.max_displacement_ang),
                ("|volumetric strain|", abs(info.volumetric_strain), limits.max_volumetric_strain),
                ("anisotropic strain", anisotropic, limits.max_anisotropic_strain),
            )
            if value > limit
        ]
        if problems:
            dropped.append(DroppedStructure(index, "relaxed away: " + ", ".join(problems)))
            continue
        energy = energy_ev_atom * len(atoms) / len(ideal)
        kept.append(
            TrainingStructure(index, ideal, energy, float(info.drmax), info.volumetric_strain)
        )
    for d in dropped:
        logger.info("structure %d dropped: %s", d.index, d.reason)
    return MappingResult(tuple(kept), tuple(dropped))


@dataclass(frozen=True)
class ClusterExpansionModel:
    """A fitted cluster expansion as plain data.

    ``lattice`` and ``cutoffs_ang`` (pair, triplet, ... cutoffs in Å) are the cluster-space
    settings; ``ecis`` the effective cluster interactions in icet's orbit order (eV/site,
    zerolet first). RMSEs are in eV/site: ``cv_rmse_ev_site`` from ``n_splits``-fold cross
    validation, ``train_rmse_ev_site`` of the final fit on all ``n_structures``.
    """

    lattice: ParentLattice
    cutoffs_ang: tuple[float, ...]
    ecis: tuple[float, ...]
    cv_rmse_ev_site: float
    train_rmse_ev_site: float
    n_structures: int
    fit_method: str
    n_splits: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` inverts it."""
        return {
            "lattice": self.lattice.to_dict(),
            "cutoffs_ang": list(self.cutoffs_ang),
            "ecis": list(self.ecis),
            "cv_rmse_ev_site": self.cv_rmse_ev_site,
            "train_rmse_ev_site": self.train_rmse_ev_site,
            "n_structures": self.n_structures,
            "fit_method": self.fit_method,
            "n_splits": self.n_splits,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClusterExpansionModel:
        """Inverse of :meth:`to_dict`."""
        fields = dict(data)
        fields["lattice"] = ParentLattice.from_dict(data["lattice"])
        fields["cutoffs_ang"] = tuple(data["cutoffs_ang"])
        fields["ecis"] = tuple(data["ecis"])
        return cls(**fields)


def build_cluster_space(lattice: ParentLattice, cutoffs_ang: Sequence[float]) -> ClusterSpace:
    """The icet cluster space of ``lattice`` with pair, triplet, ... cutoffs (Å)."""
    return ClusterSpace(lattice.primitive(), list(cutoffs_ang), lattice.allowed)


def fit_cluster_expansion(
    lattice: ParentLattice,
    training: Sequence[TrainingStructure],
    *,
    cutoffs_ang: Sequence[float],
    fit_method: str = "ardr",
    n_splits: int = 10,
    seed: int = 0,
) -> ClusterExpansionModel:
    """Fit ECIs to the mapped ``training`` structures with k-fold cross validation.

    ``fit_method`` is any trainstation method ("ardr", "lasso", "least-squares", ...).

    Raises:
        ClusterExpansionError: fewer training structures than ``n_splits``.
    """
    if len(training) < n_splits:
        raise ClusterExpansionError(
            f"{len(training)} training structures cannot be split {n_splits} ways;"
            " add structures or lower n_splits"
        )
    cluster_space = build_cluster_space(lattice, cutoffs_ang)
    container = StructureContainer(cluster_space)
    for t in training:
        container.add_structure(
            t.ideal, user_tag=str(t.index), properties={"energy": t.energy_ev_site}
        )
    estimator = CrossValidationEstimator(
        container.get_fit_data(key="energy"),
        fit_method=fit_method,
        n_splits=n_splits,
        seed=seed,
    )
    estimator.validate()
    estimator.train()
    model = ClusterExpansionModel(
        lattice=lattice,
        cutoffs_ang=tuple(float(c) for c in cutoffs_ang),
        ecis=tuple(float(p) for p in estimator.parameters),
        cv_rmse_ev_site=float(estimator.rmse_validation),
        train_rmse_ev_site=float(estimator.rmse_train_final),
        n_structures=len(training),
        fit_method=fit_method,
        n_splits=n_splits,
        seed=seed,
    )
    logger.info(
        "cluster expansion: %d ECIs on %d structures, CV RMSE %.2f meV/site",
        len(model.ecis),
        model.n_structures,
        1e3 * model.cv_rmse_ev_site,
    )
    return model


def build_cluster_expansion(model: ClusterExpansionModel) -> ClusterExpansion:
    """Rebuild the icet ClusterExpansion of a stored model.

    Raises:
        ClusterExpansionError: the rebuilt cluster space has a different number of orbits
            than the model has ECIs (e.g. a model stored by an incompatible icet).
    """
    cluster_space = build_cluster_space(model.lattice, model.cutoffs_ang)
    if len(cluster_space) != len(model.ecis):
        raise ClusterExpansionError(
            f"the cluster space rebuilt from cutoffs {list(model.cutoffs_ang)} has"
            f" {len(cluster_space)} parameters, the model {len(model.ecis)} ECIs"
        )
    return ClusterExpansion(cluster_space, np.array(model.ecis))
