"""Table: composition_summary of the campaign, filtered in SQL, with CSV/Parquet download."""

import io

import streamlit as st

from db.explorer_queries import SUMMARY_SORT_COLUMNS, SummaryFilter
from frontend import data, plots, state

url = data.current_url()
campaign = state.selected_campaign(url)
if campaign is None:
    st.info("No campaigns in this database yet.")
    st.stop()
st.title(f"Table · {campaign.name}")

with st.form("filters"):
    left, middle, right = st.columns(3)
    e_hull_max = left.number_input("E_hull ≤ (meV/atom)", value=None, min_value=-1e6, step=5.0)
    sigma_min = middle.number_input("σ(300 K) ≥ (mS/cm)", value=None, min_value=0.0, format="%g")
    e_a_max = right.number_input("E_a ≤ (eV)", value=None, min_value=0.0, step=0.05)
    formula = left.text_input("Formula contains")
    sort_by = middle.selectbox("Sort by", SUMMARY_SORT_COLUMNS)
    limit = right.number_input("Row limit", min_value=1, max_value=100_000, value=10_000)
    stable_only = left.checkbox("Stable only")
    descending = middle.checkbox("Descending")
    st.form_submit_button("Apply")

where = SummaryFilter(
    e_hull_max_ev_atom=None if e_hull_max is None else e_hull_max / 1000.0,
    sigma_min_ms_cm=sigma_min,
    e_a_max_ev=e_a_max,
    stable_only=stable_only,
    formula_contains=formula or None,
    sort_by=sort_by,
    descending=descending,
    limit=int(limit),
)
table = data.filtered_summary(url, campaign.name, where)
st.caption(
    f"{len(table)} rows · E eV/atom, E_hull eV/atom, a b c Å, angles degrees, V Å³/atom, "
    "E_a eV, D cm²/s, σ mS/cm"
)
st.dataframe(table, hide_index=True, column_config=plots.number_formats(table))
parquet = io.BytesIO()
table.to_parquet(parquet, index=False)
left, right = st.columns(2)
left.download_button("CSV", table.to_csv(index=False), f"{campaign.name}-summary.csv", "text/csv")
right.download_button(
    "Parquet", parquet.getvalue(), f"{campaign.name}-summary.parquet", "application/octet-stream"
)
