"""The farm on a real LocalCluster: bounded window, task errors, and a worker that dies."""

from __future__ import annotations

import os
from typing import Any

from screening.errors import CalculationFailed
from screening.farm import Task, open_client, run_tasks


def square(payload: dict[str, Any]) -> dict[str, Any]:
    return {"square": payload["x"] ** 2}


def explode(payload: dict[str, Any]) -> dict[str, Any]:
    raise CalculationFailed("energy became nan at relaxation step 3")


def crash(payload: dict[str, Any]) -> dict[str, Any]:
    raise KeyError("a bug in a stage")


def die(payload: dict[str, Any]) -> dict[str, Any]:
    os._exit(1)  # the worker process dies mid-task, as when the OOM killer strikes


def test_window_bounds_futures_and_every_task_comes_back() -> None:
    with open_client(workers=2) as client:
        seen = []
        for outcome in run_tasks(client, (Task(i, square, {"x": i}) for i in range(30)), 4):
            assert len(client.futures) <= 4
            seen.append((outcome.job_id, outcome.result["square"]))
    assert sorted(seen) == [(i, i * i) for i in range(30)]


def test_failures_are_records_with_a_retry_verdict() -> None:
    tasks = [Task(1, explode, {}), Task(2, crash, {})]
    with open_client(workers=1, max_attempts=2) as client:
        outcomes = {o.job_id: o for o in run_tasks(client, tasks, 2)}
    assert outcomes[1].error == "energy became nan at relaxation step 3"
    assert not outcomes[1].retryable  # unphysical numbers are not worth retrying
    assert outcomes[2].error.startswith("KeyError: 'a bug in a stage'")
    assert "Traceback" in outcomes[2].error and outcomes[2].retryable


def test_a_worker_that_dies_is_a_retryable_outcome() -> None:
    # On its own cluster: a worker killed right after finishing another task can take that
    # task's not-yet-reported result with it, which Dask then also counts as a death.
    with open_client(workers=1, max_attempts=2) as client:
        (outcome,) = run_tasks(client, [Task(3, die, {})], 1)
    assert "worker died" in outcome.error and outcome.retryable
