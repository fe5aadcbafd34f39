"""Running tasks on the farm: a bounded window of futures, and the task boundary.

Workers run pure functions on plain data (:func:`execute` is the farm boundary where a
task's exception becomes a recorded failure); the driver receives :class:`TaskOutcome`
objects in batches, all those finished since the last, and persists each batch at once.
At most ``window`` futures exist at once, so a campaign of 100,000 pending jobs never
holds 100,000 futures. :func:`map_ordered`
is the same window for a plain map whose results are wanted in order (the SQS runs).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import os
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from distributed import Client, KilledWorker, as_completed, get_worker

from screening.errors import CalculationFailed, FarmLost

log = logging.getLogger(__name__)

# What a future cancelled with a lost scheduler connection holds (asyncio's is apart).
CANCELLED = (asyncio.CancelledError, concurrent.futures.CancelledError)

TaskFunction = Callable[[dict[str, Any]], dict[str, Any]]

# Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which also switches off
# glibc's adaptive mmap threshold: every large tensor is then mmap'd and unmapped, and a
# CHGNet relaxation of 80 atoms ran 2.7x slower (benchmarks/README.md). Keep freed memory
# in the heap instead.
MALLOC_ENVIRON = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": str(256 << 20),
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": str(256 << 20),
}


@dataclass(frozen=True)
class Task:
    """One job to run: the job's id, a pure function and its plain-data payload.

    ``priority``: higher runs first among submitted tasks. ``timeout_s``: the task is
    failed as hung after this long. ``mlip``: it calls a potential, so it needs a ``GPU``
    resource where the farm has GPU workers.
    """

    job_id: int
    function: TaskFunction
    payload: dict[str, Any]
    priority: int = 0
    timeout_s: float | None = None
    mlip: bool = True


@dataclass(frozen=True)
class TaskOutcome:
    """What came back for a job: a result, or an error and whether retrying may help."""

    job_id: int
    result: dict[str, Any] | None
    error: str | None
    retryable: bool
    worker: str
    hung: bool = False  # timed out: its worker still runs it and must be restarted

    @property
    def ok(self) -> bool:
        return self.error is None


def default_worker_count() -> int:
    return max(1, os.cpu_count() or 1)


def local_torch_threads(workers: int) -> int:
    """Torch threads per local worker so that threads x workers never exceed the cores."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def dashboard_note(client: Client) -> str:
    """``, dashboard URL`` when the scheduler serves its dashboard, else nothing."""
    services = client.scheduler_info(n_workers=0).get("services", {})
    return f", dashboard {client.dashboard_link}" if "dashboard" in services else ""


TaskSource = Callable[[int], list[Task]]
"""Up to ``n`` tasks to submit now (fewer, or none, when that is all there is yet)."""


def task_source(tasks: Iterable[Task]) -> TaskSource:
    """A :data:`TaskSource` drawing from a plain iterable of tasks."""
    remaining = iter(tasks)
    return lambda n: list(itertools.islice(remaining, n))


def run_tasks(
    client: Client,
    source: TaskSource,
    window: int,
    mlip_resources: dict[str, float] | None = None,
) -> Iterator[list[TaskOutcome]]:
    """Submit tasks keeping at most ``window`` in flight; yield the outcomes of the tasks
    finished since the last batch, as soon as any is (results are fetched in the background
    as tasks finish, while the driver stores the previous batch).

    After each batch, as many tasks as finished are drawn from ``source``, in one call
    (the driver claims them in one transaction), so work queued while the batch was
    handled runs too. Tasks that call a potential ask for ``mlip_resources`` (``{"GPU":
    1}`` on a farm with GPU workers), so cheap tasks never queue behind them. The worker
    of a task that hung is restarted (its nanny starts a fresh process) first.
    """
    address = client.scheduler.address
    in_flight: dict[str, int] = {}
    completed = as_completed(with_results=True, raise_errors=False)  # fetched meanwhile

    def submit(count: int) -> None:
        if count:
            _await_scheduler(client, address)
        for task in source(count):
            future = client.submit(
                execute,
                task.function,
                task.payload,
                task.timeout_s,
                key=f"job-{task.job_id}-{os.urandom(4).hex()}",
                pure=False,
                priority=task.priority,
                resources=mlip_resources if task.mlip else None,
            )
            in_flight[future.key] = task.job_id
            completed.add(future)

    submit(window)
    for batch in completed.batches():
        if any(isinstance(record, CANCELLED) for _, record in batch):
            _await_scheduler(client, address)  # cancelled by a lost scheduler connection
        outcomes = [_outcome(in_flight.pop(future.key), record) for future, record in batch]
        for future, _ in batch:
            future.release()
        hung = [outcome.worker for outcome in outcomes if outcome.hung]
        if hung:
            client.restart_workers(hung, raise_for_error=False)
        yield outcomes
        submit(len(batch))


def map_ordered(
    client: Client, function: TaskFunction, payloads: Iterable[dict[str, Any]], window: int
) -> Iterator[dict[str, Any]]:
    """``map(function, payloads)`` on the workers: results in the order of the payloads,
    at most ``window`` futures in flight. A task's exception is raised here, and the
    tasks still in flight are cancelled."""
    pending = iter(payloads)
    in_flight: deque[Any] = deque()

    def submit_next() -> None:
        for payload in itertools.islice(pending, 1):
            in_flight.append(client.submit(function, payload, pure=False))

    try:
        for _ in range(window):
            submit_next()
        while in_flight:
            result = in_flight[0].result()
            in_flight.popleft().release()
            submit_next()
            yield result
    finally:
        if in_flight:
            client.cancel(list(in_flight))


def execute(
    function: TaskFunction, payload: dict[str, Any], timeout_s: float | None = None
) -> dict[str, Any]:
    """Run a task on a worker; the farm boundary where any exception becomes a record.

    With ``timeout_s`` the function runs in a thread of its own, and a task still running
    after that long comes back as a non-retryable "timed out" failure marked ``hung``.
    """
    worker = _worker_name()
    if timeout_s is None:
        return _record(function, payload, worker)
    box: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: box.append(_record(function, payload, worker)))
    thread.daemon = True
    thread.start()
    thread.join(timeout_s)
    if box:
        return box[0]
    error = f"timed out after {timeout_s:g} s (the stage's timeout_s); its worker was restarted"
    return {"error": error, "retryable": False, "worker": worker, "hung": True}


def _record(function: TaskFunction, payload: dict[str, Any], worker: str) -> dict[str, Any]:
    try:
        return {"result": function(payload), "worker": worker}
    except CalculationFailed as err:
        return {"error": str(err), "retryable": False, "worker": worker}
    except Exception as err:
        log.exception("task failed")
        text = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=8)}"
        return {"error": text, "retryable": True, "worker": worker}


def _outcome(job_id: int, record: dict[str, Any] | tuple | BaseException) -> TaskOutcome:
    """The outcome of a finished task from what its future holds: the task's record, the
    ``(type, exception, traceback)`` of a failure of the farm, or a cancellation."""
    if isinstance(record, tuple):
        record = record[1]
    if isinstance(record, CANCELLED):
        return TaskOutcome(job_id, None, "lost with the Dask scheduler, which came back", True, "")
    if isinstance(record, KilledWorker):
        return TaskOutcome(job_id, None, f"worker died while running the task ({record})", True, "")
    if isinstance(record, BaseException):  # a failure of the farm itself, not of the task
        return TaskOutcome(job_id, None, f"{type(record).__name__}: {record}", True, "")
    if "error" in record:
        return TaskOutcome(
            job_id,
            None,
            record["error"],
            record["retryable"],
            record["worker"],
            hung=record.get("hung", False),
        )
    return TaskOutcome(job_id, record["result"], None, False, record["worker"])


def _await_scheduler(client: Client, address: str) -> None:
    """Return once the client is connected; wait while it reconnects to a scheduler that
    went away (the client closes after its timeout), and raise :class:`FarmLost` if it did
    not come back. Jobs claimed but unfinished stay ``running``: the next run resumes them."""
    while client.status == "connecting":
        time.sleep(0.2)
    if client.status != "running":
        raise FarmLost(
            f"lost the Dask scheduler {address} and it did not come back "
            f"(status {client.status}); the results stored so far are kept, and rerunning "
            "the campaign resumes the rest"
        )


def _worker_name() -> str:
    try:
        return str(get_worker().address)
    except ValueError:
        return socket.gethostname()


def mlip_resources(client: Client) -> dict[str, float] | None:
    """What a potential call asks of a worker: ``{"GPU": 1}`` when some worker of the
    scheduler advertises a GPU resource, else nothing (on a CPU farm, any worker will do;
    asking for a resource no worker has would wait forever)."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    return {"GPU": 1} if any("GPU" in w.get("resources", {}) for w in workers) else None
