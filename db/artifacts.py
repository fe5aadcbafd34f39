"""The artifact store: content-addressed files for bulky arrays (trajectories, MSD curves).

A blob is stored once under ``root/ab/cdef...`` where ``abcdef...`` is its SHA-256, and
verified on every read, so the database (which holds only the hash) and the files cannot
drift apart silently. Writes go to a temporary file first and are renamed into place,
so a killed writer never leaves a truncated blob behind. Workers may write (the root must
then be on a shared filesystem); the database rows that reference blobs are written by
the driver.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

ARTIFACTS_ENV = "SCREENING_ARTIFACTS"


class ArtifactError(RuntimeError):
    """A blob is missing or its content no longer matches its hash."""


class ArtifactStore:
    """Content-addressed blobs under one root directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        """Store ``data`` (once) and return its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        """The blob's bytes; ArtifactError if it is missing or corrupted."""
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError as err:
            raise ArtifactError(f"artifact {sha256} is missing under {self.root}") from err
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactError(f"artifact {sha256} under {self.root} is corrupted")
        return data


def default_artifact_root(database_url: str) -> Path:
    """$SCREENING_ARTIFACTS, else ``artifacts/`` beside a SQLite file, else ./artifacts."""
    if os.environ.get(ARTIFACTS_ENV):
        return Path(os.environ[ARTIFACTS_ENV])
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and database_url != prefix:
        return Path(database_url[len(prefix) :]).resolve().parent / "artifacts"
    return Path("artifacts").resolve()
