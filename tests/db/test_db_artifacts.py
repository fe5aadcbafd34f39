"""The content-addressed artifact store: dedupe, verification on read, location."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.artifacts import ArtifactError, ArtifactStore, default_artifact_root


def test_put_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    first = store.put(b"trajectory bytes")
    assert store.put(b"trajectory bytes") == first
    assert store.get(first) == b"trajectory bytes"
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


def test_corruption_and_absence_are_detected(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    digest = store.put(b"msd curve")
    store.path(digest).write_bytes(b"msd curvE")
    with pytest.raises(ArtifactError, match="corrupted"):
        store.get(digest)
    with pytest.raises(ArtifactError, match="missing"):
        store.get("0" * 64)


def test_default_root_sits_beside_a_sqlite_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SCREENING_ARTIFACTS", raising=False)
    assert default_artifact_root(f"sqlite:///{tmp_path}/x.db") == tmp_path / "artifacts"
    monkeypatch.setenv("SCREENING_ARTIFACTS", str(tmp_path / "elsewhere"))
    assert default_artifact_root("postgresql+psycopg://h/db") == tmp_path / "elsewhere"
