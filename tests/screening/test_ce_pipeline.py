"""[enumeration] method = "ce-mc" end to end on EMT fcc Ag-Pd through a real LocalCluster.

The training set (orderings of up to 4 sites and a 32-atom SQS per composition) is relaxed
on the farm, the cluster expansion is fitted and stored, every mixed composition is annealed
and sampled in a 32-site cell, and those structures are relaxed in turn.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from pymatgen.io.ase import AseAtomsAdaptor
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.models import (
    CampaignStructure,
    ClusterExpansion,
    ClusterExpansionTraining,
    Composition,
    Job,
    Relaxation,
    Structure,
)
from enumerate.cluster_expansion import build_cluster_expansion, map_to_lattice
from screening.campaign import load_plan
from screening.driver import RunOptions, run_campaign
from screening.errors import CampaignError
from screening.stages.cluster_expansion import stored_model
from screening.structures import structure_from_json

AG_PD = """
name = "agpd-ce"
parent = "Au-fcc"
supercell = [2, 2, 2]
potential = "emt"
charge_balance = false

[sublattices.fcc]
replaces = "Au"
species = ["Ag", "Pd"]
step = 0.25

[enumeration]
method = "ce-mc"
max_sites = 4
seed = 3
sqs_steps = 300

[enumeration.ce]
cutoffs = [3.5, 3.5]  # nearest-neighbour pairs and triplets
anneal_supercell = [2, 2, 2]
anneal_steps = 4000
mc_temperature_k = 1000
mc_samples = 1
mc_equilibration_steps = 1000
mc_interval = 500

[relax]
fmax = 0.05
max_steps = 300
"""

TABLES = (Structure, Job, Relaxation, ClusterExpansion, ClusterExpansionTraining)


def _counts(session: Session) -> dict[str, int]:
    return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in TABLES}


def _candidates(session: Session) -> list[tuple[str, str, dict, float]]:
    """(formula, origin kind, origin, lowest relaxed eV/atom) of every relaxed candidate."""
    rows = session.execute(
        select(
            Composition.formula,
            Structure.origin_kind,
            Structure.origin_json,
            func.min(Relaxation.energy_ev_atom),
        )
        .join(CampaignStructure, CampaignStructure.structure_id == Structure.id)
        .join(Composition, Composition.id == CampaignStructure.composition_id)
        .join(Relaxation, Relaxation.structure_id == Structure.id)
        .group_by(Structure.id, Composition.formula, Structure.origin_kind, Structure.origin_json)
    ).all()
    return [(formula, kind, json.loads(origin), e) for formula, kind, origin, e in rows]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: the CE unit tests
def test_ce_mc_campaign_fits_anneals_and_samples(
    engine: Engine, tmp_path: Path, farm_address: str
) -> None:
    path = tmp_path / "agpd.toml"
    path.write_text(AG_PD)
    plan = load_plan(path)
    summary = run_campaign(engine, plan, RunOptions(scheduler=farm_address))
    assert summary.failed == 0 and summary.hull_error is None

    with Session(engine) as session:
        expansion = session.scalars(select(ClusterExpansion)).one()
        training = session.scalars(select(ClusterExpansionTraining)).all()
        candidates = _candidates(session)
        relaxed = {
            t.structure_id: session.get(Relaxation, t.relaxation_id).final_structure_json
            for t in training
        }
        before = _counts(session)

    # 23 orderings of up to 4 sites on the grid (x = 0, 1/4, 1/2, 3/4, 1) + 5 SQS
    by_kind = defaultdict(list)
    for formula, kind, origin, energy in candidates:
        by_kind[kind].append((formula, origin, energy))
    assert len(by_kind["ce-training"]) == len(training) == 28
    assert expansion.n_structures_used + expansion.n_structures_dropped == 28
    assert expansion.n_structures_used >= 20
    assert expansion.cv_rmse_mev_site < 4.0  # meV/site = meV/atom: no vacancies
    assert 0 < expansion.train_rmse_mev_site <= expansion.cv_rmse_mev_site

    # The ECIs as stored rebuild the expansion: its training error, and the CE energies
    # Monte Carlo recorded for the structures it made.
    model = stored_model(expansion)
    ce = build_cluster_expansion(model)
    used = [t for t in training if t.used]
    mapped = map_to_lattice(
        model.lattice, [(structure_from_json(relaxed[t.structure_id]), 0.0) for t in used]
    )
    errors = [
        ce.predict(m.ideal) - t.energy_ev_site for m, t in zip(mapped.kept, used, strict=True)
    ]
    assert 1e3 * np.sqrt(np.mean(np.square(errors))) == pytest.approx(
        expansion.train_rmse_mev_site, rel=1e-6
    )

    annealed = {f: (o, e) for f, o, e in by_kind["ce-anneal"]}
    sampled = {f: (o, e) for f, o, e in by_kind["ce-mc"]}
    assert set(annealed) == set(sampled) == {"Ag3Pd", "AgPd", "AgPd3"}
    with Session(engine) as session:
        for kind, expected_t in (("ce-anneal", 10.0), ("ce-mc", 1000.0)):
            for row in session.scalars(select(Structure).where(Structure.origin_kind == kind)):
                origin = json.loads(row.origin_json)
                assert origin["cluster_expansion_id"] == expansion.id
                assert origin["method"] == kind and origin["seed"] == 3
                assert origin["temperature_k"] == expected_t
                atoms = AseAtomsAdaptor.get_atoms(structure_from_json(row.structure_json))
                assert ce.predict(atoms) == pytest.approx(origin["ce_energy_ev_site"], abs=1e-9)
                assert row.n_atoms == 32

    sqs = defaultdict(list)
    for formula, origin, energy in by_kind["ce-training"]:
        if origin["method"] == "sqs":
            sqs[formula].append(energy)
    for formula, (origin, energy) in annealed.items():
        # annealing orders; 1000 K Monte Carlo disorders (in the expansion's energy)
        assert origin["ce_energy_ev_site"] < sampled[formula][0]["ce_energy_ev_site"]
        # the annealed ordering, relaxed with EMT, is below every relaxed SQS
        assert energy < min(sqs[formula]) - 0.002

    again = run_campaign(engine, plan, RunOptions(scheduler=farm_address))
    assert again.done == 0 and again.failed == 0
    with Session(engine) as session:
        assert _counts(session) == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            [('method = "ce-mc"', 'method = "sqs"')],
            'enumeration.ce: [enumeration.ce] is used only with method = "ce-mc"',
        ),
        (
            [("cutoffs = [3.5, 3.5]", "cutoffs = [4.5, 3.5]")],
            "enumeration.ce.anneal_supercell: a site's nearest periodic image is 8.16 Å away,"
            " not more than twice the longest cutoff (4.5 Å)",
        ),
        (
            [
                ("supercell = [2, 2, 2]\npotential", "supercell = [3, 1, 1]\npotential"),
                ("step = 0.25", "step = 0.3333333333"),
            ],
            "enumeration.ce.anneal_supercell: composition fcc: Ag0.666667 Pd0.333333 is not"
            " realisable in a 2x2x2 supercell",
        ),
        (
            [("mc_temperature_k = 1000", "anneal_stop_k = 2500")],
            "enumeration.ce: anneal_stop_k 2500 K must be below anneal_start_k 2000 K",
        ),
    ],
)
def test_ce_keys_are_validated(
    tmp_path: Path, changes: list[tuple[str, str]], message: str
) -> None:
    text = AG_PD
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "agpd.toml"
    path.write_text(text)
    with pytest.raises(CampaignError) as err:
        load_plan(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
