"""Plotly figures of the explorer, built from the data module's frames (no queries here).

Every axis carries its unit and every uncertainty the database holds is drawn: error
bars on line plots and Arrhenius points, 95% intervals at 300 K, ± in hover texts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots
from pymatgen.core import Structure

from frontend.space import Coordinate

BOLTZMANN_EV_K = 8.617333262e-5
DIRECTIONS = ("total", "a", "b", "c", "ab", "ac", "bc")
STATUS_COLOURS = {
    "done": "#2ca02c",
    "running": "#1f77b4",
    "pending": "#c7c7c7",
    "failed": "#d62728",
}
_DIRECTION_COLOURS = {
    "total": "#000000",
    "a": "#1f77b4",
    "b": "#ff7f0e",
    "c": "#2ca02c",
    "ab": "#d62728",
    "ac": "#9467bd",
    "bc": "#8c564b",
}


@dataclass(frozen=True)
class Quantity:
    """A mappable column: its label with unit, display scale, log colouring, uncertainty."""

    column: str
    label: str
    scale: float = 1.0
    log: bool = False
    error: str | None = None
    """Column of a symmetric standard error (same unit as ``column``)."""
    interval: tuple[str, str] | None = None
    """Columns of a 95% interval (low, high)."""


QUANTITIES = (
    Quantity("e_hull_ev_atom", "E_hull (meV/atom)", scale=1000.0),
    Quantity("energy_ev_atom", "E (eV/atom)"),
    Quantity("e_a_ev", "E_a (eV)", error="e_a_err_ev"),
    Quantity(
        "sigma_300k_ms_cm",
        "σ(300 K) (mS/cm)",
        log=True,
        interval=("sigma_300k_low_ms_cm", "sigma_300k_high_ms_cm"),
    ),
    Quantity(
        "d_300k_cm2_s",
        "D(300 K) (cm²/s)",
        log=True,
        interval=("d_300k_low_cm2_s", "d_300k_high_cm2_s"),
    ),
    Quantity("d_t_cm2_s", "D(T) (cm²/s)", log=True, error="d_t_err_cm2_s"),
    Quantity("a", "a (Å)"),
    Quantity("b", "b (Å)"),
    Quantity("c", "c (Å)"),
    Quantity("volume_per_atom", "V (Å³/atom)"),
    Quantity("density_g_cm3", "density (g/cm³)"),
    Quantity("neb_barrier_ev", "NEB barrier, 3D percolating (eV)"),
)


def format_value(value: float | None, scale: float = 1.0, error: float | None = None) -> str:
    """``value × scale`` to 4 significant digits, ``± error × scale`` when known, "–" if None."""
    if value is None or pd.isna(value):
        return "–"
    text = f"{value * scale:.4g}"
    if error is not None and pd.notna(error):
        text += f" ± {error * scale:.3g}"
    return text


def _value_texts(frame: pd.DataFrame, quantity: Quantity) -> list[str]:
    """Per row: the quantity with its error and 95% interval, or "no value"."""

    def values(name: str | None) -> list[Any]:
        return frame[name].tolist() if name in frame else [None] * len(frame)

    low, high = quantity.interval or (None, None)
    texts = []
    for value, error, lower, upper in zip(
        values(quantity.column), values(quantity.error), values(low), values(high), strict=True
    ):
        if value is None or pd.isna(value):
            texts.append("no value")
            continue
        text = format_value(value, quantity.scale, error)
        if lower is not None and pd.notna(lower):
            text += (
                f" [{format_value(lower, quantity.scale)}, "
                f"{format_value(upper, quantity.scale)}] 95%"
            )
        texts.append(text)
    return texts


def number_formats(frame: pd.DataFrame) -> dict[str, Any]:
    """Streamlit column formats: scientific notation for D (cm²/s) columns."""
    return {
        name: st.column_config.NumberColumn(format="%.3e")
        for name in frame.columns
        if str(name).endswith("_cm2_s")
    }


def hover_texts(frame: pd.DataFrame, quantity: Quantity, coordinates: Sequence[str]) -> list[str]:
    """Formula, the quantity with its uncertainty, E_hull, stability and coordinates per row
    (built column-wise: 10,000 rows take milliseconds)."""
    stable = {True: "yes", False: "no"}
    rows = zip(
        frame["formula"],
        _value_texts(frame, quantity),
        frame["e_hull_ev_atom"].tolist(),
        frame["is_stable"].tolist(),
        *(frame[key].tolist() for key in coordinates),
        strict=True,
    )
    return [
        "<br>".join(
            [
                f"<b>{formula}</b>",
                f"{quantity.label}: {value}",
                f"E_hull: {format_value(e_hull, 1000.0)} meV/atom",
                f"stable: {stable.get(is_stable, 'no hull yet')}",
                *(f"{key}: {format_value(x)}" for key, x in zip(coordinates, xs, strict=True)),
            ]
        )
        for formula, value, e_hull, is_stable, *xs in rows
    ]


def _colour_values(frame: pd.DataFrame, quantity: Quantity) -> tuple[pd.Series, str]:
    values = pd.to_numeric(frame[quantity.column], errors="coerce") * quantity.scale
    if quantity.log:
        return np.log10(values.where(values > 0)), f"log10 {quantity.label}"
    return values, quantity.label


def _stable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["is_stable"].eq(True)]


def _stable_trace(x: pd.Series, y: pd.Series, ids: pd.Series) -> go.Scatter:
    return go.Scatter(
        x=x,
        y=y,
        mode="markers",
        name="stable (on the hull)",
        marker={
            "symbol": "star",
            "size": 13,
            "color": "white",
            "line": {"color": "black", "width": 1},
        },
        customdata=ids,
        hoverinfo="skip",
    )


def line_map(frame: pd.DataFrame, coordinate: Coordinate, quantity: Quantity) -> go.Figure:
    """A one-parameter space: the quantity against the coordinate, with its uncertainty."""
    data = frame.sort_values(coordinate.key)
    x = data[coordinate.key]
    y = pd.to_numeric(data[quantity.column], errors="coerce") * quantity.scale
    error_y = None
    if quantity.error:
        error_y = {"type": "data", "array": data[quantity.error] * quantity.scale}
    elif quantity.interval:
        low, high = (data[c] * quantity.scale for c in quantity.interval)
        error_y = {"type": "data", "symmetric": False, "array": high - y, "arrayminus": y - low}
    figure = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="lines+markers",
            name=quantity.label,
            error_y=error_y,
            customdata=data["composition_id"],
            hovertext=hover_texts(data, quantity, [coordinate.key]),
            hoverinfo="text",
        )
    )
    stable = _stable(data)
    figure.add_trace(
        _stable_trace(
            stable[coordinate.key],
            pd.to_numeric(stable[quantity.column], errors="coerce") * quantity.scale,
            stable["composition_id"],
        )
    )
    figure.update_layout(xaxis_title=coordinate.label, yaxis_title=quantity.label)
    if quantity.log:
        figure.update_yaxes(type="log")
    return figure


def grid_map(frame: pd.DataFrame, x: Coordinate, y: Coordinate, quantity: Quantity) -> go.Figure:
    """A heatmap over two coordinates; hover and selection through a marker per composition."""
    colour, colour_label = _colour_values(frame, quantity)
    grid = frame.assign(_colour=colour).pivot_table(
        index=y.key, columns=x.key, values="_colour", aggfunc="min", dropna=False
    )
    figure = go.Figure(
        go.Heatmap(
            x=grid.columns,
            y=grid.index,
            z=grid.to_numpy(),
            colorscale="Viridis",
            colorbar={"title": {"text": colour_label, "side": "right"}},
            hoverinfo="skip",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=frame[x.key],
            y=frame[y.key],
            mode="markers",
            name="compositions",
            marker={"size": 22, "color": "rgba(0,0,0,0)"},
            customdata=frame["composition_id"],
            hovertext=hover_texts(frame, quantity, [x.key, y.key]),
            hoverinfo="text",
            showlegend=False,
        )
    )
    stable = _stable(frame)
    figure.add_trace(_stable_trace(stable[x.key], stable[y.key], stable["composition_id"]))
    figure.update_layout(
        xaxis_title=x.label, yaxis_title=y.label, legend={"orientation": "h", "y": -0.2}
    )
    return figure


def ternary_map(
    frame: pd.DataFrame, sublattice: str, species: Sequence[str], quantity: Quantity
) -> go.Figure:
    """A ternary plot of the three species fractions of ``sublattice``, coloured by quantity."""
    keys = [f"{sublattice}:{s}" for s in species]
    colour, colour_label = _colour_values(frame, quantity)
    stable = frame["is_stable"].eq(True)
    figure = go.Figure(
        go.Scatterternary(
            a=frame[keys[0]],
            b=frame[keys[1]],
            c=frame[keys[2]],
            mode="markers",
            name="compositions",
            marker={
                "size": 16,
                "color": colour,
                "colorscale": "Viridis",
                "colorbar": {"title": {"text": colour_label, "side": "right"}},
                "symbol": np.where(stable, "star", "circle"),
                "line": {"color": "black", "width": np.where(stable, 2, 0.5)},
            },
            customdata=frame["composition_id"],
            hovertext=hover_texts(frame, quantity, keys),
            hoverinfo="text",
        )
    )
    figure.update_layout(
        ternary={
            "aaxis": {"title": {"text": f"{species[0]} fraction"}},
            "baxis": {"title": {"text": f"{species[1]} fraction"}},
            "caxis": {"title": {"text": f"{species[2]} fraction"}},
        },
        title=f"{sublattice} sublattice (stars: stable)",
    )
    return figure


def progress_figure(counts: pd.DataFrame) -> go.Figure:
    """Jobs per stage (rows) stacked by status."""
    figure = go.Figure()
    for status, colour in STATUS_COLOURS.items():
        part = counts[counts["status"] == status]
        figure.add_trace(
            go.Bar(
                y=part["kind"],
                x=part["count"],
                name=status,
                orientation="h",
                marker_color=colour,
            )
        )
    figure.update_layout(
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        barmode="stack",
        xaxis_title="jobs",
        yaxis_title="stage",
        height=120 + 60 * counts["kind"].nunique(),
    )
    return figure


def direction_columns(direction: str) -> tuple[str, str]:
    """md_run columns of D and its error (cm^2/s) in ``direction`` ('total', 'a', ..., 'bc')."""
    if direction == "total":
        return "d_cm2_s", "d_err_cm2_s"
    return f"d_{direction}_cm2_s", f"d_{direction}_err_cm2_s"


def arrhenius_figure(
    runs: pd.DataFrame, fits: pd.DataFrame, directions: Sequence[str]
) -> go.Figure:
    """D against 1000/T (log scale) with error bars, the fits, and their 300 K extrapolation.

    ``runs``: md_run rows (stable ones are plotted); ``fits``: arrhenius rows of the same
    structure. Fits are drawn over their temperatures and dashed down to 300 K, where
    the total direction's 95% interval is shown.
    """
    figure = go.Figure()
    stable = runs[runs["stable"].astype(bool)]
    for direction in directions:
        value, error = direction_columns(direction)
        colour = _DIRECTION_COLOURS[direction]
        for source, group in stable.groupby("source"):
            points = group[group[value].notna()]
            if points.empty:
                continue
            figure.add_trace(
                go.Scatter(
                    x=1000.0 / points["temperature_k"],
                    y=points[value],
                    error_y={"type": "data", "array": points[error]},
                    mode="markers",
                    marker={"color": colour, "symbol": "circle" if source == "mlip" else "diamond"},
                    name=f"{direction} ({source})",
                    customdata=points["temperature_k"],
                    hovertemplate="T = %{customdata} K<br>D = %{y:.3g} cm²/s<extra></extra>",
                )
            )
        for _, fit in fits[fits["direction"] == direction].iterrows():
            temperatures = np.asarray(_temperatures(fit["temperatures_json"]))
            hot, cold = temperatures.max(), temperatures.min()
            error = f" ± {fit['e_a_err_ev']:.3f}" if pd.notna(fit["e_a_err_ev"]) else ""
            for t_range, dash, label in (
                (
                    np.linspace(cold, hot, 20),
                    "solid",
                    f"fit {direction}: E_a = {fit['e_a_ev']:.3f}{error} eV",
                ),
                (np.linspace(300.0, cold, 20), "dash", None),
            ):
                figure.add_trace(
                    go.Scatter(
                        x=1000.0 / t_range,
                        y=fit["d0_cm2_s"] * np.exp(-fit["e_a_ev"] / (BOLTZMANN_EV_K * t_range)),
                        mode="lines",
                        line={"color": colour, "dash": dash},
                        name=label or f"{direction} extrapolated",
                        showlegend=label is not None,
                        hoverinfo="skip",
                    )
                )
            if direction == "total" and pd.notna(fit["d_300k_low_cm2_s"]):
                d300 = fit["d_300k_cm2_s"]
                figure.add_trace(
                    go.Scatter(
                        x=[1000.0 / 300.0],
                        y=[d300],
                        error_y={
                            "type": "data",
                            "symmetric": False,
                            "array": [fit["d_300k_high_cm2_s"] - d300],
                            "arrayminus": [d300 - fit["d_300k_low_cm2_s"]],
                        },
                        mode="markers",
                        marker={"color": colour, "symbol": "square-open", "size": 10},
                        name="D(300 K), 95% interval",
                    )
                )
    figure.update_layout(xaxis_title="1000/T (1/K)", yaxis_title="D (cm²/s)")
    figure.update_yaxes(type="log", exponentformat="power")
    return figure


def _temperatures(temperatures_json: str) -> list[float]:
    return [float(t) for t in json.loads(temperatures_json)]


def msd_figure(arrays: Mapping[str, np.ndarray], title: str) -> go.Figure:
    """Every MSD curve of an analysis artifact against lag time, the fit window shaded."""
    figure = go.Figure()
    time_ps = arrays["time_ps"]
    for name in sorted(k for k in arrays if k.startswith("msd_") and k.endswith("_ang2")):
        figure.add_trace(go.Scatter(x=time_ps, y=arrays[name], mode="lines", name=name[4:-5]))
    window = arrays.get("fit_window_ps")
    if window is not None and np.all(np.isfinite(window)):
        figure.add_vrect(
            x0=float(window[0]),
            x1=float(window[1]),
            fillcolor="grey",
            opacity=0.2,
            line_width=0,
            annotation_text="fit window",
        )
    figure.update_layout(title=title, xaxis_title="lag time (ps)", yaxis_title="MSD (Å²)")
    return figure


def profile_keys(hop_index: int) -> tuple[str, str]:
    """Arrays of hop ``hop_index`` in a NEB profiles artifact: reaction coordinate (Å) and
    energy relative to the initial endpoint (eV)."""
    return f"hop{hop_index}_coordinate_ang", f"hop{hop_index}_energy_ev"


def neb_profile_figure(
    profiles: Mapping[str, np.ndarray], hops: pd.DataFrame, title: str
) -> go.Figure:
    """Energy against reaction coordinate, one line per hop of ``hops`` (neb_hop rows) whose
    profile is in ``profiles``; unconverged bands dashed and labelled in legend and hover."""
    figure = go.Figure()
    for hop in hops.itertuples(index=False):
        coordinate, energy = profile_keys(hop.hop_index)
        if coordinate not in profiles or energy not in profiles:
            continue
        converged = bool(hop.converged)
        label = (
            f"hop {hop.hop_index}: {hop.length_ang:.2f} Å, "
            f"{hop.forward_barrier_ev:.3f} / {hop.reverse_barrier_ev:.3f} eV"
            + ("" if converged else " (not converged)")
        )
        figure.add_trace(
            go.Scatter(
                x=profiles[coordinate],
                y=profiles[energy],
                mode="lines+markers",
                name=label,
                line={"dash": "solid" if converged else "dash"},
                hovertemplate=f"{label}<br>" + "s = %{x:.2f} Å<br>E = %{y:.3f} eV<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"{title} (barriers forward / reverse; dashed: band not converged)",
        xaxis_title="reaction coordinate (Å, path length of the band)",
        yaxis_title="E − E(initial) (eV)",
    )
    return figure


def running_coordination(r_ang: np.ndarray, g: np.ndarray, density_per_ang3: float) -> np.ndarray:
    """n(r) = ρ ∫₀^r g(r') 4π r'² dr': mean number of neighbours within r."""
    integrand = np.nan_to_num(g) * 4.0 * math.pi * r_ang**2
    steps = np.diff(r_ang) * (integrand[1:] + integrand[:-1]) / 2.0
    return density_per_ang3 * np.concatenate([[0.0], np.cumsum(steps)])


def rdf_figure(
    arrays: Mapping[str, np.ndarray], counts: Mapping[str, float], volume_ang3: float, title: str
) -> go.Figure:
    """Partial g(r) of every pair and, on the right axis, the running coordination of the
    second species around the first (``counts``: atoms of each element in the MD cell of
    ``volume_ang3``; like pairs use (N - 1)/V)."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    for key in sorted(k for k in arrays if k.startswith("rdf_") and k.endswith("_g")):
        pair = key[4:-2]
        center, neighbor = pair.split("_", 1)
        r_ang, g = arrays[f"rdf_{pair}_r_ang"], arrays[key]
        figure.add_trace(go.Scatter(x=r_ang, y=g, name=f"g {center}–{neighbor}"), secondary_y=False)
        if neighbor in counts:
            density = (counts[neighbor] - (center == neighbor)) / volume_ang3
            figure.add_trace(
                go.Scatter(
                    x=r_ang,
                    y=running_coordination(r_ang, g, density),
                    name=f"n {neighbor} around {center}",
                    line={"dash": "dot"},
                ),
                secondary_y=True,
            )
    figure.update_layout(title=title, xaxis_title="r (Å)")
    figure.update_yaxes(title_text="g(r)", secondary_y=False)
    figure.update_yaxes(title_text="coordination n(r)", secondary_y=True)
    return figure


def density_figure(arrays: Mapping[str, np.ndarray], max_points_per_axis: int = 32) -> go.Figure:
    """Isosurfaces of the mobile-ion probability density (Å⁻³) in the MD cell."""
    full = arrays["density_per_ang3"]
    stride = max(1, math.ceil(max(full.shape) / max_points_per_axis))
    values = full[::stride, ::stride, ::stride]
    axes = [np.arange(0, n, stride) / n for n in full.shape]
    fractional = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
    cartesian = fractional @ arrays["density_cell_ang"]
    positive = values[values > 0]
    low = float(np.quantile(positive, 0.8)) if positive.size else 0.0
    figure = go.Figure(
        go.Isosurface(
            x=cartesian[:, 0],
            y=cartesian[:, 1],
            z=cartesian[:, 2],
            value=values.ravel(),
            isomin=low,
            isomax=float(values.max()),
            surface_count=3,
            opacity=0.35,
            colorscale="Viridis",
            colorbar={"title": {"text": "density (Å⁻³)"}},
        )
    )
    figure.update_layout(
        scene={
            "xaxis_title": "x (Å)",
            "yaxis_title": "y (Å)",
            "zaxis_title": "z (Å)",
            "aspectmode": "data",
        },
        height=500,
    )
    return figure


def structure_figure(structure: Structure) -> go.Figure:
    """Atoms coloured by element inside the unit cell's edges."""
    figure = go.Figure()
    symbols = [site.specie.symbol for site in structure]
    coords = structure.cart_coords
    for element in sorted(set(symbols)):
        mask = np.array([s == element for s in symbols])
        figure.add_trace(
            go.Scatter3d(
                x=coords[mask, 0],
                y=coords[mask, 1],
                z=coords[mask, 2],
                mode="markers",
                name=element,
                marker={"size": 6},
            )
        )
    matrix = structure.lattice.matrix
    corners = [np.array([i, j, k]) for i in (0, 1) for j in (0, 1) for k in (0, 1)]
    lines: list[list[float | None]] = [[], [], []]
    for first in corners:
        for second in corners:
            if (second - first).sum() == 1 and np.abs(second - first).sum() == 1:
                for axis, (start, end) in enumerate(
                    zip(first @ matrix, second @ matrix, strict=True)
                ):
                    lines[axis].extend([float(start), float(end), None])
    figure.add_trace(
        go.Scatter3d(
            x=lines[0],
            y=lines[1],
            z=lines[2],
            mode="lines",
            line={"color": "grey"},
            name="cell",
            hoverinfo="skip",
        )
    )
    figure.update_layout(
        scene={
            "xaxis_title": "x (Å)",
            "yaxis_title": "y (Å)",
            "zaxis_title": "z (Å)",
            "aspectmode": "data",
        },
        height=500,
    )
    return figure
