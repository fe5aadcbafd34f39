"""Cluster expansion and Monte Carlo on EMT fcc Cu-Au: mapping, fit, storage, annealing.

Energies are EMT energies of the ideal (unrelaxed) lattice at a = 3.85 Å, used the same way
for training, for the annealed ordering and for the SQS and random cells it is compared to.
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from ase.calculators.emt import EMT
from ase.optimize import FIRE
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from enumerate import cluster_expansion as ce
from enumerate import monte_carlo as mc
from enumerate import sqs
from enumerate.errors import ClusterExpansionError
from enumerate.orderings import enumerate_orderings
from enumerate.placeholders import ParentLattice
from enumerate.prototypes import build_prototype
from enumerate.space import CompositionPoint, Sublattice

A_ANG = 3.85  # about Vegard's law at CuAu
SPACE = [Sublattice("metal", "Cu", ("Au", "Cu"), step=Fraction(1, 4))]


def _point(x_au: str) -> CompositionPoint:
    return CompositionPoint({"metal": {"Au": Fraction(x_au), "Cu": 1 - Fraction(x_au)}})


def _emt_ev_atom(structure: Structure) -> float:
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = EMT()
    return float(atoms.get_potential_energy()) / len(atoms)


@pytest.fixture(scope="module")
def parent() -> Structure:
    structure = build_prototype("Cu-fcc")
    structure.scale_lattice(A_ANG**3)
    return structure


@pytest.fixture(scope="module")
def lattice(parent: Structure) -> ParentLattice:
    return ParentLattice.from_parent(parent, SPACE)


@pytest.fixture(scope="module")
def mapping(parent: Structure, lattice: ParentLattice) -> ce.MappingResult:
    """Enumerated cells up to 6 sites plus random 32-atom cells, with EMT energies."""
    structures = [o.structure for o in enumerate_orderings(parent, SPACE, max_sites=6)]
    cell = parent.copy()
    cell.make_supercell([2, 2, 2])
    structures += [
        sqs.random_occupation(cell, SPACE, _point(x), seed=seed).structure
        for seed, x in enumerate(("1/4", "1/2", "3/4"))
    ]
    return ce.map_to_lattice(lattice, [(s, _emt_ev_atom(s)) for s in structures])


@pytest.fixture(scope="module")
def model(lattice: ParentLattice, mapping: ce.MappingResult) -> ce.ClusterExpansionModel:
    return ce.fit_cluster_expansion(lattice, mapping.kept, cutoffs_ang=(7.0, 5.0), seed=0)


def test_relaxed_structures_are_mapped_back_or_dropped(
    parent: Structure, lattice: ParentLattice
) -> None:
    cell = parent.copy()
    cell.make_supercell([2, 2, 2])
    ideal = sqs.random_occupation(cell, SPACE, _point("1/4"), seed=3).structure
    atoms = AseAtomsAdaptor.get_atoms(ideal)
    atoms.set_cell(atoms.cell * 1.03, scale_atoms=True)  # a volume relaxation
    atoms.rattle(0.05, seed=1)
    atoms.calc = EMT()
    FIRE(atoms, logfile=None).run(fmax=0.05, steps=100)
    relaxed = AseAtomsAdaptor.get_structure(atoms)
    bain = relaxed.copy()
    bain.apply_strain([0.1, 0.1, -0.17])  # towards bcc: the volume kept, the shape not
    shaken = relaxed.copy()
    shaken.translate_sites([0], [0.0, 0.0, 1.2], frac_coords=False)  # off-site, not on a neighbour
    silver = relaxed.copy()
    silver.replace(0, "Ag")
    result = ce.map_to_lattice(
        lattice, [(relaxed, -0.1), (bain, 0.0), (shaken, 0.0), (silver, 0.0)]
    )
    assert [t.index for t in result.kept] == [0]
    kept = result.kept[0]
    assert kept.energy_ev_site == -0.1
    assert 0 < kept.max_displacement_ang < 0.3
    assert kept.volumetric_strain == pytest.approx(1.03**3 - 1, abs=0.02)
    assert sorted(kept.ideal.get_chemical_symbols()) == sorted(s.symbol for s in ideal.species)
    reasons = {d.index: d.reason for d in result.dropped}
    assert "anisotropic strain" in reasons[1]
    assert reasons[2].startswith("relaxed away: max displacement (Å) 1.")
    assert reasons[3] == "cannot be mapped: Ag relaxed onto a metal site"


def test_vacancies_map_to_their_placeholder() -> None:
    parent = build_prototype("LiCl")
    space = [Sublattice("cation", "Li", ("Li", "vacancy"), step=Fraction(1, 2))]
    lattice = ParentLattice.from_parent(parent, space)
    half = [o for o in enumerate_orderings(parent, space, max_sites=4) if len(o.structure) == 3]
    result = ce.map_to_lattice(lattice, [(half[0].structure, -3.0)])
    assert not result.dropped
    placeholder = lattice.symbols["cation"]["vacancy"]
    symbols = result.kept[0].ideal.get_chemical_symbols()
    assert sorted(symbols) == sorted(["Li", placeholder, "Cl", "Cl"])
    assert result.kept[0].energy_ev_site == pytest.approx(-3.0 * 3 / 4)


def test_fit_is_accurate_and_stored_as_plain_data(
    mapping: ce.MappingResult, model: ce.ClusterExpansionModel
) -> None:
    assert len(mapping.kept) == 140 and not mapping.dropped
    assert model.n_structures == 140
    assert model.cv_rmse_ev_site < 0.002
    assert model.train_rmse_ev_site <= model.cv_rmse_ev_site
    stored = json.loads(json.dumps(model.to_dict()))
    assert stored["lattice"]["symbols"] == {"metal": {"Au": "Au", "Cu": "Cu"}}
    assert stored["cutoffs_ang"] == [7.0, 5.0]
    restored = ce.ClusterExpansionModel.from_dict(stored)
    assert restored == model
    expansion = ce.build_cluster_expansion(restored)
    first = mapping.kept[5]
    assert expansion.predict(first.ideal) == pytest.approx(first.energy_ev_site, abs=0.005)


def test_annealing_beats_sqs_and_random(parent: Structure, model: ce.ClusterExpansionModel) -> None:
    supercell = parent.copy()
    supercell.make_supercell([3, 3, 3])  # 108 sites
    point = _point("1/2")
    annealed = mc.anneal(model, supercell, SPACE, point, seed=1, n_steps=20_000)
    assert annealed.structure.composition.as_dict() == {"Au": 54, "Cu": 54}
    assert annealed.energy_ev_site == pytest.approx(_emt_ev_atom(annealed.structure), abs=0.003)
    others = [sqs.generate_sqs(supercell, SPACE, point, seed=0, n_steps=1000).structure]
    others += [sqs.random_occupation(supercell, SPACE, point, seed=s).structure for s in range(3)]
    assert _emt_ev_atom(annealed.structure) < min(_emt_ev_atom(s) for s in others) - 0.01
    again = mc.anneal(model, supercell, SPACE, point, seed=1, n_steps=20_000)
    assert again.structure == annealed.structure


def test_canonical_samples_are_disordered(
    parent: Structure, model: ce.ClusterExpansionModel
) -> None:
    supercell = parent.copy()
    supercell.make_supercell([3, 3, 3])
    point = _point("1/4")
    ordered = mc.anneal(model, supercell, SPACE, point, seed=0, n_steps=10_000)
    samples = mc.sample_canonical(
        model,
        supercell,
        SPACE,
        point,
        temperature_k=1500.0,
        seed=4,
        n_samples=2,
        n_equilibration_steps=5000,
        sample_interval=2000,
    )
    assert [s.step for s in samples] == [7000, 9000]
    for s in samples:
        assert s.structure.composition.as_dict() == {"Au": 27, "Cu": 81}
        assert s.temperature_k == 1500.0
        assert s.energy_ev_site > ordered.energy_ev_site + 0.005
    assert samples[0].structure != samples[1].structure
    assert np.isclose(samples[0].energy_ev_site, _emt_ev_atom(samples[0].structure), atol=0.003)


def test_model_must_match_the_sublattices_and_fit_the_supercell(
    parent: Structure, model: ce.ClusterExpansionModel
) -> None:
    other = [Sublattice("metal", "Cu", ("Ag", "Cu"), step=Fraction(1, 4))]
    point = CompositionPoint({"metal": {"Ag": Fraction(1, 4), "Cu": Fraction(3, 4)}})
    with pytest.raises(ClusterExpansionError, match="fitted on sublattices"):
        mc.anneal(model, parent, other, point, seed=0, n_steps=10)
    with pytest.raises(ClusterExpansionError, match="4-site supercell is too small"):
        mc.anneal(model, parent, SPACE, _point("1/4"), seed=0, n_steps=10)
