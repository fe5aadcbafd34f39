"""Engines from URLs: driver choice, SQLite pragmas, one-line connection errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from db.engine import check_connection, make_engine
from db.errors import DatabaseError
from db.migrate import upgrade


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_postgres_gives_one_line_database_error() -> None:
    port = _closed_port()
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{port}/test")
    with pytest.raises(DatabaseError) as info:
        check_connection(engine)
    message = str(info.value)
    assert "\n" not in message
    assert f"127.0.0.1:{port}" in message


def test_migrating_an_unreachable_database_gives_database_error() -> None:
    with pytest.raises(DatabaseError, match="cannot connect"):
        upgrade(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test")


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://host/db", "postgresql+psycopg2://h/d"])
def test_unusable_url_gives_database_error(url: str) -> None:
    with pytest.raises(DatabaseError) as info:
        make_engine(url)
    assert "\n" not in str(info.value)


def test_plain_postgresql_url_uses_psycopg() -> None:
    assert make_engine("postgresql://u:secret@h/d").url.drivername == "postgresql+psycopg"


def test_password_is_hidden_in_errors() -> None:
    engine = make_engine(f"postgresql://u:secret@127.0.0.1:{_closed_port()}/d")
    with pytest.raises(DatabaseError) as info:
        check_connection(engine)
    assert "secret" not in str(info.value)


def test_sqlite_file_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == 30_000
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_sqlite_memory_has_foreign_keys_without_wal() -> None:
    engine = make_engine("sqlite://")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "memory"
    engine.dispose()
