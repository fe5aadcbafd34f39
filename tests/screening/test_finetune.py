"""Fine-tuning on EMT-labelled frames.

A tiny MACE trained from scratch on pure Cu and pure Au is the foundation. The new chemistry
is Cu-Au alloys, whose mixed neighbourhoods it never saw: naive and multihead fine-tunes on
alloy frames must beat it on held-out alloy frames, and the multihead one must still know the
pure metals through its pretraining head. CHGNet fine-tuned from its bundled weights must beat
itself on EMT frames, with its frozen layers untouched.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write

from screening.errors import PotentialError
from screening.evaluation import Evaluation, evaluate
from screening.finetune import (
    CHGNET_FROZEN,
    FineTuneResult,
    FineTuneSettings,
    MACEArchitecture,
    finetune,
    train_mace,
)
from screening.potentials import PotentialSpec, load_calculator, validate_spec
from screening.sis import label

TINY = MACEArchitecture(
    hidden_irreps="8x0e", mlp_irreps="8x0e", radial_mlp="[16, 16]", num_radial_basis=6
)
# Short trainings: small batches for more steps, and the energy weighted 100:100 against the
# forces (mace-torch's 1:100 suits hundreds of epochs), so that a few epochs fit both.
SHORT = FineTuneSettings(epochs=8, batch_size=2, energy_weight=100.0, learning_rate=3e-3)


def _frames(count: int, seed: int, alloy: bool) -> list[Atoms]:
    """EMT-labelled 8-atom fcc cells, strained by ~1.5 % and rattled by 0.06 Å: pure Cu and
    pure Au at their own lattice constants in turn, or random Cu-Au alloys (40 % Au)."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        if alloy:
            atoms = bulk("Cu", "fcc", a=3.75).repeat(2)
            atoms.symbols[rng.random(len(atoms)) < 0.4] = "Au"
        else:
            atoms = bulk("Au" if i % 2 else "Cu", "fcc", a=4.08 if i % 2 else 3.61).repeat(2)
        atoms.set_cell(atoms.cell * (1 + rng.normal(0, 0.015)), scale_atoms=True)
        atoms.rattle(0.06, seed=int(rng.integers(2**31)))
        frames.append(label(atoms, EMT(), source="test"))
    return frames


def _errors(spec: str, frames: list[Atoms]) -> Evaluation:
    return evaluate(load_calculator(PotentialSpec.parse(spec), "cpu"), frames)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pure() -> dict[str, list[Atoms]]:
    return {"train": _frames(24, 1, False), "valid": _frames(4, 2, False)}


@pytest.fixture(scope="module")
def alloys() -> dict[str, list[Atoms]]:
    return {
        "train": _frames(16, 3, True),
        "valid": _frames(4, 4, True),
        "test": _frames(8, 5, True),
    }


@pytest.fixture(scope="module")
def foundation(pure, tmp_path_factory) -> FineTuneResult:
    settings = replace(SHORT, epochs=15, learning_rate=None)  # 1e-2, from scratch
    workdir = tmp_path_factory.mktemp("foundation")
    return train_mace(TINY, pure["train"], pure["valid"], settings, workdir)


@pytest.mark.slow
def test_a_tiny_mace_trained_from_scratch_is_saved_and_learned(foundation, pure) -> None:
    assert foundation.spec == f"mace:{foundation.model_path}"
    assert foundation.model_path.is_file()
    assert foundation.epochs_run == 15 and foundation.hyperparameters["mode"] == "scratch"
    assert MACEArchitecture.of_model(foundation.model_path) == TINY
    held_out = _frames(6, 6, False)
    reference_rms = np.sqrt(np.mean([np.mean(f.get_forces() ** 2) for f in held_out])) * 1000
    assert _errors(foundation.spec, held_out).force_rmse_mev_ang < 0.4 * reference_rms


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["naive", "multihead"])
def test_finetuning_beats_the_foundation_on_the_new_chemistry(
    foundation, pure, alloys, mode: str, tmp_path: Path
) -> None:
    replay = None
    if mode == "multihead":
        replay = tmp_path / "replay.xyz"
        write(replay, pure["train"], format="extxyz")
    settings = replace(SHORT, replay_frames=replay)
    result = finetune(foundation.spec, alloys["train"], alloys["valid"], settings, tmp_path / mode)
    assert result.hyperparameters["mode"] == mode and result.epochs_run == 8
    before = _errors(foundation.spec, alloys["test"])
    after = _errors(result.spec, alloys["test"])
    assert after.energy_rmse_mev_atom < 0.7 * before.energy_rmse_mev_atom
    assert after.force_rmse_mev_ang < 0.5 * before.force_rmse_mev_ang
    if mode == "multihead":
        from mace.calculators import MACECalculator

        model = torch.load(result.model_path, map_location="cpu", weights_only=False)
        assert list(model.heads) == ["pt_head", "Default"]
        path = str(result.model_path)
        pt_head = MACECalculator(model_paths=path, device="cpu", head="pt_head")
        kept = evaluate(pt_head, pure["valid"]).force_rmse_mev_ang
        assert kept < 1.5 * _errors(foundation.spec, pure["valid"]).force_rmse_mev_ang


@pytest.mark.slow
def test_from_scratch_keeps_the_base_architecture(foundation, alloys, tmp_path: Path) -> None:
    settings = replace(SHORT, epochs=1, learning_rate=None, from_scratch=True)
    result = finetune(foundation.spec, alloys["train"], alloys["valid"], settings, tmp_path)
    assert result.hyperparameters["mode"] == "scratch"
    assert result.hyperparameters["learning_rate"] == pytest.approx(1e-2)
    assert MACEArchitecture.of_model(result.model_path) == TINY


@pytest.mark.slow
def test_chgnet_finetuning_lowers_its_error_on_emt_frames(tmp_path: Path) -> None:
    train, valid, test = _frames(16, 7, True), _frames(6, 8, True), _frames(10, 9, True)
    settings = FineTuneSettings(epochs=3, stress_weight=0.0)
    result = finetune("chgnet", train, valid, settings, tmp_path)
    assert result.spec == f"chgnet-file:{result.model_path}" and result.family == "chgnet"
    assert validate_spec(result.spec).name == "chgnet-model.pth"
    before, after = _errors("chgnet", test), _errors(result.spec, test)
    # EMT's energy zero is about 4 eV/atom above CHGNet's: the AtomRef shift takes that.
    assert before.energy_rmse_mev_atom > 2000 and after.energy_rmse_mev_atom < 150
    assert after.force_rmse_mev_ang < 0.8 * before.force_rmse_mev_ang
    tuned = torch.load(result.model_path, map_location="cpu", weights_only=False)["model"]
    base = load_calculator(PotentialSpec.parse("chgnet"), "cpu").model.state_dict()
    for name, weights in tuned["state_dict"].items():
        frozen = any(name.startswith(prefix + ".") for prefix in CHGNET_FROZEN)
        if frozen or name.startswith("atom_conv_layers.3."):
            assert torch.equal(weights, base[name].cpu()) == frozen, name


@pytest.mark.parametrize(
    ("spec", "settings", "words"),
    [
        ("emt", FineTuneSettings(), "cannot fine-tune 'emt'"),
        ("mace:{model}", FineTuneSettings(frozen_layers=("interactions",)), "CHGNet only"),
        ("chgnet", FineTuneSettings(replay_frames=Path("x.xyz")), "MACE multihead"),
        ("chgnet", FineTuneSettings(frozen_layers=("nonsense",)), "not a CHGNet module"),
        ("chgnet-file:{missing}", FineTuneSettings(), "CHGNet model file not found"),
        ("chgnet-file", FineTuneSettings(), "needs an argument"),
        ("mace:{model}", FineTuneSettings(from_scratch=True, replay_frames=Path("x")), "replay"),
    ],
)
def test_impossible_requests_are_refused_with_a_reason(
    spec: str, settings: FineTuneSettings, words: str, tmp_path: Path
) -> None:
    model = tmp_path / "some.model"
    model.touch()
    spec = spec.format(model=model, missing=tmp_path / "missing.pth.tar")
    frames = _frames(2, 10, True)
    with pytest.raises(PotentialError, match=words):
        finetune(spec, frames[:1], frames[1:], settings, tmp_path / "run")


def test_settings_and_frames_are_checked_before_training(tmp_path: Path) -> None:
    with pytest.raises(PotentialError, match="epochs"):
        FineTuneSettings(epochs=0)
    unlabelled = bulk("Cu", "fcc", a=3.61).repeat(2)
    with pytest.raises(PotentialError, match="no energy or forces"):
        finetune("chgnet", [unlabelled], _frames(1, 11, True), FineTuneSettings(), tmp_path)
    assert FineTuneSettings(continuing=True).rate() == pytest.approx(1e-4)
