"""``screening data`` and ``screening potential`` end to end on real databases: label frames on
the farm, fine-tune a tiny MACE with its provenance into SQLite and PostgreSQL, evaluate it,
show its history, and run a campaign that names it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT
from ase.io import write
from distributed import get_task_stream
from sqlalchemy import func, select
from training_frames import emt_frames
from typer.testing import CliRunner

from db.engine import make_engine, make_session_factory
from db.models import (
    Artifact,
    Campaign,
    CampaignStructure,
    Dataset,
    Frame,
    Potential,
    Relaxation,
    SisGeneration,
)
from screening.cli import app
from screening.clusters import ClusterSettings, make_cluster
from screening.datasets import labels
from screening.evaluation import evaluate
from screening.finetune import FineTuneSettings, MACEArchitecture, train_mace
from screening.potentials import PotentialSpec, load_calculator
from screening.training_store import get_dataset, load_frames

runner = CliRunner()


@dataclass(frozen=True)
class Ran:
    """A command's exit code and its output with line wrapping undone."""

    exit_code: int
    output: str


def _cli(*args: str) -> Ran:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    assert "Traceback" not in result.output, result.output
    return Ran(result.exit_code, " ".join(result.output.split()))


def _unlabelled(frames: list[Atoms]) -> list[Atoms]:
    return [Atoms(f.numbers, f.positions, cell=f.cell, pbc=True) for f in frames]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def foundation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MACE trained from scratch on a few EMT Cu-Au frames: the base to fine-tune."""
    frames = emt_frames(8, seed=1, rattle=0.04)
    settings = FineTuneSettings(epochs=1, seed=1)
    workdir = tmp_path_factory.mktemp("foundation")
    return train_mace(MACEArchitecture(), frames[:6], frames[6:], settings, workdir).model_path


def test_label_on_the_farm_with_a_potential_or_an_ase_class(
    tmp_path: Path, farm_address: str
) -> None:
    structures = tmp_path / "structures.extxyz"
    write(structures, _unlabelled(emt_frames(3, seed=7)), format="extxyz")
    url = f"sqlite:///{tmp_path / 'label.db'}"

    first = _cli(
        "data", "label", str(structures), "--calculator", "emt", "--dataset", "lab",
        "--scheduler", farm_address, "-d", url,
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    assert "3 frames labelled with emt, 0 already present, 0 failed" in first.output

    runs = tmp_path / "runs"
    second = _cli(
        "data", "label", str(structures), "--calculator", "ase:ase.calculators.emt.EMT",
        "--dataset", "lab", "--scheduler", farm_address, "--directory", str(runs), "-d", url,
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    assert "0 frames labelled" in second.output and "3 already present" in second.output
    assert sorted(p.name for p in runs.iterdir()) == [f"frame-{i:06d}" for i in range(3)]

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        frames = load_frames(session, get_dataset(session, "lab"))
        functional = session.scalars(select(Frame.functional)).all()
    engine.dispose()
    assert len(frames) == 3 and functional == ["emt"] * 3
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = EMT()
        energy, forces, stress = labels(frame)
        assert energy == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
        np.testing.assert_allclose(forces, atoms.get_forces(), atol=1e-10)
        np.testing.assert_allclose(stress, atoms.get_stress(), atol=1e-12)
        assert frame.info["source"].startswith(f"label emt: {structures}#")

    bad = _cli(
        "data", "label", str(structures), "--calculator", "ase:ase.calculators.nope.Nope",
        "--dataset", "lab", "-d", url,
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "no class 'Nope' in module 'ase.calculators.nope'" in bad.output


def test_labelling_by_a_potential_waits_for_the_gpu_worker(tmp_path: Path) -> None:
    structures = tmp_path / "structures.extxyz"
    write(structures, _unlabelled(emt_frames(6, seed=8)), format="extxyz")
    url = f"sqlite:///{tmp_path / 'label.db'}"
    with (
        make_cluster(ClusterSettings(workers=2, local_gpus=1)) as (client, _),
        get_task_stream(client) as stream,
    ):
        ran = _cli(
            "data", "label", str(structures), "--calculator", "emt", "--dataset", "lab",
            "--scheduler", client.scheduler.address, "-d", url,
        )  # fmt: skip
        names = {address: w["name"] for address, w in client.scheduler_info()["workers"].items()}
    assert ran.exit_code == 0, ran.output
    assert len(stream.data) == 6  # one task per frame
    assert {names[task["worker"]] for task in stream.data} == {"gpu-0"}


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: the others
def test_finetune_registers_provenance_and_a_campaign_uses_it_by_name(
    database_url: str, foundation: Path, tmp_path: Path, cuau_campaign, farm_address: str
) -> None:
    data = tmp_path / "cuau.extxyz"
    write(data, emt_frames(16, seed=11, rattle=0.1), format="extxyz")
    artifacts = tmp_path / "artifacts"
    imported = _cli(
        "data", "import", str(data), "--dataset", "cuau", "--valid", "0.25", "--test", "0.25",
        "--functional", "EMT", "-d", database_url,
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output

    tuned = _cli(
        "potential", "finetune", "--base", f"mace:{foundation}", "--dataset", "cuau",
        "--name", "cuau-ft", "--epochs", "1", "--artifacts", str(artifacts),
        "-d", database_url,
    )  # fmt: skip
    assert tuned.exit_code == 0, tuned.output
    assert 'potential = "cuau-ft"' in tuned.output

    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with sessions() as session:
        row = session.scalars(select(Potential).where(Potential.name == "cuau-ft")).one()
        base = session.get_one(Potential, row.parent_id)
        dataset = get_dataset(session, "cuau")
        test_frames = load_frames(session, dataset, "test")
        per_split = dict(
            session.execute(
                select(Frame.split, func.count()).where(Frame.dataset_id == dataset.id)
                .group_by(Frame.split)
            ).all()
        )  # fmt: skip
        artifact = session.get(Artifact, row.model_sha256)
    model = Path(PotentialSpec.parse(row.spec).argument)
    assert base.spec == f"mace:{foundation.resolve()}"
    assert base.weights_sha256 == hashlib.sha256(foundation.read_bytes()).hexdigest()
    assert model.is_relative_to(artifacts.resolve()) and row.spec == f"mace:{model}"
    assert row.weights_sha256 == row.model_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert artifact is not None and artifact.kind == "model"
    assert artifact.size_bytes == model.stat().st_size
    assert row.dataset_id == dataset.id
    splits = json.loads(row.split_json)
    assert {split: splits[split]["frames"] for split in splits} == per_split
    hyper = json.loads(row.hyperparameters_json)
    assert (hyper["mode"], hyper["epochs"], hyper["continuing"]) == ("naive", 1, False)
    recomputed = evaluate(load_calculator(PotentialSpec.parse(row.spec), "cpu"), test_frames)
    assert row.test_energy_rmse_mev_atom == pytest.approx(recomputed.energy_rmse_mev_atom)
    assert row.test_force_rmse_mev_ang == pytest.approx(recomputed.force_rmse_mev_ang)
    assert row.test_stress_rmse_gpa == pytest.approx(recomputed.stress_rmse_gpa)
    assert row.training_wall_time_s > 0

    plot = tmp_path / "parity.png"
    evaluated = _cli(
        "potential", "evaluate", "cuau-ft", "--dataset", "cuau", "--plot", str(plot),
        "-d", database_url,
    )  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    assert f"{row.test_force_rmse_mev_ang:.3g}" in evaluated.output and plot.stat().st_size > 0

    history = _cli("potential", "history", "cuau-ft", "-d", database_url)
    assert history.exit_code == 0, history.output
    assert "cuau-ft" in history.output and base.name in history.output
    assert "no SIS generations" in history.output

    campaign = cuau_campaign(name="cuau-by-name", step=0.5, fmax=0.05, max_steps=30)
    campaign.write_text(campaign.read_text().replace('potential = "emt"', 'potential = "cuau-ft"'))
    ran = _cli(
        "run", str(campaign), "--scheduler", farm_address, "--artifacts", str(artifacts),
        "-d", database_url,
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    with sessions() as session:
        used = session.scalars(select(Campaign.potential_id).where(Campaign.name == "cuau-by-name"))
        relaxed = session.scalar(select(func.count()).where(Relaxation.potential_id == row.id))
        assert used.one() == row.id and relaxed >= 3
        relaxed_count = session.scalar(
            select(func.count())
            .select_from(CampaignStructure)
            .join(Campaign, Campaign.id == CampaignStructure.campaign_id)
            .where(Campaign.name == "cuau-by-name", CampaignStructure.role == "candidate")
        )
        assert session.scalar(select(func.count()).select_from(Dataset)) == 1
    engine.dispose()

    labelled = _cli(
        "data", "label", "cuau-by-name", "--calculator", "emt", "--dataset", "relaxed",
        "--scheduler", farm_address, "-d", database_url,
    )  # fmt: skip
    assert labelled.exit_code == 0, labelled.output
    assert f"{relaxed_count} frames labelled with emt" in labelled.output  # one per candidate

    unknown = _cli("validate", str(campaign), "-d", f"sqlite:///{tmp_path / 'other.db'}")
    assert unknown.exit_code == 2
    assert "unknown potential spec 'cuau-ft'" in unknown.output
    assert "or the name of a registered potential" in unknown.output
    assert not (tmp_path / "other.db").exists()


def test_sis_records_generations_and_history_shows_them(foundation: Path, tmp_path: Path) -> None:
    """The tiny foundation, trained on a few near-equilibrium frames, melts the Cu framework
    of Cu-Au at 1100 K within 0.6 ps (EMT's stays solid); SIS labels frames from before that
    point with EMT, fine-tunes NAME-g1 from it and runs that."""
    url = f"sqlite:///{tmp_path / 'sis.db'}"
    seed = tmp_path / "seed.extxyz"
    write(seed, emt_frames(12, seed=21, rattle=0.05), format="extxyz")
    assert _cli(
        "data", "import", str(seed), "--dataset", "sis", "--valid", "0.25", "--test", "0.25",
        "-d", url,
    ).exit_code == 0  # fmt: skip
    cell = emt_frames(1, seed=3, rattle=0.0)[0].repeat((2, 1, 1))
    structure = tmp_path / "cell.extxyz"
    write(structure, cell, format="extxyz")

    ran = _cli(
        "potential", "sis", "--model", f"mace:{foundation}", "--reference", "emt",
        "--dataset", "sis", "--structure", str(structure), "--name", "collapse",
        "--temperature", "1100", "--steps", "300", "--equilibration-steps", "0",
        "--mobile-species", "Au", "--generations", "2", "--frames", "6", "--window-ps", "0.2",
        "--epochs", "1", "--artifacts", str(tmp_path / "artifacts"), "-d", url,
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        generations = session.scalars(
            select(SisGeneration).order_by(SisGeneration.generation)
        ).all()
        first = generations[0]
        start = session.get_one(Potential, first.model_id)
        g1 = session.get_one(Potential, first.next_model_id)
        from_sis = session.scalar(
            select(func.count()).where(Frame.source.startswith("collapse: sis generation 0"))
        )
    engine.dispose()
    assert [g.generation for g in generations] == [0, 1]
    assert not first.stable and first.unstable_runs == first.runs == 1
    assert first.reason and 0 < first.t_cp_ps <= 0.6
    assert first.catastrophic_step * 2.0 / 1000 == pytest.approx(first.t_cp_ps)
    assert (first.window_low, first.window_high, first.window_ps) == (0.25, 4.0, 0.2)
    assert 1 <= first.frames_added <= 6 and from_sis == first.frames_added
    assert start.spec == f"mace:{foundation}" and g1.name == "collapse-g1"
    assert g1.parent_id == start.id and generations[1].model_id == g1.id
    assert first.learning_rate == pytest.approx(1e-3)
    assert json.loads(first.temperatures_json) == [1100.0]
    assert generations[1].next_model_id is None  # the cap: no model after the last

    history = _cli("potential", "history", "collapse", "-d", url)
    assert history.exit_code == 0, history.output
    assert "lineage of collapse-g1" in history.output and "SIS generations" in history.output
    assert f"{first.t_cp_ps:.3g}" in history.output and "collapse-g1" in history.output


def test_learning_curve_trains_nested_subsets_on_the_farm(
    foundation: Path, tmp_path: Path, farm_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the shared work directory of farm training goes here
    url = f"sqlite:///{tmp_path / 'curve.db'}"
    data = tmp_path / "curve.extxyz"
    write(data, emt_frames(20, seed=5, rattle=0.08), format="extxyz")
    imported = _cli(
        "data", "import", str(data), "--dataset", "c", "--valid", "0.2", "--test", "0.2",
        "-d", url,
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    plot = tmp_path / "curve.png"

    curve = _cli(
        "potential", "learning-curve", "--base", f"mace:{foundation}", "--dataset", "c",
        "--sizes", "6,3", "--epochs", "1", "--plot", str(plot), "--scheduler", farm_address,
        "-d", url,
    )  # fmt: skip

    assert curve.exit_code == 0, curve.output
    assert plot.stat().st_size > 0
    assert curve.output.index("│ 3 │") < curve.output.index("│ 6 │"), curve.output
    too_many = _cli(
        "potential", "learning-curve", "--base", f"mace:{foundation}", "--dataset", "c",
        "--sizes", "500", "-d", url,
    )  # fmt: skip
    assert too_many.exit_code == 2 and "--sizes 500: the train split of 'c' has" in too_many.output
