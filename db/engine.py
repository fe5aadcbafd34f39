"""Engines and sessions from a database URL (SQLite embedded default, PostgreSQL via psycopg 3)."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import DatabaseError, one_line

SQLITE_BUSY_TIMEOUT_S = 30
PG_CONNECT_TIMEOUT_S = 10
_PG_DRIVERLESS = {"postgresql", "postgres"}


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``, sending driverless PostgreSQL URLs to psycopg 3.

    Raises:
        DatabaseError: the URL cannot be parsed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise DatabaseError(f"malformed database URL {_redact(url)!r}: {one_line(err)}") from err
    if parsed.drivername in _PG_DRIVERLESS:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL) -> Engine:
    """Create an engine for ``url`` without connecting.

    SQLite connections get foreign keys ON, a 30 s busy timeout and, for file
    databases, WAL journal mode. PostgreSQL uses psycopg 3 with a 10 s connect
    timeout unless the URL sets one; pooled connections are pinged before use.

    Raises:
        DatabaseError: the URL is malformed or names an unavailable driver.
    """
    parsed = normalize_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    elif parsed.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
        if "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as err:
        message = f"cannot use database URL {_redact(parsed)!r}: {one_line(err)}"
        raise DatabaseError(message) from err
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, wal=not _is_sqlite_memory(parsed))
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def check_connection(engine: Engine) -> None:
    """Open one connection and run ``SELECT 1``.

    Raises:
        DatabaseError: the database cannot be reached, with a one-line message.
    """
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as err:
        cause = getattr(err, "orig", None) or err
        raise DatabaseError(f"cannot connect to {_redact(engine.url)}: {one_line(cause)}") from err


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()


def _is_sqlite_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _redact(url: str | URL) -> str:
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
