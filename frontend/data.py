"""Every cached read of the explorer: ``st.cache_data`` wrappers over the ``db`` queries.

Each function takes the database URL first (part of the cache key) and returns plain data
or a DataFrame whose column names carry the units. Progress refreshes every few seconds,
results every minute. Nothing here writes: the engine is read-only.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db import explorer_queries, queries
from db.artifacts import ArtifactStore, default_artifact_root
from db.engine import check_connection
from db.explorer_queries import CampaignInfo, CompositionInfo, SelectResult, SummaryFilter
from db.views import COMPOSITION_SUMMARY_COLUMNS
from frontend.space import CompositionSpace, composition_space, parse_fractions, with_fractions

DATABASE_ENV = "SCREENING_DATABASE_URL"
PROGRESS_TTL_S = 5
RESULTS_TTL_S = 60


def database_url() -> str | None:
    """The URL the explorer was started with (``$SCREENING_DATABASE_URL``)."""
    return os.environ.get(DATABASE_ENV) or None


def current_url() -> str:
    """The database URL; app.py has stopped already if it is unset."""
    found = database_url()
    if found is None:
        raise RuntimeError(f"${DATABASE_ENV} is not set")
    return found


@st.cache_resource(show_spinner=False)
def engine(url: str) -> Engine:
    """The read-only engine, checked once; DatabaseError with one line if unreachable."""
    made = explorer_queries.make_readonly_engine(url)
    try:
        check_connection(made)
    except Exception:
        made.dispose()
        raise
    return made


@st.cache_resource(show_spinner=False)
def _unpooled_engine(url: str) -> Engine:
    return explorer_queries.make_readonly_engine(url, pooled=False)


def _read(url: str, query: Any, *args: Any) -> Any:
    with engine(url).connect() as connection:
        return query(connection, *args)


@st.cache_data(ttl=PROGRESS_TTL_S, show_spinner=False)
def campaigns(url: str) -> list[CampaignInfo]:
    return _read(url, explorer_queries.campaigns)


@st.cache_data(ttl=PROGRESS_TTL_S, show_spinner=False)
def job_counts(url: str) -> pd.DataFrame:
    """campaign_id, kind, status, count for every campaign."""
    rows = _read(url, explorer_queries.job_counts)
    return pd.DataFrame(rows, columns=["campaign_id", "kind", "status", "count"])


@st.cache_data(ttl=PROGRESS_TTL_S, show_spinner=False)
def campaign_overview(url: str) -> pd.DataFrame:
    """One row per campaign: name, potential, compositions, jobs by status, percent done."""
    counts = job_counts(url)
    totals = counts.pivot_table(
        index="campaign_id", columns="status", values="count", aggfunc="sum", fill_value=0
    )
    rows = []
    for campaign in campaigns(url):
        by_status = totals.loc[campaign.id] if campaign.id in totals.index else {}
        statuses = {s: int(by_status.get(s, 0)) for s in ("done", "running", "pending", "failed")}
        jobs = sum(statuses.values())
        rows.append(
            {
                "campaign": campaign.name,
                "potential": campaign.potential,
                "compositions": campaign.n_compositions,
                "jobs": jobs,
                **statuses,
                "done_percent": 100.0 * statuses["done"] / jobs if jobs else 0.0,
                "created_at": campaign.created_at,
            }
        )
    return pd.DataFrame(rows)


@st.cache_data(ttl=PROGRESS_TTL_S, show_spinner=False)
def failed_jobs(url: str, campaign_id: int, limit: int = 50) -> pd.DataFrame:
    """The campaign's failed jobs with their reasons, most recent first."""
    with engine(url).connect() as connection, Session(connection) as session:
        rows = queries.failed_jobs(session, campaign_id, limit)
    return pd.DataFrame(
        rows,
        columns=[
            "job_id",
            "kind",
            "structure_id",
            "formula",
            "attempts",
            "error",
            "worker",
            "finished_at",
        ],
    )


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def map_intervals(url: str, campaign_id: int) -> pd.DataFrame:
    """composition_id, structure_id and the 95% intervals of D and σ at 300 K."""
    rows = _read(url, explorer_queries.map_intervals, campaign_id)
    return pd.DataFrame(rows, columns=["composition_id", *explorer_queries.INTERVAL_COLUMNS])


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def composition_row(url: str, composition_id: int) -> pd.Series | None:
    """One composition's map row (a Series, no full-campaign query); None if absent."""
    row = _read(url, explorer_queries.composition_row, composition_id)
    return None if row is None else pd.Series(row)


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def compositions(url: str, campaign_id: int) -> dict[int, str]:
    """The campaign's compositions, id -> formula, by formula."""
    return dict(_read(url, explorer_queries.compositions, campaign_id))


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def map_points(url: str, campaign_id: int, spec_json: str) -> tuple[CompositionSpace, pd.DataFrame]:
    """The campaign's composition space and its ``composition_summary`` rows with a
    ``sublattice:species`` fraction column per species (parsed once, not on every rerun)."""
    frame = pd.DataFrame(_read(url, explorer_queries.composition_map, campaign_id))
    if frame.empty:
        return CompositionSpace(()), frame
    fractions = parse_fractions(frame["parameters"])
    space = composition_space(fractions, spec_json)
    return space, with_fractions(frame, space, fractions)


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def summary_note(url: str, campaign_id: int) -> str:
    """A caption for the map and the table: when the summary cache they read was
    refreshed, or that the campaign has none yet and the live view is read instead."""
    refreshed = _read(url, explorer_queries.summary_refreshed_at, campaign_id)
    if refreshed is None:
        return (
            "No precomputed summary for this campaign yet (`screening run` writes it as it "
            "ends): reading the live view, which is slow on large campaigns."
        )
    if refreshed.tzinfo is not None:
        refreshed = refreshed.astimezone(dt.UTC)
    return f"Summary as of {refreshed:%Y-%m-%d %H:%M} UTC (refreshed as each run ends)."


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def md_temperatures(url: str, campaign_id: int) -> list[float]:
    return _read(url, explorer_queries.md_temperatures, campaign_id)


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def diffusivity_at(url: str, campaign_id: int, temperature_k: float) -> pd.DataFrame:
    rows = _read(url, explorer_queries.diffusivity_at, campaign_id, temperature_k)
    return pd.DataFrame(rows, columns=["composition_id", "d_cm2_s", "d_err_cm2_s"])


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def composition_info(url: str, composition_id: int) -> CompositionInfo | None:
    return _read(url, explorer_queries.composition_info, composition_id)


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def composition_structures(url: str, composition_id: int) -> pd.DataFrame:
    return pd.DataFrame(_read(url, explorer_queries.composition_structures, composition_id))


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def md_runs(url: str, composition_id: int) -> pd.DataFrame:
    return pd.DataFrame(_read(url, explorer_queries.md_runs, composition_id))


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def arrhenius_fits(url: str, composition_id: int) -> pd.DataFrame:
    return pd.DataFrame(_read(url, explorer_queries.arrhenius_fits, composition_id))


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def structure_json(url: str, structure_id: int, potential_id: int) -> str | None:
    return _read(url, explorer_queries.structure_json, structure_id, potential_id)


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def neb_runs(url: str, composition_id: int) -> pd.DataFrame:
    return pd.DataFrame(_read(url, explorer_queries.neb_runs, composition_id))


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def neb_hops(url: str, neb_run_id: int) -> pd.DataFrame:
    rows = _read(url, explorer_queries.neb_hops, neb_run_id)
    return pd.DataFrame(rows, columns=list(explorer_queries.NEB_HOP_COLUMNS))


@st.cache_data(show_spinner=False, max_entries=32)
def artifact_arrays(url: str, sha256: str) -> dict[str, np.ndarray]:
    """The arrays of an .npz artifact (MD analysis: MSD, RDFs, density; NEB energy
    profiles); blobs never change.

    Raises:
        ArtifactError: the blob is missing under the artifact root or corrupted.
    """
    store = ArtifactStore(default_artifact_root(url))
    with np.load(io.BytesIO(store.get(sha256))) as arrays:
        return {name: arrays[name] for name in arrays.files}


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def filtered_summary(url: str, campaign: str, where: SummaryFilter) -> pd.DataFrame:
    rows = _read(url, explorer_queries.filtered_summary, campaign, where)
    return pd.DataFrame(rows, columns=list(COMPOSITION_SUMMARY_COLUMNS))


@st.cache_data(ttl=RESULTS_TTL_S, show_spinner=False)
def potentials(url: str) -> pd.DataFrame:
    return pd.DataFrame(_read(url, explorer_queries.potentials))


def run_select(url: str, sql: str, row_cap: int) -> SelectResult:
    """A user's SELECT on a fresh connection (never cached: the data may have changed).

    Raises:
        UnsafeQueryError: not a single SELECT. DatabaseError: refused or timed out.
    """
    with _unpooled_engine(url).connect() as connection:
        return explorer_queries.run_select(connection, sql, row_cap=row_cap)
