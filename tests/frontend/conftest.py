"""Fixtures of the explorer tests: the seeded database of ``explorer_fixtures``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from explorer_fixtures import Seeded, seed


@pytest.fixture
def seeded(migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Seeded]:
    """The seeded database, with the explorer's environment pointing at it."""
    data = seed(migrated_url, tmp_path / "artifacts")
    monkeypatch.setenv("SCREENING_DATABASE_URL", migrated_url)
    monkeypatch.setenv("SCREENING_ARTIFACTS", str(data.artifact_root))
    yield data
