"""The summary cache on SQLite and PostgreSQL: a refresh copies the campaign's rows of
composition_summary exactly, reruns cleanly, leaves other campaigns alone, and the
explorer's summary queries read it (the live view before a campaign's first refresh)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from db import explorer_queries
from db.errors import DatabaseError
from db.models import Campaign, Hull, Potential
from db.queries import composition_summary
from db.summary_cache import CACHE, refresh_summary, refreshed_at
from db.views import COMPOSITION_SUMMARY_COLUMNS

if TYPE_CHECKING:
    from conftest import SampleCampaign


def _cached(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """The cache's rows of a campaign, view columns plus keys, by composition and potential."""
    statement = (
        select(CACHE)
        .where(CACHE.c.campaign_id == campaign_id)
        .order_by(CACHE.c.composition_id, CACHE.c.potential)
    )
    return [dict(row) for row in session.execute(statement).mappings()]


def _view(engine: Engine, campaign: str) -> list[dict[str, Any]]:
    rows = composition_summary(engine, campaign)
    return sorted(rows, key=lambda row: (row["composition_id"], row["potential"]))


def _row(rows: list[dict[str, Any]], composition_id: int) -> dict[str, Any]:
    """The composition's row under chgnet."""
    return next(
        r for r in rows if (r["composition_id"], r["potential"]) == (composition_id, "chgnet")
    )


def _campaign_id(session: Session, name: str) -> int:
    return session.scalars(select(Campaign.id).where(Campaign.name == name)).one()


def _make_s3_unstable(session: Session) -> None:
    """s3 (mixed, the only stable structure, E_hull 0) moves to E_hull 0.01, unstable."""
    session.execute(
        update(Hull).where(Hull.e_hull_ev_atom == 0.0).values(e_hull_ev_atom=0.01, is_stable=False)
    )
    session.commit()


def test_refresh_equals_the_view_row_for_row(
    engine: Engine, session: Session, sample_campaign: SampleCampaign
) -> None:
    s = sample_campaign
    assert refreshed_at(session, s.campaign_id) is None

    written = refresh_summary(session, s.campaign_id)

    view = _view(engine, s.campaign_name)
    cached = _cached(session, s.campaign_id)
    assert written == len(view) == len(cached) == 4  # mixed x2 potentials, pure, empty
    assert [{k: r[k] for k in COMPOSITION_SUMMARY_COLUMNS} for r in cached] == view
    potential_ids = dict(session.execute(select(Potential.name, Potential.id)).all())
    assert all(r["campaign_id"] == s.campaign_id for r in cached)
    assert [potential_ids[r["potential"]] for r in cached] == [r["potential_id"] for r in cached]
    assert refreshed_at(session, s.campaign_id) is not None
    mixed = _row(cached, s.mixed_id)
    assert (mixed["n_structures"], mixed["e_hull_ev_atom"], mixed["is_stable"]) == (3, 0.0, 1)
    assert mixed["energy_ev_atom"] == pytest.approx(-3.2) and mixed["a"] == pytest.approx(10.2)


def test_rerun_is_idempotent_and_follows_the_data(
    engine: Engine, session: Session, sample_campaign: SampleCampaign
) -> None:
    s = sample_campaign
    refresh_summary(session, s.campaign_id)
    first = _cached(session, s.campaign_id)
    assert refresh_summary(session, s.campaign_id) == len(first)
    again = _cached(session, s.campaign_id)
    assert [r | {"refreshed_at": None} for r in again] == [
        r | {"refreshed_at": None} for r in first
    ]
    assert again[0]["refreshed_at"] >= first[0]["refreshed_at"]

    _make_s3_unstable(session)
    stale = _row(_cached(session, s.campaign_id), s.mixed_id)
    assert (stale["e_hull_ev_atom"], stale["is_stable"]) == (0.0, 1)  # until the next refresh

    refresh_summary(session, s.campaign_id)
    fresh = _cached(session, s.campaign_id)
    assert [{k: r[k] for k in COMPOSITION_SUMMARY_COLUMNS} for r in fresh] == _view(
        engine, s.campaign_name
    )
    mixed = _row(fresh, s.mixed_id)
    assert (mixed["e_hull_ev_atom"], mixed["is_stable"]) == (pytest.approx(0.01), 0)


def test_other_campaigns_untouched(
    engine: Engine, session: Session, sample_campaign: SampleCampaign
) -> None:
    s = sample_campaign
    other_id = _campaign_id(session, "other")
    refresh_summary(session, other_id)
    other_before = _cached(session, other_id)
    assert [{k: r[k] for k in COMPOSITION_SUMMARY_COLUMNS} for r in other_before] == _view(
        engine, "other"
    )
    assert [(r["formula"], r["e_hull_ev_atom"], r["is_stable"]) for r in other_before] == [
        ("Li3InCl6", pytest.approx(-0.1), 1)
    ]

    refresh_summary(session, s.campaign_id)
    refresh_summary(session, s.campaign_id)

    assert _cached(session, other_id) == other_before
    assert len(_cached(session, s.campaign_id)) == 4


def test_refresh_of_a_missing_campaign_is_an_error(session: Session) -> None:
    with pytest.raises(DatabaseError, match="no campaign with id 999"):
        refresh_summary(session, 999)


def test_explorer_reads_the_cache_and_falls_back_to_the_view(
    engine: Engine, session: Session, sample_campaign: SampleCampaign
) -> None:
    s = sample_campaign
    everything = explorer_queries.SummaryFilter()
    with engine.connect() as connection:
        assert explorer_queries.summary_refreshed_at(connection, s.campaign_id) is None
        live_map = explorer_queries.composition_map(connection, s.campaign_id)
        live_table = explorer_queries.filtered_summary(connection, s.campaign_name, everything)
    assert [r["formula"] for r in live_map] == ["Li3InBr6", "Li3InCl3Br3", "Li3InCl6"]

    refresh_summary(session, s.campaign_id)
    _make_s3_unstable(session)  # the view changes, the cache does not until a refresh

    with engine.connect() as connection:
        assert explorer_queries.summary_refreshed_at(connection, s.campaign_id) is not None
        assert explorer_queries.composition_map(connection, s.campaign_id) == live_map
        assert (
            explorer_queries.filtered_summary(connection, s.campaign_name, everything) == live_table
        )
        stable = explorer_queries.SummaryFilter(stable_only=True)
        cached = explorer_queries.filtered_summary(connection, s.campaign_name, stable)
        assert [r["composition_id"] for r in cached] == [s.mixed_id]
        row = explorer_queries.composition_row(connection, s.mixed_id)
        assert row is not None and (row["e_hull_ev_atom"], row["is_stable"]) == (0.0, True)

    refresh_summary(session, s.campaign_id)
    with engine.connect() as connection:
        fresh = explorer_queries.filtered_summary(connection, s.campaign_name, stable)
        assert fresh == []
