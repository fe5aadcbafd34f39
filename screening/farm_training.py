"""Training on the farm: one Dask task per model, on a worker that may call a potential
(``GPU=1`` on a GPU farm), its progress relayed to the caller as Dask events. The caller
keeps everything else (evaluation, artifact store, the ``potential`` row). Workflows that
also map tasks (SIS's MD and labelling) get them on the same cluster (:func:`farm_work`)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ase import Atoms

from screening.errors import PotentialError
from screening.progress import Progress, SilentProgress

if TYPE_CHECKING:  # the trainers pull in torch and mace: imported when training
    from distributed import Client, Worker

    from screening.clusters import FarmInfo
    from screening.enumeration import TaskMap
    from screening.finetune import FineTuneResult, FineTuneSettings
    from screening.model_training import FarmOptions

log = logging.getLogger(__name__)
# How long the driver waits, after a farm training returned, for its last progress events.
EVENTS_GRACE_S = 10.0


class Trainer(Protocol):
    """Trains a model as :func:`screening.finetune.finetune` does, here or on the farm."""

    def __call__(
        self,
        base_spec: str,
        train: Sequence[Atoms],
        valid: Sequence[Atoms],
        settings: FineTuneSettings,
        workdir: Path,
        progress: Progress | None = None,
    ) -> FineTuneResult: ...


@dataclass(frozen=True)
class TaskMaps:
    """Where tasks run, each a ``map(function, payloads)`` with the results in order: ``mlip``
    for tasks that call a potential (on a GPU worker of a GPU farm), ``other`` for the rest;
    ``torch_threads`` is what a task's payload gives it. Builtin ``map``: in this process."""

    mlip: TaskMap = map
    other: TaskMap = map
    torch_threads: int | None = None


@contextmanager
def farm_work(farm: FarmOptions | None) -> Iterator[tuple[Trainer, TaskMaps]]:
    """Where training and tasks run: in this process without farm options, else on one
    cluster that stays open while the context lasts (one farm task per model and per task)."""
    if farm is None:
        from screening.finetune import finetune

        yield finetune, TaskMaps()
        return
    from screening.clusters import ClusterSettings, make_cluster
    from screening.farm import map_ordered

    with make_cluster(ClusterSettings().overridden(farm.scheduler, farm.workers)) as farmed:
        client, info = farmed
        window = max(8, 4 * info.workers)
        maps = TaskMaps(
            functools.partial(map_ordered, client, window=window, resources=info.mlip_resources),
            functools.partial(map_ordered, client, window=window),
            info.torch_threads,
        )
        yield FarmTrainer(client, info), maps


@contextmanager
def trainer(farm: FarmOptions | None) -> Iterator[Trainer]:
    """Where training runs: the trainer of :func:`farm_work`."""
    with farm_work(farm) as (train, _):
        yield train


class FarmTrainer:
    """Trains as one task on a worker that may call a potential (``GPU=1`` on a GPU farm),
    on the worker's device, and relays its progress here. The worker writes into
    ``workdir``, which this process must read too: on a cluster, a shared filesystem."""

    def __init__(self, client: Client, info: FarmInfo) -> None:
        self.client = client
        self.info = info

    def __call__(
        self,
        base_spec: str,
        train: Sequence[Atoms],
        valid: Sequence[Atoms],
        settings: FineTuneSettings,
        workdir: Path,
        progress: Progress | None = None,
    ) -> FineTuneResult:
        key = f"finetune-{uuid.uuid4().hex[:12]}"  # the task's key and its events' topic
        relay = _ProgressRelay(progress or SilentProgress())
        replay = settings.replay_frames
        payload = {
            "topic": key,
            "base_spec": base_spec,
            "train": list(train),
            "valid": list(valid),
            "settings": dataclasses.replace(
                settings, replay_frames=None if replay is None else replay.resolve()
            ),
            "workdir": str(workdir.resolve()),
            "torch_threads": self.info.torch_threads,
        }
        self.client.subscribe_topic(key, relay)
        future = self.client.submit(
            train_task, payload, key=key, pure=False, resources=self.info.mlip_resources
        )
        try:
            result: FineTuneResult = future.result()
            if not relay.finished.wait(EVENTS_GRACE_S):
                log.warning("%s: the last progress events did not arrive", key)
        finally:
            self.client.unsubscribe_topic(key)
            future.cancel()  # the scheduler forgets it; an interrupted run is dropped
        if not result.model_path.is_file():
            raise PotentialError(
                f"worker {result.hyperparameters['trained_on']} wrote {result.model_path}, which "
                "this machine cannot read: give --workdir on a filesystem the workers share"
            )
        return result


def train_task(payload: dict[str, Any]) -> FineTuneResult:
    """The farm task of :class:`FarmTrainer`: :func:`screening.finetune.finetune` on this
    worker's device, its progress sent as events on ``payload["topic"]``; the hyperparameters
    record the worker (``trained_on``)."""
    import torch
    from distributed import get_worker

    from screening.finetune import finetune

    worker = get_worker()
    if payload["torch_threads"]:
        torch.set_num_threads(payload["torch_threads"])
    progress = _EventProgress(worker, payload["topic"])
    result = finetune(
        payload["base_spec"],
        payload["train"],
        payload["valid"],
        payload["settings"],
        Path(payload["workdir"]),
        progress,
    )
    progress.send("finished")
    hyperparameters = {**result.hyperparameters, "trained_on": worker.address}
    return dataclasses.replace(result, hyperparameters=hyperparameters)


_PROGRESS_CALLS = ("start", "advance", "add", "note")


class _EventProgress:
    """A :class:`Progress` on a worker that sends each call to the driver as a Dask event."""

    def __init__(self, worker: Worker, topic: str) -> None:
        self.worker = worker
        self.topic = topic

    def send(self, call: str, *args: Any) -> None:
        self.worker.log_event(self.topic, {"call": call, "args": list(args)})

    def start(self, stage: str, total: int) -> None:
        self.send("start", stage, total)

    def advance(self, stage: str, ok: bool = True) -> None:
        self.send("advance", stage, ok)

    def add(self, stage: str, count: int = 1) -> None:
        self.send("add", stage, count)

    def note(self, text: str) -> None:
        self.send("note", text)


class _ProgressRelay:
    """The driver's handler of a farm task's events: replays its progress calls, and sets
    ``finished`` at its last event (events arrive in the order the worker sent them)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.finished = threading.Event()

    def __call__(self, event: tuple[float, dict[str, Any]]) -> None:
        _, message = event
        if message["call"] == "finished":
            self.finished.set()
        elif message["call"] in _PROGRESS_CALLS:
            getattr(self.progress, message["call"])(*message["args"])
