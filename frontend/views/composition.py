"""Composition: its structures and lattice, transport (Arrhenius, MSD, RDF, density),
the stability record of each MD run, NEB, and downloads."""

import json
from functools import partial

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
formulas = data.compositions(url, campaign.id)
if not formulas:
    st.info("This campaign has no compositions yet: `screening enumerate` writes them.")
    st.stop()

ids = list(formulas)
current = state.composition_id()
chosen = st.selectbox(
    "Composition",
    ids,
    index=ids.index(current) if current in ids else 0,
    format_func=formulas.__getitem__,
    key="composition_choice",  # an unkeyed widget's identity changes with index: picks lost
)
state.set_composition_id(chosen)
row = data.composition_row(url, chosen)
info = data.composition_info(url, chosen)
if row is None or info is None:
    st.warning("This composition is no longer in the database.")
    st.stop()

st.title(row["formula"])
st.caption(f"campaign {campaign.name} · potential {campaign.potential} · {row['parameters']}")
metrics = st.columns([1, 1, 1.4, 1, 1])
metrics[0].metric("E (eV/atom)", plots.format_value(row["energy_ev_atom"]))
metrics[1].metric("E_hull (meV/atom)", plots.format_value(row["e_hull_ev_atom"], 1000.0))
metrics[2].metric("E_a (eV)", plots.format_value(row["e_a_ev"], error=row["e_a_err_ev"]))
metrics[3].metric(
    "σ(300 K) (mS/cm)",
    plots.format_value(row["sigma_300k_ms_cm"]),
    help=f"95% interval [{plots.format_value(row['sigma_300k_low_ms_cm'])}, "
    f"{plots.format_value(row['sigma_300k_high_ms_cm'])}] mS/cm",
)
metrics[4].metric(
    "NEB barrier, 3D (eV)",
    plots.format_value(row["neb_barrier_ev"]),
    help="3D percolating barrier of the lowest-energy structure's latest NEB run",
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
                partial(cif_text, structure),
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
            arrays = data.artifact_arrays(url, run["analysis_sha256"])
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
    neb_runs = data.neb_runs(url, chosen)
    if neb_runs.empty:
        st.info(
            "No NEB yet for this composition: migration barriers need the [neb] stage "
            "(a neb job starts once a relaxation is done)."
        )
    else:
        st.subheader("Percolating barriers")
        st.caption(
            "The smallest barrier (eV) at which converged hops connect the mobile ions in "
            "1, 2 and 3 dimensions; blank: they never do."
        )
        st.dataframe(neb_runs.drop(columns=["skipped_json", "profiles_sha256"]), hide_index=True)
        labels = {
            run_id: f"structure {s} · NEB run {run_id}"
            for run_id, s in neb_runs[["id", "structure_id"]].itertuples(index=False)
        }
        run_ids = list(labels)
        structure_ids = list(neb_runs["structure_id"])
        lowest = row["structure_id"]  # newest run of the lowest-energy structure by default
        run_id = st.selectbox(
            "NEB run",
            run_ids,
            index=structure_ids.index(lowest) if lowest in structure_ids else 0,
            format_func=labels.__getitem__,
        )
        run = neb_runs[neb_runs["id"] == run_id].iloc[0]
        for column, dimension in zip(st.columns(3), ("1d", "2d", "3d"), strict=True):
            column.metric(
                f"{dimension.upper()} barrier (eV)",
                plots.format_value(run[f"barrier_{dimension}_ev"]),
            )
        hops = data.neb_hops(url, run_id)
        st.subheader("Hops")
        st.dataframe(hops, hide_index=True)
        if run["grouping"] == "environment":
            st.caption(
                "Low symmetry: each band stands for the hops of its length and local "
                "environment (an approximation)."
            )
        skipped = json.loads(run["skipped_json"] or "[]")
        if skipped:
            st.caption(f"{len(skipped)} hop classes left out by max_hops:")
            st.dataframe(pd.DataFrame(skipped), hide_index=True)
        if pd.isna(run["profiles_sha256"]):
            st.info("This run stored no energy profiles (no band was computed).")
        else:
            try:
                profiles = data.artifact_arrays(url, run["profiles_sha256"])
            except ArtifactError as err:
                st.warning(f"The energy profiles of NEB run {run_id} cannot be shown: {err}")
            else:
                absent = [
                    int(i) for i in hops["hop_index"] if plots.profile_keys(i)[1] not in profiles
                ]
                if absent:
                    st.warning(f"The profiles artifact holds no profile of hops {absent}.")
                st.plotly_chart(
                    plots.neb_profile_figure(profiles, hops, labels[run_id]), key="neb_profiles"
                )
        st.download_button(
            "NEB hops (CSV)", hops.to_csv(index=False), f"{row['formula']}-neb-{run_id}.csv"
        )

st.download_button(
    "Composition summary (JSON)",
    json.dumps(row.to_dict(), default=str, indent=1),
    f"{row['formula']}-summary.json",
)
