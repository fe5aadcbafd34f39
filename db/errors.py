"""Exceptions of the storage layer."""

from __future__ import annotations


class DatabaseError(RuntimeError):
    """The database URL is malformed, the server cannot be reached, or a migration failed."""


class SchemaDriftError(DatabaseError):
    """The ORM models and the Alembic migrations describe different schemas."""


def one_line(err: BaseException) -> str:
    """``err``'s message with its whitespace (newlines included) collapsed."""
    return " ".join(str(err).split()) or type(err).__name__
