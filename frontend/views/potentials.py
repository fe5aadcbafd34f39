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
errors = table.dropna(subset=["test_energy_rmse_mev_atom", "test_force_rmse_mev_ang"], how="all")
if errors.empty:
    st.info(
        "No fine-tuned potential in this database: `screening potential finetune` records "
        "the test-set errors of energy, force and stress of each model it trains."
    )
else:
    st.dataframe(
        errors[
            [
                "name",
                "parent",
                "dataset",
                "test_energy_rmse_mev_atom",
                "test_force_rmse_mev_ang",
                "test_stress_rmse_gpa",
            ]
        ],
        hide_index=True,
        column_config={
            "test_energy_rmse_mev_atom": st.column_config.NumberColumn("energy RMSE (meV/atom)"),
            "test_force_rmse_mev_ang": st.column_config.NumberColumn("force RMSE (meV/Å)"),
            "test_stress_rmse_gpa": st.column_config.NumberColumn("stress RMSE (GPa)"),
        },
    )
