"""SQL: ready examples and the user's own single SELECT, read-only, capped and timed out."""

import pandas as pd
import streamlit as st

from db.errors import DatabaseError
from db.explorer_queries import UnsafeQueryError
from frontend import data

EXAMPLES = {
    "Stable candidates with σ(300 K), best first": (
        "SELECT campaign, formula, e_hull_ev_atom * 1000 AS e_hull_mev_atom,\n"
        "       e_a_ev, e_a_err_ev, sigma_300k_ms_cm\n"
        "FROM composition_summary\n"
        "WHERE e_hull_ev_atom < 0.025\n"
        "ORDER BY sigma_300k_ms_cm DESC"
    ),
    "Jobs per stage and status": (
        "SELECT kind, status, COUNT(*) AS jobs\nFROM job\nGROUP BY kind, status\n"
        "ORDER BY kind, status"
    ),
    "Failed jobs and their reasons": (
        "SELECT j.id, j.kind, s.formula, j.attempts, j.error\n"
        "FROM job AS j JOIN structure AS s ON s.id = j.structure_id\n"
        "WHERE j.status = 'failed'\nORDER BY j.finished_at DESC"
    ),
    "Diffusivity of every MD run": (
        "SELECT s.formula, m.temperature_k, m.d_cm2_s, m.d_err_cm2_s, m.stable,\n"
        "       m.instability_reason\n"
        "FROM md_run AS m JOIN structure AS s ON s.id = m.structure_id\n"
        "ORDER BY s.formula, m.temperature_k"
    ),
    "Arrhenius fits by direction": (
        "SELECT s.formula, a.direction, a.e_a_ev, a.e_a_err_ev, a.d_300k_cm2_s,\n"
        "       a.sigma_300k_ms_cm, a.sigma_300k_low_ms_cm, a.sigma_300k_high_ms_cm\n"
        "FROM arrhenius AS a JOIN structure AS s ON s.id = a.structure_id\n"
        "ORDER BY s.formula, a.direction"
    ),
    "NEB barriers of every hop": (
        "SELECT s.formula, n.structure_id, h.hop_index, h.length_ang, h.forward_barrier_ev,\n"
        "       h.reverse_barrier_ev, h.multiplicity, h.converged, n.barrier_3d_ev\n"
        "FROM neb_hop AS h JOIN neb_run AS n ON n.id = h.neb_run_id\n"
        "JOIN structure AS s ON s.id = n.structure_id\n"
        "ORDER BY s.formula, n.structure_id, h.hop_index"
    ),
    "Unconverged relaxations": (
        "SELECT s.formula, r.steps, r.max_force_ev_ang, r.energy_ev_atom\n"
        "FROM relaxation AS r JOIN structure AS s ON s.id = r.structure_id\n"
        "WHERE NOT r.converged"
    ),
}

url = data.current_url()
st.title("SQL")
st.caption(
    "One SELECT at a time, in a read-only transaction, cancelled after 5 s. Tables: campaign, "
    "composition, structure, campaign_structure, job, relaxation, hull, md_run, arrhenius, "
    "neb_run, neb_hop, artifact, potential; view: composition_summary."
)
example = st.selectbox("Example", list(EXAMPLES))
sql = st.text_area("Query", EXAMPLES[example], height=160)
row_cap = st.number_input("Row cap", min_value=1, max_value=10_000, value=1000)
if st.button("Run", type="primary"):
    try:
        result = data.run_select(url, sql, int(row_cap))
    except UnsafeQueryError as err:
        st.error(f"Refused: {err}.")
    except DatabaseError as err:
        st.error(f"The database refused the query: {err}")
    else:
        st.caption(
            f"{len(result.rows)} rows in {result.elapsed_s:.2f} s"
            + (f" (capped at {row_cap}; more exist)" if result.truncated else "")
        )
        st.dataframe(pd.DataFrame(result.rows, columns=result.columns), hide_index=True)
