"""The command line's error policy, shared by every sub-app: project errors become one line
on stderr and exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from db.errors import DatabaseError
from enumerate.errors import EnumerationError
from screening.errors import ScreeningError

errors = Console(stderr=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's errors into one line on stderr and exit code 2."""
    try:
        yield
    except (ScreeningError, EnumerationError, DatabaseError) as err:
        errors.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
