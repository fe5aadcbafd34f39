"""Entry point of the explorer (``streamlit run frontend/app.py``): database check, campaign
choice in the sidebar, and the page registry."""

from __future__ import annotations

import streamlit as st

from db.errors import DatabaseError
from frontend import data, state

st.set_page_config(page_title="Screening explorer", layout="wide")

url = data.database_url()
if url is None:
    st.error(
        f"No database given: start the explorer with `screening explore --database URL` "
        f"or set ${data.DATABASE_ENV}."
    )
    st.stop()
try:
    data.engine(url)
except DatabaseError as err:
    st.error(f"Cannot open the database. {err}")
    st.stop()

campaigns = data.campaigns(url)
if campaigns:
    by_id = {c.id: c for c in campaigns}
    current = state.campaign_id()
    chosen = st.sidebar.selectbox(
        "Campaign",
        list(by_id),
        index=list(by_id).index(current) if current in by_id else 0,
        format_func=lambda campaign_id: by_id[campaign_id].name,
        key="campaign_choice",  # an unkeyed widget's identity changes with index: picks lost
    )
    state.set_campaign_id(chosen)
    st.sidebar.caption(f"potential {by_id[chosen].potential} · read-only")

page = st.navigation(
    {
        "Campaign": [
            st.Page("views/campaigns.py", title="Campaigns", icon=":material/monitoring:"),
            st.Page("views/composition_map.py", title="Composition map", icon=":material/grid_on:"),
            st.Page("views/composition.py", title="Composition", icon=":material/science:"),
        ],
        "Data": [
            st.Page("views/table.py", title="Table", icon=":material/table:"),
            st.Page("views/sql.py", title="SQL", icon=":material/terminal:"),
            st.Page("views/potentials.py", title="Potentials", icon=":material/model_training:"),
        ],
    }
)
page.run()
