"""Dask worker preload (``dask worker --preload screening.gpu_worker``).

Pins a worker that holds the ``GPU`` resource to one GPU and sizes torch's thread pool,
before any task touches CUDA. A batch job with N GPUs runs ``dask worker --nworkers N
--name NAME``: every process inherits the job's allocated ``CUDA_VISIBLE_DEVICES`` list and
the process named ``NAME-i`` keeps its i-th entry. Imports neither Dask nor torch (a
worker that runs only cheap tasks never loads torch).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

log = logging.getLogger(__name__)

GPU = "GPU"  # the Dask resource a worker with a GPU advertises and an MLIP task requests

_PROCESS_INDEX = re.compile(r"-(\d+)$")


def dask_setup(worker: Any) -> None:
    """Pin this worker to its GPU (if it holds the ``GPU`` resource); torch threads = its
    Dask threads, so that threads x worker processes never exceed the job's cores.

    Runs before the worker registers. A worker that cannot tell which GPU is its own gives
    up the ``GPU`` resource and every GPU, and takes only tasks that need none (Dask logs a
    preload's exception and starts the worker anyway: it would crowd another's GPU)."""
    if worker.state.total_resources.get(GPU):
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is None:
            log.warning("worker %s: CUDA_VISIBLE_DEVICES is unset, all GPUs visible", worker.name)
        else:
            try:
                os.environ["CUDA_VISIBLE_DEVICES"] = gpu_of_process(str(worker.name), visible)
            except ValueError as err:
                log.error("%s; this worker runs without a GPU", err)
                os.environ["CUDA_VISIBLE_DEVICES"] = ""
                worker.state.total_resources.pop(GPU)
                worker.state.available_resources.pop(GPU)
    _set_torch_threads(max(1, worker.state.nthreads))


def gpu_of_process(worker_name: str, visible: str) -> str:
    """The GPU id of the worker process ``worker_name`` from a job's ``CUDA_VISIBLE_DEVICES``.

    One allocated id is the worker's, whatever its name; of several, the process named
    ``NAME-i`` (``dask worker --nworkers``) takes the i-th."""
    ids = visible_gpu_ids(visible)
    if len(ids) == 1:
        return ids[0]
    match = _PROCESS_INDEX.search(worker_name)
    if not ids or match is None or int(match[1]) >= len(ids):
        raise ValueError(
            f"worker {worker_name!r} cannot choose a GPU from CUDA_VISIBLE_DEVICES={visible!r}: "
            "run one worker process per allocated GPU, named NAME-0, NAME-1, ... "
            "(dask worker --nworkers N --name NAME)"
        )
    return ids[int(match[1])]


def _set_torch_threads(count: int) -> None:
    torch = sys.modules.get("torch")
    if torch is None:  # torch's OpenMP and MKL pools read these when torch loads
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(count)
    else:
        torch.set_num_threads(count)


def visible_gpu_ids(visible: str) -> list[str]:
    """The ids (indices or UUIDs) listed in a ``CUDA_VISIBLE_DEVICES`` value."""
    return [part.strip() for part in visible.split(",") if part.strip()]
