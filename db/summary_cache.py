"""The precomputed summary: a campaign's ``composition_summary`` rows copied into the
``composition_summary_cache`` table, which the explorer reads.

The view stays the public interface. Over a large campaign it takes seconds (full scans
and a window sort over every relaxation), so the driver copies a campaign's rows at the
end of every run with :func:`refresh_summary`. Plain SQLAlchemy Core: SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CTE,
    Connection,
    DateTime,
    Integer,
    column,
    delete,
    func,
    insert,
    literal,
    select,
    table,
)
from sqlalchemy.orm import Session

from db.errors import DatabaseError
from db.models import Campaign, CompositionSummaryCache, Potential
from db.views import COMPOSITION_SUMMARY, COMPOSITION_SUMMARY_COLUMNS

SUMMARY_VIEW = table(COMPOSITION_SUMMARY, *(column(name) for name in COMPOSITION_SUMMARY_COLUMNS))
"""The ``composition_summary`` view as a Core selectable."""

CACHE = CompositionSummaryCache.__table__
CACHE_KEYS = ("campaign_id", "potential_id", "refreshed_at")
"""The cache's columns beyond the view's."""


def campaign_view_rows(campaign_name: str) -> CTE:
    """The view's rows of one campaign, a CTE materialised on PostgreSQL: its planner
    otherwise pushes later conditions into the view's window functions and nests loops
    over it (tens of seconds on 10,000 compositions)."""
    return (
        select(SUMMARY_VIEW)
        .where(SUMMARY_VIEW.c.campaign == campaign_name)
        .cte("campaign_rows")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )


def refresh_summary(executor: Session | Connection, campaign_id: int) -> int:
    """Replace the campaign's cached rows by the view's current ones (DELETE, then
    INSERT ... SELECT) in one transaction, and commit; returns the rows written.

    Raises:
        DatabaseError: no campaign has this id.
    """
    name = executor.scalar(select(Campaign.name).where(Campaign.id == campaign_id))
    if name is None:
        raise DatabaseError(f"no campaign with id {campaign_id}")
    rows = campaign_view_rows(name)
    source = select(
        *rows.c,
        literal(campaign_id, Integer).label("campaign_id"),
        Potential.id.label("potential_id"),
        literal(dt.datetime.now(dt.UTC), DateTime(timezone=True)).label("refreshed_at"),
    ).join(Potential, Potential.name == rows.c.potential)
    executor.execute(delete(CACHE).where(CACHE.c.campaign_id == campaign_id))
    executor.execute(insert(CACHE).from_select([*COMPOSITION_SUMMARY_COLUMNS, *CACHE_KEYS], source))
    # Counted, not the cursor's rowcount: sqlite3 reports -1 for a statement led by WITH.
    written = executor.scalar(
        select(func.count()).select_from(CACHE).where(CACHE.c.campaign_id == campaign_id)
    )
    executor.commit()
    return int(written or 0)


def refreshed_at(connection: Session | Connection, campaign_id: int) -> dt.datetime | None:
    """When the campaign's rows were last refreshed; None if it has none."""
    return connection.scalar(
        select(func.max(CACHE.c.refreshed_at)).where(CACHE.c.campaign_id == campaign_id)
    )
