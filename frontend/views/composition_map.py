"""Composition map: the campaign's composition space coloured by a chosen quantity."""

import numpy as np
import streamlit as st

from frontend import data, plots, state
from frontend.space import fixed_slice

MISSING = {
    "e_hull_ev_atom": "E_hull appears when `screening run` updates the hull after relaxing.",
    "e_a_ev": "E_a needs stable MD at two or more temperatures ([md] in the campaign).",
    "sigma_300k_ms_cm": "σ(300 K) comes from the Arrhenius fit of the MD ([md] in the campaign).",
    "d_300k_cm2_s": "D(300 K) comes from the Arrhenius fit of the MD ([md] in the campaign).",
    "d_t_cm2_s": "D(T) appears as md jobs finish ([md] in the campaign).",
    "neb_barrier_ev": "The 3D percolating barrier appears once the lowest-energy structure's "
    "neb job is done ([neb] in the campaign).",
}

url = data.current_url()
campaign = state.selected_campaign(url)
if campaign is None:
    st.info("No campaigns in this database yet.")
    st.stop()
if state.take_open_request():
    st.switch_page("views/composition.py")

st.title(f"Composition map · {campaign.name}")
space, frame = data.map_points(url, campaign.id, campaign.spec_json)
if frame.empty:
    st.info("This campaign has no compositions yet: `screening enumerate` writes them.")
    st.stop()
st.caption(data.summary_note(url, campaign.id))

controls = st.columns(4)
quantity = controls[0].selectbox("Colour by", plots.QUANTITIES, format_func=lambda q: q.label)
if quantity.column == "d_t_cm2_s":
    temperatures = data.md_temperatures(url, campaign.id)
    if temperatures:
        temperature = controls[3].selectbox(
            "Temperature (K)", temperatures, format_func="{:g} K".format
        )
        at_t = data.diffusivity_at(url, campaign.id, temperature)
        at_t = at_t.drop_duplicates("composition_id").rename(
            columns={"d_cm2_s": "d_t_cm2_s", "d_err_cm2_s": "d_t_err_cm2_s"}
        )
        frame = frame.merge(at_t, on="composition_id", how="left")
    else:
        frame = frame.assign(d_t_cm2_s=np.nan, d_t_err_cm2_s=np.nan)

if quantity.interval:  # a second query, only for the quantities that have intervals
    frame = frame.merge(data.map_intervals(url, campaign.id), on="composition_id", how="left")

n_values = int(frame[quantity.column].notna().sum())
if n_values == 0:
    st.info(f"No composition has {quantity.label} yet. {MISSING.get(quantity.column, '')}")
elif n_values < len(frame):
    st.caption(
        f"{n_values} of {len(frame)} compositions have {quantity.label}; the rest are blank."
    )

coordinates = space.coordinates
shown = frame
figure = None
if len(coordinates) == 1:
    figure = plots.line_map(frame, coordinates[0], quantity)
elif len(coordinates) >= 2:
    kind = "Heatmap"
    if space.ternary_sublattices:
        kind = st.radio("Plot", ["Heatmap", "Ternary"], horizontal=True)
    if kind == "Heatmap":
        x = controls[1].selectbox("x axis", coordinates, format_func=lambda c: c.label)
        others = [c for c in coordinates if c != x]
        y = controls[2].selectbox("y axis", others, format_func=lambda c: c.label)
        free = [c for c in others if c != y]
    else:
        sublattice = controls[1].selectbox("Ternary sublattice", space.ternary_sublattices)
        free = [c for c in coordinates if c.sublattice != sublattice]
    fixed = {
        c.key: st.select_slider(f"{c.label} fixed at", sorted(frame[c.key].unique())) for c in free
    }
    shown = fixed_slice(frame, fixed)
    if kind == "Heatmap":
        figure = plots.grid_map(shown, x, y, quantity)
    else:
        figure = plots.ternary_map(shown, sublattice, space.species_of(sublattice), quantity)
else:
    st.info("The compositions share one point of composition space: see the table below.")


def _open_selected() -> None:
    points = st.session_state["composition_map"].selection.points
    ids = [p["customdata"] for p in points if p.get("customdata") is not None]
    if ids:
        state.request_open(int(ids[0]))


if figure is not None:
    st.plotly_chart(
        figure,
        key="composition_map",
        on_select=_open_selected,
        selection_mode="points",
        config={"toImageButtonOptions": {"filename": f"{campaign.name}-{quantity.column}"}},
    )
    st.caption("Hover for values with uncertainties; click a composition to open it.")

formulas = dict(zip(shown["composition_id"], shown["formula"], strict=True))
left, right = st.columns([3, 1], vertical_alignment="bottom")
picked = left.selectbox("Composition", list(formulas), format_func=formulas.__getitem__)
if right.button("Open composition"):
    state.set_composition_id(picked)
    st.switch_page("views/composition.py")

columns = ["formula", quantity.column, "e_hull_ev_atom", "is_stable", "n_structures"]
columns += [c.key for c in coordinates]
table = shown[list(dict.fromkeys(columns))]
st.dataframe(table, hide_index=True, column_config=plots.number_formats(table))
