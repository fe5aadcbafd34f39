"""Composition: its structures and lattice, transport (Arrhenius, MSD, RDF, density),
the stability record of each MD run, NEB, and downloads."""

import json

import pandas as pd
import streamlit as st

from db.artifacts import ArtifactError
from frontend import data, plots, state
from frontend.structures import UnreadableStructure, cif_text, load_structure, md_cell_counts

url = data.current_url()
campaign = state.selected_campaign(url)
if campaign is None:
    st.info("No campaigns in this database yet.")
    st.stop()
summary = data.composition_map(url, campaign.id)
if summary.empty:
    st.info("This campaign has no compositions yet: `screening enumerate` writes them.")
    st.stop()

formulas = dict(zip(summary["composition_id"], summary["formula"], strict=True))
ids = list(formulas)
current = state.composition_id()
chosen = st.selectbox(
    "Composition",
    ids,
    index=ids.index(current) if current in ids else 0,
    format_func=formulas.__getitem__,
)
state.set_composition_id(chosen)
row = summary[summary["composition_id"] == chosen].iloc[0]
info = data.composition_info(url, chosen)

st.title(row["formula"])
st.caption(f"campaign {campaign.name} · potential {campaign.potential} · {row['parameters']}")
metrics = st.columns([1, 1, 1.4, 1])
metrics[0].metric("E (eV/atom)", plots.format_value(row["energy_ev_atom"]))
metrics[1].metric("E_hull (meV/atom)", plots.format_value(row["e_hull_ev_atom"], 1000.0))
metrics[2].metric("E_a (eV)", plots.format_value(row["e_a_ev"], error=row["e_a_err_ev"]))
metrics[3].metric(
    "σ(300 K) (mS/cm)",
    plots.format_value(row["sigma_300k_ms_cm"]),
    help=f"95% interval [{plots.format_value(row['sigma_300k_low_ms_cm'])}, "
    f"{plots.format_value(row['sigma_300k_high_ms_cm'])}] mS/cm",
)

structures, transport, analysis, neb = st.tabs(["Structures", "Transport", "MD analysis", "NEB"])

with structures:
    table = data.composition_structures(url, chosen)
    if table.empty:
        st.info("No structures yet: `screening enumerate` generates the orderings.")
    else:
        if table["energy_ev_atom"].isna().all():
            st.info("No relaxation has finished yet: the starting structures are shown.")
        st.dataframe(table.drop(columns=["origin_json"]), hide_index=True)
        st.download_button(
            "Structures (CSV)", table.to_csv(index=False), f"{row['formula']}-structures.csv"
        )
        structure_id = st.selectbox("Structure", list(table["structure_id"]))
        try:
            structure = load_structure(data.structure_json(url, structure_id, info.potential_id))
        except UnreadableStructure as err:
            st.warning(f"Structure {structure_id}: {err}")
        else:
            st.plotly_chart(plots.structure_figure(structure), key="structure_3d")
            st.download_button(
                "Structure (CIF)",
                cif_text(structure),
                f"{row['formula']}-{structure_id}.cif",
                mime="chemical/x-cif",
            )

runs = data.md_runs(url, chosen)
fits = data.arrhenius_fits(url, chosen)
with transport:
    if runs.empty:
        st.info(
            "No MD yet for this composition: the relaxations are under Structures; "
            "D(T), E_a and σ need the [md] stage (md jobs start once a relaxation is done)."
        )
    else:
        with_d = runs[runs["d_cm2_s"].notna()]
        default = int(row["structure_id"]) if pd.notna(row["structure_id"]) else None
        candidates = list(dict.fromkeys(runs["structure_id"]))
        structure_id = st.selectbox(
            "MD of structure",
            candidates,
            index=candidates.index(default) if default in candidates else 0,
            key="transport_structure",
        )
        mine = runs[runs["structure_id"] == structure_id]
        my_fits = fits[fits["structure_id"] == structure_id] if not fits.empty else fits
        available = [
            d for d in plots.DIRECTIONS if mine[plots.direction_columns(d)[0]].notna().any()
        ]
        if available:
            directions = st.multiselect("Directions", available, default=available[:1])
            st.plotly_chart(plots.arrhenius_figure(mine, my_fits, directions), key="arrhenius")
        else:
            st.warning("No run of this structure reached a diffusive regime: D is not fitted.")
        if my_fits.empty:
            st.info("No Arrhenius fit yet: it needs stable, diffusive runs at two temperatures.")
        else:
            st.subheader("Arrhenius fits")
            st.dataframe(
                my_fits.drop(columns=["id"]),
                hide_index=True,
                column_config=plots.number_formats(my_fits),
            )
        st.subheader("MD runs and their stability record")
        st.dataframe(
            mine.drop(columns=["id", "job_id"]),
            hide_index=True,
            column_config=plots.number_formats(mine),
        )
        st.download_button(
            "MD runs and fits (CSV)",
            pd.concat([mine.assign(table="md_run"), my_fits.assign(table="arrhenius")]).to_csv(
                index=False
            ),
            f"{row['formula']}-transport.csv",
        )

with analysis:
    analysed = runs[runs["analysis_sha256"].notna()] if not runs.empty else runs
    if analysed.empty:
        st.info("No MD analysis (MSD, RDF, mobile-ion density) is stored for this composition.")
    else:
        labels = {
            run_id: f"structure {s} · {t:g} K"
            for run_id, s, t in analysed[["id", "structure_id", "temperature_k"]].itertuples(
                index=False
            )
        }
        run_id = st.selectbox("Run", list(labels), format_func=labels.__getitem__)
        run = analysed[analysed["id"] == run_id].iloc[0]
        try:
            arrays = data.md_analysis(url, run["analysis_sha256"])
        except ArtifactError as err:
            st.warning(f"The analysis arrays cannot be read: {err}")
        else:
            st.plotly_chart(plots.msd_figure(arrays, labels[run_id]), key="msd")
            try:
                relaxed = load_structure(
                    data.structure_json(url, int(run["structure_id"]), info.potential_id)
                )
            except UnreadableStructure:
                counts = {}  # g(r) without the running coordination
            else:
                counts = md_cell_counts(relaxed, int(run["n_atoms"]))
            st.plotly_chart(
                plots.rdf_figure(arrays, counts, float(run["volume_ang3"]), labels[run_id]),
                key="rdf",
            )
            if "density_per_ang3" in arrays:
                st.subheader("Mobile-ion probability density")
                st.plotly_chart(plots.density_figure(arrays), key="density")

with neb:
    if pd.isna(row["neb_barrier_ev"]):
        st.info(
            "No NEB results: migration barriers appear here once the NEB stage has run "
            "(this database has none)."
        )
    else:
        st.metric("Percolating NEB barrier (eV)", plots.format_value(row["neb_barrier_ev"]))

st.download_button(
    "Composition summary (JSON)",
    json.dumps(row.to_dict(), default=str, indent=1),
    f"{row['formula']}-summary.json",
)
