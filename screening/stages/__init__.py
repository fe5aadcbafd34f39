"""The stage registry: each stage is a pure worker function plus a driver-side persister.

A stage's worker function takes a plain-data payload (``params`` of the job, the
structure as JSON, the potential spec, torch threads) and returns plain data; its
persister writes that result into the database in the same transaction that marks the
job done. New stages (md, neb, ...) register here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from db.models import Job
from screening.stages import relax

Persister = Callable[[Session, Job, dict[str, Any]], None]
WorkerFunction = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Stage:
    name: str
    run: WorkerFunction
    persist: Persister


STAGES: dict[str, Stage] = {
    "relax": Stage("relax", relax.run_relax, relax.persist_relax),
}
