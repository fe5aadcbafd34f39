"""Alembic migrations on SQLite and PostgreSQL: upgrade, drift check, downgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from db.engine import make_engine
from db.errors import DatabaseError, SchemaDriftError
from db.migrate import check, current_revision, downgrade, head_revision, is_empty, upgrade
from db.models import Base
from db.views import VIEW_NAMES


def _tables_and_views(url: str) -> tuple[set[str], set[str]]:
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        return set(inspector.get_table_names()), set(inspector.get_view_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_and_view(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the Alembic setup is found from any working directory
    assert is_empty(database_url)
    assert current_revision(database_url) is None

    upgrade(database_url)

    tables, views = _tables_and_views(database_url)
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert views == set(VIEW_NAMES)
    assert current_revision(database_url) == head_revision()
    assert not is_empty(database_url)


def test_models_match_migrations(migrated_url: str) -> None:
    check(migrated_url)


def test_check_reports_drift(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_job_status_kind"))
    engine.dispose()
    with pytest.raises(SchemaDriftError, match="ix_job_status_kind"):
        check(migrated_url)


def test_check_requires_head(database_url: str) -> None:
    with pytest.raises(DatabaseError, match="not up to date"):
        check(database_url)


def test_downgrade_to_base_then_upgrade_again(migrated_url: str) -> None:
    downgrade(migrated_url, "base")

    assert _tables_and_views(migrated_url) == ({"alembic_version"}, set())
    assert current_revision(migrated_url) is None

    upgrade(migrated_url)
    assert current_revision(migrated_url) == head_revision()
    check(migrated_url)


def test_step_down_to_0001_restores_the_v1_view(migrated_url: str) -> None:
    downgrade(migrated_url, "0001")
    tables, views = _tables_and_views(migrated_url)
    assert "md_run" not in tables and "arrhenius" not in tables
    assert views == set(VIEW_NAMES)
    upgrade(migrated_url)
    assert current_revision(migrated_url) == head_revision()
    check(migrated_url)


def test_step_down_to_0002_drops_the_neb_tables_and_keeps_transport(migrated_url: str) -> None:
    downgrade(migrated_url, "0002")
    tables, views = _tables_and_views(migrated_url)
    assert "neb_run" not in tables and "neb_hop" not in tables
    assert "md_run" in tables and views == set(VIEW_NAMES)
    upgrade(migrated_url)
    assert current_revision(migrated_url) == head_revision() == "0003"
    check(migrated_url)
