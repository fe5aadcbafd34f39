"""Where the farm's workers come from: this machine, a running scheduler, or batch jobs.

:func:`make_cluster` opens a client on the backend of a campaign's ``[farm]`` table and
tells the farm what it needs to know (:class:`FarmInfo`): how many workers there will be,
whether some hold a GPU (then MLIP tasks request ``GPU=1``, which only those workers
have) and the torch threads to give a task. ``slurm`` and ``pbs`` submit dask-jobqueue
jobs that scale between ``minimum_jobs`` and ``maximum_jobs``; a GPU job runs one worker
process per GPU, each pinned to its GPU by :mod:`screening.gpu_worker`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

import dask
from dask.utils import parse_bytes
from distributed import Client, LocalCluster, Nanny, Scheduler, SpecCluster
from distributed.deploy.cluster import Cluster
from distributed.worker_memory import parse_memory_limit

from screening.farm import (
    DEBUG_LOG_CONFIG,
    MALLOC_ENVIRON,
    default_worker_count,
    local_torch_threads,
    mlip_resources,
)
from screening.gpu_worker import GPU, visible_gpu_ids

log = logging.getLogger(__name__)

__all__ = ["ClusterSettings", "FarmInfo", "job_script", "make_cluster", "mlip_resources"]

Backend = Literal["local", "address", "slurm", "pbs"]
Resources = dict[str, float]

GPU_REQUEST: Resources = {GPU: 1}
PRELOAD = "screening.gpu_worker"
# What dask-jobqueue writes in a script rendered before its scheduler exists.
SCRIPT_SCHEDULER = "tcp://<insert-scheduler-address-here>:8786"


@dataclass(frozen=True)
class ClusterSettings:
    """A campaign's ``[farm]`` backend. ``workers`` and ``local_gpus`` are for ``local``
    (``local_gpus``: None detects them); the ``*_job`` keys, ``walltime``, ``account``,
    ``queue``, ``interface`` and the job bounds are for ``slurm`` and ``pbs``."""

    backend: Backend = "local"
    address: str | None = None
    scheduler_timeout_s: float = 60.0
    workers: int | None = None
    local_gpus: int | None = None
    gpus_per_job: int = 0
    cores_per_job: int = 1
    memory_per_job: str = "16GB"
    walltime: str = "24:00:00"
    account: str | None = None
    queue: str | None = None
    interface: str | None = None
    job_extra_directives: tuple[str, ...] = ()
    minimum_jobs: int = 0
    maximum_jobs: int = 1

    def __post_init__(self) -> None:
        if self.backend not in get_args(Backend):
            raise ValueError(f"backend: {self.backend!r} is not one of {get_args(Backend)}")
        if (self.backend == "address") != bool(self.address):
            raise ValueError("address: required by backend 'address' and only by it")
        if self.workers is not None and self.workers < 1:
            raise ValueError("workers: at least 1")
        if self.local_gpus is not None and self.local_gpus < 0:
            raise ValueError("local_gpus: at least 0")
        if self.gpus_per_job < 0:
            raise ValueError("gpus_per_job: at least 0")
        if self.cores_per_job < max(1, self.gpus_per_job):
            raise ValueError("cores_per_job: at least 1, and at least gpus_per_job")
        if not 0 <= self.minimum_jobs <= self.maximum_jobs or self.maximum_jobs < 1:
            raise ValueError(
                "minimum_jobs, maximum_jobs: need 0 <= minimum <= maximum, 1 <= maximum"
            )
        parse_bytes(self.memory_per_job)  # a ValueError names a bad size

    def overridden(self, scheduler: str | None, workers: int | None) -> ClusterSettings:
        """These settings with the command line's ``--scheduler`` and ``--workers``."""
        if scheduler:
            return replace(self, backend="address", address=scheduler)
        return replace(self, workers=workers) if workers else self

    @property
    def processes_per_job(self) -> int:
        """Worker processes of a batch job: one per GPU, else one single-threaded per core
        (threads of one process would share its cached, stateful calculator)."""
        return self.gpus_per_job or self.cores_per_job


@dataclass(frozen=True)
class FarmInfo:
    """What the farm needs to know about its cluster."""

    workers: int  # worker processes at full size (sizes the window of futures)
    mlip_resources: Resources | None  # what an MLIP task requests; None: any worker runs it
    torch_threads: int | None  # threads to give a task; None: the workers set their own


@contextmanager
def make_cluster(
    settings: ClusterSettings, max_attempts: int = 2
) -> Iterator[tuple[Client, FarmInfo]]:
    """A client on the cluster ``settings`` describes, and what the farm needs to know.

    A cluster started here (not ``address``) lets Dask reschedule a task whose worker died
    until ``max_attempts`` workers have died running it.
    """
    if not log.isEnabledFor(logging.INFO):  # keep Dask's start-up chatter off the terminal
        logging.getLogger("distributed").setLevel(logging.WARNING)
    config = {
        "distributed.scheduler.allowed-failures": max(0, max_attempts - 1),
        **MALLOC_ENVIRON,
        **DEBUG_LOG_CONFIG,
    }
    with dask.config.set(config), ExitStack() as stack:
        if settings.backend == "address":
            # Connecting, and reconnecting to a scheduler that restarts: after this long
            # the client closes, and the driver exits with a resumable state.
            timeout = f"{settings.scheduler_timeout_s}s"
            client = stack.enter_context(Client(settings.address, timeout=timeout))
            yield client, _address_info(client)
            return
        if settings.backend == "local":
            cluster, info = _local_cluster(settings)
        else:
            cluster, info = _jobqueue_cluster(settings)
        stack.enter_context(cluster)
        yield stack.enter_context(Client(cluster)), info


def local_gpu_count() -> int:
    """GPUs torch can use in this process (``CUDA_VISIBLE_DEVICES`` applied). torch counts
    them through NVML where it can, which creates no CUDA context; 0 without torch."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count()


def job_script(settings: ClusterSettings) -> str:
    """The batch script a ``slurm`` or ``pbs`` cluster submits for each job, rendered
    without a scheduler (its address is a placeholder) and without submitting anything."""
    job_class = _jobqueue_classes(settings.backend)[0]
    return job_class(SCRIPT_SCHEDULER, name="dummy-name", **_job_options(settings)).job_script()


def _address_info(client: Client) -> FarmInfo:
    if not client.scheduler_info(n_workers=-1)["workers"]:
        log.warning("waiting for a worker to connect to %s", client.scheduler.address)
        client.wait_for_workers(1)
    count = len(client.scheduler_info(n_workers=-1)["workers"])
    return FarmInfo(workers=count, mlip_resources=mlip_resources(client), torch_threads=None)


def _local_cluster(settings: ClusterSettings) -> tuple[Cluster, FarmInfo]:
    """A LocalCluster of single-threaded worker processes; with GPUs, one of them per GPU
    holds ``GPU=1`` and sees only that GPU, and the others (cheap tasks) see none."""
    count = settings.workers or default_worker_count()
    gpus = local_gpu_count() if settings.local_gpus is None else settings.local_gpus
    if gpus == 0:
        cluster = LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        return cluster, FarmInfo(count, None, local_torch_threads(count))
    total = max(count, gpus)
    common = {
        "host": "127.0.0.1",
        "nthreads": 1,
        "memory_limit": parse_memory_limit("auto", 1, total, logger=log),
        "silence_logs": logging.ERROR,
    }
    workers = {
        f"gpu-{index}": _nanny(common, resources=dict(GPU_REQUEST), CUDA_VISIBLE_DEVICES=gpu_id)
        for index, gpu_id in enumerate(_local_gpu_ids(gpus))
    }
    for index in range(total - gpus):
        workers[f"cpu-{index}"] = _nanny(common, resources={}, CUDA_VISIBLE_DEVICES="")
    scheduler = {
        "cls": Scheduler,
        "options": {"host": "127.0.0.1", "dashboard": True, "dashboard_address": ":0"},
    }
    cluster = SpecCluster(workers=workers, scheduler=scheduler, silence_logs=logging.ERROR)
    return cluster, FarmInfo(total, dict(GPU_REQUEST), local_torch_threads(total))


def _nanny(common: dict[str, Any], resources: Resources, **env: str) -> dict[str, Any]:
    return {"cls": Nanny, "options": {**common, "resources": resources, "env": env}}


def _local_gpu_ids(count: int) -> list[str]:
    """The ids of this process's first ``count`` GPUs, as ``CUDA_VISIBLE_DEVICES`` names them."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [str(index) for index in range(count)] if visible is None else visible_gpu_ids(visible)
    if len(ids) < count:
        raise ValueError(f"local_gpus: {count} GPUs, but CUDA_VISIBLE_DEVICES={visible!r}")
    return ids[:count]


def _jobqueue_cluster(settings: ClusterSettings) -> tuple[Cluster, FarmInfo]:
    cluster_class = _jobqueue_classes(settings.backend)[1]
    cluster = cluster_class(
        **_job_options(settings),
        scheduler_options={"dashboard_address": ":0"},
        silence_logs=logging.ERROR,
    )
    # A job is given back only after about a minute of Dask asking for fewer workers: the
    # queue wait and model loading of a new one cost more than a minute of idling, and a
    # job's workers go together (releasing one would kill its busy sibling).
    cluster.adapt(
        minimum_jobs=settings.minimum_jobs,
        maximum_jobs=settings.maximum_jobs,
        interval="5s",
        wait_count=12,
    )
    info = FarmInfo(
        workers=settings.maximum_jobs * settings.processes_per_job,
        mlip_resources=dict(GPU_REQUEST) if settings.gpus_per_job else None,
        torch_threads=None,  # screening.gpu_worker sets them on each worker
    )
    return cluster, info


def _jobqueue_classes(backend: str) -> tuple[type, type]:
    from dask_jobqueue import PBSCluster, SLURMCluster
    from dask_jobqueue.pbs import PBSJob
    from dask_jobqueue.slurm import SLURMJob

    classes = {"slurm": (SLURMJob, SLURMCluster), "pbs": (PBSJob, PBSCluster)}
    if backend not in classes:
        raise ValueError(f"backend {backend!r} submits no batch jobs")
    return classes[backend]


def _job_options(settings: ClusterSettings) -> dict[str, Any]:
    """The dask-jobqueue keywords of a job: its directives and its ``dask worker`` line."""
    gpus = settings.gpus_per_job
    directives = [f"--gres=gpu:{gpus}"] if gpus and settings.backend == "slurm" else []
    options: dict[str, Any] = {
        "cores": settings.cores_per_job,
        "memory": settings.memory_per_job,
        "processes": settings.processes_per_job,
        "walltime": settings.walltime,
        "account": settings.account,
        "queue": settings.queue,
        "interface": settings.interface,
        "job_name": "screening-worker",
        "job_extra_directives": directives + list(settings.job_extra_directives),
        "worker_extra_args": (["--resources", f"{GPU}=1"] if gpus else []) + ["--preload", PRELOAD],
        # A nanny keeps these when set (else it starts workers with MALLOC_TRIM_THRESHOLD_=65536).
        "job_script_prologue": [
            f"export {key.rsplit('.', 1)[1]}={value}" for key, value in MALLOC_ENVIRON.items()
        ],
    }
    if settings.backend == "pbs":
        options["resource_spec"] = _pbs_select(settings)
    return options


def _pbs_select(settings: ClusterSettings) -> str:
    from dask_jobqueue.pbs import pbs_format_bytes_ceil

    memory = pbs_format_bytes_ceil(parse_bytes(settings.memory_per_job))
    select = f"select=1:ncpus={settings.cores_per_job}:mem={memory}"
    return select + (f":ngpus={settings.gpus_per_job}" if settings.gpus_per_job else "")
