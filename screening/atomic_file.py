"""Files replaced atomically (checkpoints): written beside their path, fsynced, renamed over
it, so a process killed mid-write leaves the previous version intact."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


def replace_atomically(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` through ``write(handle)`` on a temporary file, then rename it over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with partial.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def remove_with_partials(path: Path) -> None:
    """``path``, and any partial write a kill left beside it."""
    path.unlink(missing_ok=True)
    for partial in path.parent.glob(f"{path.name}.*.tmp"):
        partial.unlink(missing_ok=True)


def checkpoint_path(payload: dict[str, Any], kind: str, suffix: str) -> Path | None:
    """Where the job of a farm payload keeps its ``kind`` checkpoint:
    ``<artifact root>/checkpoints/<kind>-job-<id><suffix>`` (None without a job id, or
    with checkpoints off: ``checkpoint_every`` 0)."""
    if "job_id" not in payload or not payload.get("checkpoint_every", 0):
        return None
    root = Path(payload["artifact_root"]) / "checkpoints"
    return root / f"{kind}-job-{payload['job_id']}{suffix}"
