"""Alembic migrations on SQLite and PostgreSQL: upgrade, drift check, downgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from db.engine import make_engine
from db.errors import DatabaseError, SchemaDriftError
from db.migrate import (
    alembic_config,
    check,
    current_revision,
    downgrade,
    head_revision,
    is_empty,
    upgrade,
)
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
    assert current_revision(migrated_url) == head_revision()
    check(migrated_url)


def test_step_down_to_0003_drops_the_cluster_expansion_tables(migrated_url: str) -> None:
    downgrade(migrated_url, "0003")
    tables, views = _tables_and_views(migrated_url)
    assert "cluster_expansion" not in tables and "ce_training" not in tables
    assert "neb_run" in tables and views == set(VIEW_NAMES)
    upgrade(migrated_url)
    assert {"cluster_expansion", "ce_training"} <= _tables_and_views(migrated_url)[0]
    check(migrated_url)


def test_0006_keeps_potentials_and_the_view_across_its_rebuild(database_url: str) -> None:
    """0006 adds provenance columns to ``potential`` (a table rebuild on SQLite, under the
    composition_summary view); rows and the view survive it both ways."""
    before = ScriptDirectory.from_config(alembic_config(database_url)).get_revision("0006")
    upgrade(database_url, str(before.down_revision))
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO potential (id, name, spec, weights_sha256, created_at) "
                "VALUES (1, 'chgnet', 'chgnet', :sha, CURRENT_TIMESTAMP)"
            ),
            {"sha": "a" * 64},
        )
        connection.execute(
            text(
                "INSERT INTO campaign (id, name, spec_json, potential_id, created_at) "
                "VALUES (1, 'c', '{}', 1, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(text("INSERT INTO composition VALUES (1, 1, 'Cu', '{}')"))

    def summary() -> list[tuple]:
        with engine.connect() as connection:
            query = "SELECT composition_id, potential FROM composition_summary"
            return [tuple(row) for row in connection.execute(text(query))]

    upgrade(database_url, "0006")
    tables, views = _tables_and_views(database_url)
    assert {"dataset", "frame", "sis_generation"} <= tables and views == set(VIEW_NAMES)
    assert summary() == [(1, "chgnet")]
    with engine.connect() as connection:
        row = connection.execute(text("SELECT name, dataset_id, model_sha256 FROM potential"))
        assert [tuple(r) for r in row] == [("chgnet", None, None)]

    downgrade(database_url, str(before.down_revision))
    assert "frame" not in _tables_and_views(database_url)[0]
    assert summary() == [(1, "chgnet")]
    engine.dispose()
    upgrade(database_url)
    check(database_url)


def test_0005_adds_and_drops_the_summary_cache(migrated_url: str) -> None:
    before = ScriptDirectory.from_config(alembic_config(migrated_url)).get_revision("0005")
    downgrade(migrated_url, str(before.down_revision))
    tables, views = _tables_and_views(migrated_url)
    assert "composition_summary_cache" not in tables and views == set(VIEW_NAMES)
    upgrade(migrated_url)
    assert "composition_summary_cache" in _tables_and_views(migrated_url)[0]
