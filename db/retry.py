"""Riding out a database outage: retry an operation with exponential backoff.

The campaign driver persists every finished result through :func:`with_reconnect`: while
PostgreSQL is unreachable (restart, failover, a network blip) the operation is retried
with backoff, and the results that finish meanwhile wait in the driver (and in Dask's
memory) until it is back, so nothing is lost. Errors that are not about the connection
(a constraint violated, a bug) are raised at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from db.errors import DatabaseError, one_line

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 15.0


def is_connection_error(err: BaseException) -> bool:
    """Whether ``err`` says the database could not be reached (worth retrying)."""
    if isinstance(err, OperationalError | InterfaceError):
        return True
    return isinstance(err, DBAPIError) and bool(err.connection_invalidated)


def with_reconnect(operation: Callable[[], T], what: str, give_up_after_s: float) -> T:
    """``operation()``, retried with exponential backoff while the database is unreachable.

    ``operation`` must be a whole transaction (it is rerun from its start). Gives up with
    :class:`DatabaseError` after ``give_up_after_s`` seconds of failures.
    """
    deadline = time.monotonic() + give_up_after_s
    delay = FIRST_DELAY_S
    while True:
        try:
            return operation()
        except DBAPIError as err:
            if not is_connection_error(err):
                raise
            if time.monotonic() + delay > deadline:
                raise DatabaseError(
                    f"database unreachable for {give_up_after_s:g} s while {what}: {one_line(err)}"
                ) from err
            log.warning("database unreachable while %s, retrying in %.1f s", what, delay)
            time.sleep(delay)
            delay = min(MAX_DELAY_S, 2 * delay)
