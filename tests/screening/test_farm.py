"""The farm on a real LocalCluster: bounded window, task errors, and a worker that dies."""

from __future__ import annotations

import os
import time
from typing import Any

from distributed import Client

from screening.clusters import ClusterSettings, make_cluster
from screening.errors import CalculationFailed
from screening.farm import Task, TaskOutcome, run_tasks, task_source


def square(payload: dict[str, Any]) -> dict[str, Any]:
    return {"square": payload["x"] ** 2}


def explode(payload: dict[str, Any]) -> dict[str, Any]:
    raise CalculationFailed("energy became nan at relaxation step 3")


def crash(payload: dict[str, Any]) -> dict[str, Any]:
    raise KeyError("a bug in a stage")


def die(payload: dict[str, Any]) -> dict[str, Any]:
    os._exit(1)  # the worker process dies mid-task, as when the OOM killer strikes


def outcomes_of(client: Client, tasks: list[Task], window: int) -> dict[int, TaskOutcome]:
    batches = run_tasks(client, task_source(tasks), window)
    return {outcome.job_id: outcome for batch in batches for outcome in batch}


def test_window_bounds_futures_and_every_task_comes_back() -> None:
    with make_cluster(ClusterSettings(workers=2)) as (client, _):
        seen = []
        tasks = (Task(i, square, {"x": i}) for i in range(30))
        for batch in run_tasks(client, task_source(tasks), 4):
            assert len(client.futures) <= 4
            seen.extend((outcome.job_id, outcome.result["square"]) for outcome in batch)
    assert sorted(seen) == [(i, i * i) for i in range(30)]


def test_millisecond_tasks_travel_several_to_a_future() -> None:
    tasks = [Task(i, square, {"x": i}) for i in range(300)]
    with make_cluster(ClusterSettings(workers=1)) as (client, _):
        sizes, seen = [], {}
        for batch in run_tasks(client, task_source(tasks), 2):
            assert len(client.futures) <= 2
            sizes.append(len(batch))
            seen |= {outcome.job_id: outcome.result["square"] for outcome in batch}
    assert seen == {i: i * i for i in range(300)}
    assert sizes[0] <= 2  # untimed: one job in each of the two futures at first
    assert max(sizes) > 2  # then many jobs in each of the two futures


def test_failures_are_records_with_a_retry_verdict() -> None:
    tasks = [Task(1, explode, {}), Task(2, crash, {})]
    with make_cluster(ClusterSettings(workers=1), max_attempts=2) as (client, _):
        outcomes = outcomes_of(client, tasks, 2)
    assert outcomes[1].error == "energy became nan at relaxation step 3"
    assert not outcomes[1].retryable  # unphysical numbers are not worth retrying
    assert outcomes[2].error.startswith("KeyError: 'a bug in a stage'")
    assert "Traceback" in outcomes[2].error and outcomes[2].retryable


def test_a_worker_that_dies_is_a_retryable_outcome() -> None:
    # On its own cluster: a worker killed right after finishing another task can take that
    # task's not-yet-reported result with it, which Dask then also counts as a death.
    with make_cluster(ClusterSettings(workers=1), max_attempts=2) as (client, _):
        (outcome,) = outcomes_of(client, [Task(3, die, {})], 1).values()
    assert "worker died" in outcome.error and outcome.retryable


def hang(payload: dict[str, Any]) -> dict[str, Any]:
    time.sleep(300)  # a deadlocked potential call, a stalled filesystem
    return {}


def test_a_hung_task_times_out_and_its_worker_is_freed() -> None:
    started = time.monotonic()
    tasks = [Task(1, hang, {}, timeout_s=2.0), Task(2, square, {"x": 3}, timeout_s=30.0)]
    with make_cluster(ClusterSettings(workers=1), max_attempts=2) as (client, _):
        (pid_before,) = client.run(os.getpid).values()
        outcomes = outcomes_of(client, tasks, 1)
        (pid_after,) = client.run(os.getpid).values()
    assert outcomes[1].error.startswith("timed out after 2 s")
    assert outcomes[1].hung and not outcomes[1].retryable
    assert outcomes[2].result == {"square": 9}
    assert pid_after != pid_before  # the process stuck in the sleep was replaced
    assert time.monotonic() - started < 60  # nobody waited for the 300 s sleep
