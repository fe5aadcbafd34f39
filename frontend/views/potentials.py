"""Potentials: every model used, its provenance and use, and its test errors."""

import streamlit as st

from frontend import data

url = data.current_url()
st.title("Potentials")
table = data.potentials(url)
if table.empty:
    st.info("No potential recorded yet: `screening run` records the one it uses.")
    st.stop()
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "weights_sha256": st.column_config.TextColumn("weights SHA-256"),
        "parent": st.column_config.TextColumn("fine-tuned from"),
    },
)
st.subheader("Test errors")
st.info(
    "No fine-tuning results in this database: energy, force and stress test errors appear "
    "here once the fine-tuning stage records them."
)
