"""Cluster backends on real worker processes: GPU resource routing, SLURM jobs submitted by
adaptive scaling to a stand-in sbatch that runs them here, and the scripts' directives."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from distributed import Event, get_worker

from screening import gpu_worker
from screening.clusters import (
    ClusterSettings,
    FarmInfo,
    job_script,
    make_cluster,
    mlip_resources,
)
from screening.farm import local_torch_threads

ROOT = Path(__file__).resolve().parents[2]


def where() -> tuple[str, str | None]:
    """The worker a task ran on and the GPUs it sees."""
    return str(get_worker().name), os.environ.get("CUDA_VISIBLE_DEVICES")


def hold_gpu() -> tuple[str, str | None]:
    Event("started").set()
    Event("release").wait(timeout=60)
    return where()


def worker_setup() -> tuple[str, int]:
    import torch

    return os.environ["CUDA_VISIBLE_DEVICES"], torch.get_num_threads()


def test_gpu_tasks_wait_for_the_gpu_worker_and_analysis_runs_beside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")  # the GPU worker keeps it, cpu ones see none
    with make_cluster(ClusterSettings(workers=2, local_gpus=1)) as (client, info):
        assert info == FarmInfo(2, {"GPU": 1}, local_torch_threads(2))
        assert mlip_resources(client) == {"GPU": 1}
        blocker = client.submit(hold_gpu, resources=info.mlip_resources, pure=False)
        assert Event("started", client=client).wait(timeout=30)
        gpu_tasks = [
            client.submit(where, resources=info.mlip_resources, pure=False) for _ in range(3)
        ]
        analysis = client.submit(where, pure=False)
        assert analysis.result(timeout=30) == ("cpu-0", "")
        assert not any(future.done() for future in [blocker, *gpu_tasks])
        Event("release", client=client).set()
        assert {future.result(timeout=30) for future in [blocker, *gpu_tasks]} == {("gpu-0", "7")}
        address = ClusterSettings(backend="address", address=client.scheduler.address)
        with make_cluster(address) as (_, address_info):
            assert address_info == FarmInfo(2, {"GPU": 1}, None)


# Stand-ins for SLURM's commands: sbatch runs the job script at once, in its own process
# group, with the two GPUs an allocation of --gres=gpu:2 would get; scancel ends the group.
SBATCH = """#!/usr/bin/env bash
script=$(mktemp "$(dirname "$0")/job-XXXX.sh")
cp "$1" "$script"
CUDA_VISIBLE_DEVICES=3,5 setsid bash "$script" >"$script.log" 2>&1 </dev/null &
echo "Submitted batch job $!"
"""
SCANCEL = """#!/usr/bin/env bash
kill -TERM -- "-$1" 2>/dev/null || true
"""


def test_slurm_jobs_start_when_gpu_work_arrives_and_pin_one_gpu_per_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in {"sbatch": SBATCH, "scancel": SCANCEL}.items():
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(tmp_path), os.environ["PATH"]]))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), str(ROOT)]))
    settings = ClusterSettings(
        backend="slurm", gpus_per_job=2, cores_per_job=4, memory_per_job="2GB", maximum_jobs=1
    )
    with make_cluster(settings) as (client, info):
        assert info == FarmInfo(2, {"GPU": 1}, None)
        futures = [
            client.submit(worker_setup, resources=info.mlip_resources, pure=False) for _ in range(4)
        ]
        assert {future.result(timeout=60) for future in futures} <= {("3", 2), ("5", 2)}
        client.wait_for_workers(2, timeout=30)
        assert sorted(client.run(worker_setup).values()) == [("3", 2), ("5", 2)]  # 4 cores / 2
        assert mlip_resources(client) == {"GPU": 1}
    (script,) = tmp_path.glob("job-*.sh")  # adaptive scaling stopped at maximum_jobs
    assert "#SBATCH --gres=gpu:2" in script.read_text().splitlines()


@pytest.mark.parametrize(
    ("name", "visible", "pinned"),
    [
        ("screening-3-1", "4,6", "6"),
        ("screening-3-0", "4,6", "4"),
        ("screening-3", "GPU-9a", "GPU-9a"),
    ],
)
def test_preload_keeps_the_ith_allocated_gpu(
    name: str, visible: str, pinned: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # dask_setup sets them
        monkeypatch.setenv(variable, "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    worker = SimpleNamespace(
        name=name, state=SimpleNamespace(nthreads=1, total_resources={"GPU": 1})
    )
    gpu_worker.dask_setup(worker)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == pinned


def test_a_worker_that_cannot_tell_its_gpu_gives_up_the_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    resources = {"GPU": 1}
    state = SimpleNamespace(nthreads=1, total_resources=resources, available_resources={"GPU": 1})
    gpu_worker.dask_setup(SimpleNamespace(name="tcp://10.0.0.1:4321", state=state))  # no index
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
    assert state.total_resources == state.available_resources == {}
    with pytest.raises(ValueError, match="one worker process per allocated GPU"):
        gpu_worker.gpu_of_process("job-2", "0,1")  # an index past the allocation


def test_slurm_gpu_job_script() -> None:
    settings = ClusterSettings(
        backend="slurm",
        gpus_per_job=2,
        cores_per_job=16,
        memory_per_job="64GiB",
        walltime="12:00:00",
        account="mat123",
        queue="gpu",
        job_extra_directives=("--constraint=a100",),
    )
    lines = job_script(settings).splitlines()
    for directive in ["-A mat123", "-p gpu", "-t 12:00:00", "--cpus-per-task=16", "--mem=64G"]:
        assert f"#SBATCH {directive}" in lines
    assert lines.index("#SBATCH --gres=gpu:2") < lines.index("#SBATCH --constraint=a100")
    assert "export MALLOC_TRIM_THRESHOLD_=268435456" in lines
    worker = lines[-1]
    assert "--nworkers 2 " in worker and "--nthreads 8 " in worker
    assert worker.endswith("--resources GPU=1 --preload screening.gpu_worker")


def test_pbs_gpu_and_cpu_job_scripts() -> None:
    gpu = ClusterSettings(backend="pbs", gpus_per_job=4, cores_per_job=32, memory_per_job="128GiB")
    lines = job_script(gpu).splitlines()
    assert "#PBS -l select=1:ncpus=32:mem=128GB:ngpus=4" in lines
    assert "#PBS -l walltime=24:00:00" in lines
    assert "--nworkers 4 " in lines[-1] and "--resources GPU=1" in lines[-1]
    cpu = job_script(ClusterSettings(backend="pbs", cores_per_job=8)).splitlines()
    assert "#PBS -l select=1:ncpus=8:mem=15GB" in cpu
    assert "--nworkers 8 --nanny" in cpu[-1] and "--nthreads 1 " in cpu[-1]
    assert "GPU" not in cpu[-1] and cpu[-1].endswith("--preload screening.gpu_worker")


@pytest.mark.parametrize(
    "settings",
    [
        {"backend": "address"},
        {"backend": "local", "address": "tcp://host:8786"},
        {"backend": "slurm", "gpus_per_job": 4, "cores_per_job": 2},
        {"backend": "slurm", "minimum_jobs": 3, "maximum_jobs": 2},
        {"backend": "kubernetes"},
        {"memory_per_job": "lots"},
    ],
)
def test_settings_that_cannot_run_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ClusterSettings(**settings)  # type: ignore[arg-type]
