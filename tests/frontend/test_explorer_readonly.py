"""The explorer never writes: a SELECT-only PostgreSQL role suffices, a SQLite file is unchanged,
and its engine refuses writes even where the login could write."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from explorer_fixtures import Seeded, open_page
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db.engine import make_engine, normalize_url
from db.explorer_queries import make_readonly_engine

PAGES = ("campaigns", "composition_map", "composition", "table", "sql", "potentials")


def _render_every_page() -> None:
    for page in PAGES:
        app = open_page(page)
        assert not app.error, [e.value for e in app.error]
    sql = open_page("sql")
    sql.button[0].click().run()
    assert len(sql.dataframe[0].value) == 4


@pytest.fixture
def select_only_url(seeded: Seeded) -> Iterator[str]:
    """A login role with CONNECT, USAGE and SELECT only, on the seeded PostgreSQL database."""
    role = f"explorer_ro_{secrets.token_hex(4)}"
    admin = make_engine(seeded.url)
    database = normalize_url(seeded.url).database
    with admin.begin() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        connection.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"'))
        connection.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        connection.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
    try:
        yield normalize_url(seeded.url).set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'REVOKE CONNECT ON DATABASE "{database}" FROM "{role}"'))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
                {"r": role},
            )
            connection.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_select_only_role_can_use_every_page(
    select_only_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCREENING_DATABASE_URL", select_only_url)
    _render_every_page()
    writer = make_engine(select_only_url)  # a normal engine: the role itself cannot write
    with writer.connect() as connection, pytest.raises(DBAPIError, match="permission denied"):
        connection.execute(text("UPDATE job SET status = 'done'"))
    writer.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_engine_is_read_only_even_for_a_superuser(seeded: Seeded) -> None:
    engine = make_readonly_engine(seeded.url)
    with engine.connect() as connection, pytest.raises(DBAPIError, match="read-only transaction"):
        connection.execute(text("UPDATE job SET status = 'done'"))
    engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_file_is_unchanged(seeded: Seeded) -> None:
    path = Path(normalize_url(seeded.url).database)
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    _render_every_page()
    engine = make_readonly_engine(seeded.url)
    with engine.connect() as connection, pytest.raises(DBAPIError, match=r"readonly|read-only"):
        connection.execute(text("UPDATE job SET status = 'done'"))
    engine.dispose()
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before
