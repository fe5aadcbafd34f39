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

# Dask keeps its last 1,000 messages per connection (and transitions, events) for debugging;
# a message carrying 64 jobs' structures is ~100 kB, so the driver's memory grew with the jobs
# done until those logs filled (benchmarks/README.md). Keep a short tail instead.
DEBUG_LOG_CONFIG = {"distributed.admin.low-level-log-length": 50}


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
    """Submit tasks keeping at most ``window`` futures in flight; yield the outcomes of the
    tasks finished since the last batch, as soon as any is (results are fetched in the
    background as tasks finish, while the driver stores the previous batch).

    Futures are refilled from ``source`` after each batch, so work queued while the batch
    was handled runs too. Jobs that take milliseconds travel several to a future
    (:class:`_Pace`), since a Dask task itself costs about a millisecond. Tasks that call a
    potential ask for ``mlip_resources`` (``{"GPU": 1}`` on a farm with GPU workers), so
    cheap tasks never queue behind them. The worker of a task that hung is restarted (its
    nanny starts a fresh process) first.
    """
    address = client.scheduler.address
    in_flight: dict[str, list[int]] = {}
    completed = as_completed(with_results=True, raise_errors=False)  # fetched meanwhile
    chunks = _Chunks(source, _Pace())

    def submit(count: int) -> None:
        if count:
            _await_scheduler(client, address)
        for _ in range(count):
            chunk = chunks.next()
            if not chunk:
                return
            first = chunk[0]
            timeouts = [task.timeout_s for task in chunk]
            future = client.submit(
                execute_chunk,
                first.function,
                [task.payload for task in chunk],
                None if None in timeouts else max(timeouts),
                key=f"job-{first.job_id}-{len(chunk)}-{os.urandom(4).hex()}",
                pure=False,
                priority=max(task.priority for task in chunk),
                resources=mlip_resources if first.mlip else None,
            )
            in_flight[future.key] = [task.job_id for task in chunk]
            completed.add(future)

    submit(window)
    for batch in completed.batches():
        if any(isinstance(records, CANCELLED) for _, records in batch):
            _await_scheduler(client, address)  # cancelled by a lost scheduler connection
        outcomes = []
        for future, records in batch:
            job_ids = in_flight.pop(future.key)
            outcomes += _outcomes(job_ids, records)
            chunks.pace.observe(records)
            future.release()
        hung = [outcome.worker for outcome in outcomes if outcome.hung]
        if hung:
            client.restart_workers(hung, raise_for_error=False)
        yield outcomes
        submit(len(batch))


TASK_TARGET_S = 0.5  # worker time one future should carry: Dask's own cost is ~1 ms a task
MAX_JOBS_PER_FUTURE = 64


class _Pace:
    """How many jobs of a function go in one future: one until a job of it has been timed,
    then enough for about :data:`TASK_TARGET_S` of work (at most
    :data:`MAX_JOBS_PER_FUTURE`), from the mean time of its recent jobs."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    def jobs_per_future(self, function: TaskFunction | None) -> int:
        seconds = self._seconds.get(_name(function))
        if seconds is None:
            return 1
        return max(1, min(MAX_JOBS_PER_FUTURE, int(TASK_TARGET_S / max(seconds, 1e-6))))

    def observe(self, records: Any) -> None:
        """Learn from the records of a finished future (anything else teaches nothing)."""
        if not isinstance(records, list):
            return
        for record in records:
            if "seconds" in record:
                name, seconds = record["function"], record["seconds"]
                previous = self._seconds.get(name, seconds)
                self._seconds[name] = 0.8 * previous + 0.2 * seconds


class _Chunks:
    """Consecutive tasks of one function drawn from a source, as many as the pace says.
    A chunk is claimed when it is formed; tasks drawn past a change of function wait here
    for the next chunk."""

    def __init__(self, source: TaskSource, pace: _Pace) -> None:
        self.source, self.pace = source, pace
        self._ready: deque[Task] = deque()
        self._last: TaskFunction | None = None

    def next(self) -> list[Task]:
        if not self._ready:
            self._ready.extend(self.source(self.pace.jobs_per_future(self._last)))
        if not self._ready:
            return []
        function = self._ready[0].function
        size = self.pace.jobs_per_future(function)
        if len(self._ready) < size:
            self._ready.extend(self.source(size - len(self._ready)))
        chunk: list[Task] = []
        while self._ready and len(chunk) < size and self._ready[0].function is function:
            chunk.append(self._ready.popleft())
        self._last = function
        return chunk


def _name(function: TaskFunction | None) -> str:
    return "" if function is None else f"{function.__module__}.{function.__qualname__}"


def map_ordered(
    client: Client,
    function: TaskFunction,
    payloads: Iterable[dict[str, Any]],
    window: int,
    resources: dict[str, float] | None = None,
) -> Iterator[dict[str, Any]]:
    """``map(function, payloads)`` on the workers: results in the order of the payloads,
    at most ``window`` futures in flight, each task asking for ``resources``. A task's
    exception is raised here, and the tasks still in flight are cancelled."""
    pending = iter(payloads)
    in_flight: deque[Any] = deque()

    def submit_next() -> None:
        for payload in itertools.islice(pending, 1):
            in_flight.append(client.submit(function, payload, pure=False, resources=resources))

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
    """Run one task on a worker: :func:`execute_chunk` of one payload."""
    return execute_chunk(function, [payload], timeout_s)[0]


def execute_chunk(
    function: TaskFunction, payloads: list[dict[str, Any]], timeout_s: float | None = None
) -> list[dict[str, Any]]:
    """Run tasks on a worker, one after the other; the farm boundary where any exception
    becomes a record (with the task's worker time, ``seconds``).

    With ``timeout_s`` the tasks run in a thread of their own, and a task still running
    ``timeout_s`` after the previous one finished comes back as a non-retryable "timed out"
    failure marked ``hung``; the tasks after it come back unstarted and retryable.
    """
    worker = _worker_name()
    if timeout_s is None:
        return [_record(function, payload, worker) for payload in payloads]
    box: list[dict[str, Any]] = []

    def run() -> None:
        for payload in payloads:
            box.append(_record(function, payload, worker))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while thread.is_alive():
        finished = len(box)
        thread.join(timeout_s)
        if thread.is_alive() and len(box) == finished:
            break
    if len(box) == len(payloads):
        return box
    error = f"timed out after {timeout_s:g} s (the stage's timeout_s); its worker was restarted"
    unstarted = "not started: an earlier task of its batch hung"
    return [
        *box,
        {"error": error, "retryable": False, "worker": worker, "hung": True},
        *(
            {"error": unstarted, "retryable": True, "worker": worker}
            for _ in payloads[len(box) + 1 :]
        ),
    ]


def _record(function: TaskFunction, payload: dict[str, Any], worker: str) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        record = {"result": function(payload), "worker": worker}
    except CalculationFailed as err:
        record = {"error": str(err), "retryable": False, "worker": worker}
    except Exception as err:
        log.exception("task failed")
        text = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=8)}"
        record = {"error": text, "retryable": True, "worker": worker}
    return record | {"seconds": time.perf_counter() - started, "function": _name(function)}


def _outcomes(job_ids: list[int], records: Any) -> list[TaskOutcome]:
    """The outcomes of a finished future's jobs: one record each, or one failure of the
    future for all of them."""
    if isinstance(records, list):
        return [_outcome(job_id, record) for job_id, record in zip(job_ids, records, strict=True)]
    return [_outcome(job_id, records) for job_id in job_ids]


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
