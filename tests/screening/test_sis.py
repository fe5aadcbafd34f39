"""Stability-indicated sampling: the loop's bookkeeping on EMT, and the real thing with a
deliberately poor MACE that EMT-labelled frames from before its catastrophic points repair."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from screening.errors import PotentialError
from screening.evaluation import evaluate
from screening.finetune import FineTuneSettings, MACEArchitecture, train_mace
from screening.md import MDSettings, StabilityCriteria
from screening.potentials import PotentialSpec, load_calculator
from screening.sis import Reference, SISSettings, dataset_finetune, label, run_sis
from screening.structures import to_structure

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cu3au() -> Atoms:
    """8-atom fcc cell with every fourth site Au."""
    atoms = bulk("Cu", "fcc", a=3.75).repeat(2)
    atoms.symbols[::4] = "Au"
    return atoms


def _closest_ang(atoms: Atoms) -> float:
    distances = atoms.get_all_distances(mic=True)
    return float(distances[np.triu_indices(len(atoms), 1)].min())


def test_label_carries_the_reference_numbers() -> None:
    atoms = _cu3au()
    atoms.rattle(0.05, seed=3)
    frame = label(atoms, EMT(), source="here")
    atoms.calc = EMT()
    assert frame.get_potential_energy() == pytest.approx(atoms.get_potential_energy())
    np.testing.assert_allclose(frame.get_forces(), atoms.get_forces())
    np.testing.assert_allclose(frame.get_stress(), atoms.get_stress())
    assert frame.info["source"] == "here" and len(frame.info["frame_hash"]) == 64


def test_the_loop_runs_generations_until_the_cap(tmp_path: Path) -> None:
    # A model that never improves (EMT, rattled far from equilibrium at 50 K: the released
    # energy heats it out of any window) fails every generation.
    rattled = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    rattled.rattle(0.25, seed=1)
    md = MDSettings(
        temperature_k=50,
        equilibration_steps=0,
        sample_every=2,
        thermostat="nose-hoover",
        mobile_species="Cu",
    )
    settings = SISSettings(
        max_generations=3,
        target_steps=200,
        window_ps=0.05,
        frames_per_generation=4,
        learning_rate=1e-3,
        lr_decay=0.5,
        reference_md_steps=8,
    )
    calls: list[tuple[str, int, float, Path]] = []

    def finetune_fn(base: str, frames: Sequence[Atoms], rate: float, workdir: Path) -> str:
        calls.append((base, len(frames), rate, workdir))
        return "emt"

    structures = [to_structure(rattled)]
    history = run_sis("emt", Reference("emt"), structures, md, settings, finetune_fn, tmp_path)
    assert [g.index for g in history] == [0, 1, 2]
    assert [g.temperature_window for g in history] == [(0.25, 4.0), (0.5, 1.5), (0.5, 1.5)]
    assert all(not g.survived and "left the window" in g.reason for g in history)
    assert all(g.runs == 1 and g.unstable_runs == 1 for g in history)
    assert all(0 < len(g.frames_added) <= 4 for g in history)
    # Fine-tuned after every failure but the last, at a decaying learning rate.
    assert [(c[0], c[2], c[3].name) for c in calls] == [
        ("emt", 1e-3, "generation-0"),
        ("emt", 5e-4, "generation-1"),
    ]
    assert [g.next_model_spec for g in history] == ["emt", "emt", None]
    assert [g.learning_rate for g in history] == [1e-3, 5e-4, None]
    frame = history[0].frames_added[0]
    expected = frame.copy()
    expected.calc = EMT()
    assert frame.get_potential_energy() == pytest.approx(expected.get_potential_energy())
    assert frame.info["source"] == "sis generation 0"


def test_an_ase_reference_is_built_fresh_for_each_task_in_a_directory_of_its_own(
    tmp_path: Path,
) -> None:
    rattled = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    rattled.rattle(0.25, seed=1)
    md = MDSettings(temperature_k=50, equilibration_steps=0, sample_every=2, mobile_species="Cu")
    settings = SISSettings(
        max_generations=1,
        target_steps=200,
        window_ps=0.05,
        frames_per_generation=3,
        reference_md_steps=8,
    )
    reference = Reference("ase:ase.calculators.emt.EMT")
    assert not reference.mlip and Reference("emt").mlip

    def no_finetune(base: str, frames: Sequence[Atoms], rate: float, workdir: Path) -> str:
        raise AssertionError("the last generation trains no model")

    [generation] = run_sis(
        "emt", reference, [to_structure(rattled)], md, settings, no_finetune, tmp_path
    )
    assert not generation.survived and len(generation.frames_added) == 3
    work = tmp_path / "reference-0"
    assert sorted(p.name for p in work.iterdir()) == ["frame-0", "frame-1", "frame-2", "md-0"]
    for frame in generation.frames_added:
        expected = frame.copy()
        expected.calc = EMT()
        assert frame.get_potential_energy() == pytest.approx(expected.get_potential_energy())
        assert frame.info["functional"] == "emt"


def test_settings_are_checked() -> None:
    with pytest.raises(PotentialError, match="at least one generation"):
        SISSettings(max_generations=0)
    with pytest.raises(PotentialError, match="temperature window"):
        SISSettings(temperature_windows=())


@pytest.mark.slow
def test_sis_repairs_a_poor_model_until_md_survives(tmp_path: Path) -> None:
    def frames(count: int, seed: int) -> list[Atoms]:
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(count):
            atoms = _cu3au()
            atoms.rattle(0.03, seed=int(rng.integers(2**31)))
            out.append(label(atoms, EMT()))
        return out

    # Too few frames, too few epochs, nothing far from the lattice sites: it breaks at 1200 K.
    train, valid = frames(4, 1), frames(2, 2)
    tiny = MACEArchitecture(
        hidden_irreps="8x0e", mlp_irreps="8x0e", radial_mlp="[16, 16]", num_radial_basis=6
    )
    poor_settings = FineTuneSettings(epochs=5, batch_size=2, energy_weight=10.0)
    poor = train_mace(tiny, train, valid, poor_settings, tmp_path / "poor")
    # Nearest neighbours sit at 2.65 Å; closer than 1.8 Å the model is already collapsing
    # the cell, and configurations before that point are still physical.
    md = MDSettings(
        temperature_k=1200,
        timestep_fs=4.0,
        equilibration_steps=25,
        sample_every=5,
        mobile_species="Au",
        stability=StabilityCriteria(min_distance_ang=1.8),
    )
    settings = SISSettings(
        max_generations=4,
        target_steps=250,
        window_ps=0.2,
        frames_per_generation=16,
        learning_rate=1e-2,
        lr_decay=0.7,
        reference_md_steps=40,
    )
    # Short fine-tunes: small batches, energies weighted like forces (see test_finetune).
    tuning = FineTuneSettings(epochs=10, batch_size=2, energy_weight=100.0)
    step = dataset_finetune(train, valid, tuning)
    structures = [to_structure(_cu3au())]
    history = run_sis(poor.spec, Reference("emt"), structures, md, settings, step, tmp_path)

    first, last = history[0], history[-1]
    assert not first.survived and first.model_spec == poor.spec
    assert "two atoms" in first.reason and first.catastrophic_time_ps < 1.0
    assert 2 <= len(history) <= 4 and last.survived and not last.frames_added
    assert last.next_model_spec is None
    for index, generation in enumerate(history[:-1]):
        assert not generation.survived and 0 < len(generation.frames_added) <= 16
        assert generation.next_model_spec == history[index + 1].model_spec
        assert generation.learning_rate == pytest.approx(1e-2 * 0.7**index)
    assert history[1].temperature_window == (0.5, 1.5)  # coarse to fine
    added = [frame for generation in history for frame in generation.frames_added]
    # Reference MD from before the catastrophic points: physical configurations.
    assert min(_closest_ang(frame) for frame in added) >= 1.8
    assert max(frame.get_potential_energy() / len(frame) for frame in added) < 0.5  # eV/atom
    # The repaired model reproduces the reference where the poor one failed.
    before = evaluate(load_calculator(PotentialSpec.parse(poor.spec), "cpu"), added)
    after = evaluate(load_calculator(PotentialSpec.parse(last.model_spec), "cpu"), added)
    assert after.energy_rmse_mev_atom < 0.5 * before.energy_rmse_mev_atom
    assert after.force_rmse_mev_ang < 0.5 * before.force_rmse_mev_ang
