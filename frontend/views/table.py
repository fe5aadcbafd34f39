"""Table: composition_summary of the campaign, filtered in SQL, with CSV/Parquet download."""

import io
from functools import partial

import pandas as pd
import streamlit as st

from db.explorer_queries import SUMMARY_SORT_COLUMNS, SummaryFilter
from frontend import data, plots, state

url = data.current_url()
campaign = state.selected_campaign(url)
if campaign is None:
    st.info("No campaigns in this database yet.")
    st.stop()
st.title(f"Table · {campaign.name}")
st.caption(data.summary_note(url, campaign.id))

with st.form("filters"):
    left, middle, right = st.columns(3)
    e_hull_max = left.number_input("E_hull ≤ (meV/atom)", value=None, min_value=-1e6, step=5.0)
    sigma_min = middle.number_input("σ(300 K) ≥ (mS/cm)", value=None, min_value=0.0, format="%g")
    e_a_max = right.number_input("E_a ≤ (eV)", value=None, min_value=0.0, step=0.05)
    formula = left.text_input("Formula contains")
    neb_max = middle.number_input("NEB barrier (3D) ≤ (eV)", value=None, min_value=0.0, step=0.05)
    limit = right.number_input("Row limit", min_value=1, max_value=100_000, value=10_000)
    sort_by = left.selectbox("Sort by", SUMMARY_SORT_COLUMNS)
    stable_only = middle.checkbox("Stable only")
    descending = right.checkbox("Descending")
    st.form_submit_button("Apply")

where = SummaryFilter(
    e_hull_max_ev_atom=None if e_hull_max is None else e_hull_max / 1000.0,
    sigma_min_ms_cm=sigma_min,
    e_a_max_ev=e_a_max,
    neb_barrier_max_ev=neb_max,
    stable_only=stable_only,
    formula_contains=formula or None,
    sort_by=sort_by,
    descending=descending,
    limit=int(limit),
)
table = data.filtered_summary(url, campaign.name, where)
st.caption(
    f"{len(table)} rows · E eV/atom, E_hull eV/atom, a b c Å, angles degrees, V Å³/atom, "
    "E_a eV, D cm²/s, σ mS/cm, NEB barrier eV"
)
st.dataframe(table, hide_index=True, column_config=plots.number_formats(table))


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


# Files are written on click only, not on every rerun (10,000 rows take a while).
left, right = st.columns(2)
left.download_button(
    "CSV", partial(table.to_csv, index=False), f"{campaign.name}-summary.csv", "text/csv"
)
right.download_button(
    "Parquet",
    partial(_parquet, table),
    f"{campaign.name}-summary.parquet",
    "application/octet-stream",
)
