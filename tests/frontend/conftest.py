"""Fixtures of the explorer tests: the seeded database of ``explorer_fixtures``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from explorer_fixtures import Seeded, seed


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """AppTest runs the app as ``__main__`` in this process and leaves it there; a Dask
    LocalCluster started by a later test would then spawn workers that re-run the app."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def seeded(migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Seeded]:
    """The seeded database, with the explorer's environment pointing at it."""
    data = seed(migrated_url, tmp_path / "artifacts")
    monkeypatch.setenv("SCREENING_DATABASE_URL", migrated_url)
    monkeypatch.setenv("SCREENING_ARTIFACTS", str(data.artifact_root))
    yield data
