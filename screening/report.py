"""The result tables a campaign run ends with: composition summary, NEB barriers, MD runs
and Arrhenius fits.

Transport numbers from runs shorter than ``SHORT_RUN_PS`` are labelled as demo-length
estimates: their errors are large and the fit window starts early.
"""

from __future__ import annotations

import json
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from db.models import DIRECTIONS

SHORT_RUN_PS = 20.0  # ps of production below which transport numbers are only a demo


def print_results(console: Console, url: str, name: str) -> None:
    """Print the campaign's composition summary and, when it has MD, its transport tables."""
    from db import queries
    from db.engine import make_engine

    engine = make_engine(url)
    try:
        console.print(_summary_table(name, queries.composition_summary(engine, name)))
        with engine.connect() as connection:
            runs = queries.md_runs(connection, name)
            fits = queries.transport_results(connection, name)
            by_direction = queries.transport_results(connection, name, DIRECTIONS)
            bands = queries.neb_runs(connection, name)
    finally:
        engine.dispose()
    if bands:
        console.print(_neb_table(bands))
    if not runs:
        return
    run_ps = max(row["production_ps"] for row in runs)
    console.print(_md_table(runs))
    if fits:
        console.print(_transport_table(fits, run_ps))
        for note in unresolved_notes(fits):
            console.print(note, highlight=False)
        if by_direction:
            console.print(_direction_table(by_direction))
    else:
        fitted = {row["temperature_k"] for row in runs if row["stable"] and row["diffusive"]}
        console.print(
            f"No Arrhenius fit: {len(fitted)} of {len({row['temperature_k'] for row in runs})} "
            "temperatures reached a stable, diffusive regime (a fit needs two, an error bar "
            "three). Longer runs (more steps) or more atoms lower the noise that keeps the "
            "MSD from settling."
        )
    if run_ps < SHORT_RUN_PS:
        console.print(
            f"[bold]DEMO-LENGTH ESTIMATE[/bold]: MD runs of {run_ps:g} ps in a "
            f"{max(row['n_atoms'] for row in runs)}-atom cell. E_a and σ(300 K) carry large "
            "uncertainties and are not results to publish; production runs are tens to "
            "hundreds of ps (docs/campaign.md, \\[md])."
        )


def unresolved_notes(fits: list[dict[str, Any]]) -> list[str]:
    """A warning for every Arrhenius fit whose E_a error is at least |E_a|: even the sign of
    the slope is unknown, so the extrapolation to 300 K says nothing."""
    return [
        f"{row['formula']} (structure {row['structure_id']}): E_a is not resolved, its error "
        f"{row['e_a_err_ev']:.2g} eV is at least its size {abs(row['e_a_ev']):.2g} eV, so D and "
        "σ at 300 K are not known even in order of magnitude (see their interval). More steps "
        "per run or a wider range of temperatures resolve it."
        for row in fits
        if row["e_a_err_ev"] is not None and row["e_a_err_ev"] >= abs(row["e_a_ev"])
    ]


def _table(*columns: str, title: str, caption: str) -> Table:
    table = Table(
        *columns,
        title=title,
        caption=caption,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in table.columns[:-1]:
        column.no_wrap = True
    return table


def _summary_table(name: str, rows: list[dict[str, Any]]) -> Table:
    table = _table(
        *("formula", "n", "E", "E_hull", "stable", "a", "b", "c", "β", "V"),
        title=f"campaign {name}: composition_summary",
        caption="E eV/atom (lowest), E_hull meV/atom, a b c Å, β degrees, V Å³/atom",
    )
    for row in rows:
        e_hull = row["e_hull_ev_atom"]
        table.add_row(
            row["formula"],
            str(row["n_structures"]),
            _fmt(row["energy_ev_atom"], "{:.3f}"),
            _fmt(None if e_hull is None else 1000 * e_hull, "{:.1f}"),
            {True: "yes", False: "no", None: "-"}[row["is_stable"]],
            *(_fmt(row[key], "{:.2f}") for key in ("a", "b", "c")),
            _fmt(row["beta"], "{:.1f}"),
            _fmt(row["volume_per_atom"], "{:.2f}"),
        )
    return table


def _md_table(rows: list[dict[str, Any]]) -> Table:
    table = _table(
        *("formula", "id", "T", "ps", "atoms", "D", "window", "H_R", "verdict"),
        title="MD runs (tracer D of the mobile ion)",
        caption="id structure, T K, ps of production, D cm²/s ± max(He et al. 2018, block) "
        "error, fit window ps, H_R Haven ratio",
    )
    for row in rows:
        window = (
            "-"
            if row["fit_start_ps"] is None
            else f"{row['fit_start_ps']:.2g}-{row['fit_end_ps']:.2g}"
        )
        table.add_row(
            row["formula"],
            str(row["structure_id"]),
            f"{row['temperature_k']:g}",
            f"{row['production_ps']:g}",
            str(row["n_atoms"]),
            _with_error(row["d_cm2_s"], row["d_err_cm2_s"], "{:.2e}"),
            window,
            _fmt(row["haven_ratio"], "{:.2f}"),
            _verdict(row),
        )
    return table


def _verdict(row: dict[str, Any]) -> str:
    if not row["stable"]:
        return f"unstable at step {row['catastrophic_step']}: {row['instability_reason']}"
    return "fitted" if row["diffusive"] else "not diffusive"


def _transport_table(rows: list[dict[str, Any]], run_ps: float) -> Table:
    short = " - DEMO-LENGTH ESTIMATE" if run_ps < SHORT_RUN_PS else ""
    table = _table(
        *("formula", "structure", "T (K)", "E_a (eV)", "D(300 K)", "σ(300 K)", "σ 95% interval"),
        title=f"ion transport from MD (Arrhenius fit of the total D){short}",
        caption="D cm²/s, σ mS/cm (Nernst-Einstein); extrapolated from the temperatures fitted",
    )
    for row in rows:
        low, high = row["sigma_300k_low_ms_cm"], row["sigma_300k_high_ms_cm"]
        table.add_row(
            row["formula"],
            str(row["structure_id"]),
            ",".join(f"{t:g}" for t in json.loads(row["temperatures_json"])),
            _with_error(row["e_a_ev"], row["e_a_err_ev"], "{:.3f}"),
            f"{row['d_300k_cm2_s']:.2e}",
            _fmt(row["sigma_300k_ms_cm"], "{:.3g}"),
            "-" if low is None else f"[{low:.2g}, {high:.2g}]",
        )
    return table


def _direction_table(rows: list[dict[str, Any]]) -> Table:
    table = _table(
        *("formula", "structure", "direction", "E_a (eV)", "σ(300 K)"),
        title="Arrhenius fit per lattice direction",
        caption="a, b, c: D along the lattice vector; ab, ac, bc: in the lattice plane; "
        "σ mS/cm (Nernst-Einstein)",
    )
    for row in rows:
        table.add_row(
            row["formula"],
            str(row["structure_id"]),
            row["direction"],
            _with_error(row["e_a_ev"], row["e_a_err_ev"], "{:.3f}"),
            _fmt(row["sigma_300k_ms_cm"], "{:.3g}"),
        )
    return table


def _neb_table(rows: list[dict[str, Any]]) -> Table:
    table = _table(
        *("formula", "structure", "space group", "hops", "converged", "1D", "2D", "3D"),
        title="migration barriers from NEB (percolating barrier per dimension)",
        caption="barriers eV: the smallest E whose hops connect the mobile ions into an "
        "infinite network in 1, 2, 3 dimensions; hops computed / symmetry classes",
    )
    for row in rows:
        hops = f"{row['n_hops_computed']}/{row['n_symmetry_classes']}"
        if row["grouping"] == "environment":
            hops += " (grouped by environment)"
        table.add_row(
            row["formula"],
            str(row["structure_id"]),
            row["spacegroup"],
            hops,
            str(row["n_converged"]),
            *(_fmt(row[f"barrier_{n}d_ev"], "{:.3f}") for n in (1, 2, 3)),
        )
    return table


def _with_error(value: float | None, error: float | None, pattern: str) -> str:
    if value is None:
        return "-"
    return pattern.format(value) + ("" if error is None else " ± " + pattern.format(error))


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)
