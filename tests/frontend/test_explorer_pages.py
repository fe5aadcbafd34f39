"""Every explorer page through AppTest against the seeded database (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from explorer_fixtures import APP, MISSING_PROFILES_SHA, NEB_HOPS, Seeded, open_page
from streamlit.testing.v1 import AppTest


def select(app: AppTest, label: str, option: object) -> AppTest:
    box = next(b for b in app.selectbox if b.label == label)
    return box.select(option).run()


def _decoded(value: Any) -> Any:
    """Plotly's JSON with its base64 typed arrays ({"dtype", "bdata"}) as plain lists."""
    if isinstance(value, dict) and set(value) >= {"dtype", "bdata"}:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", len(array))).split(",")]
        return array.reshape(shape).tolist()
    if isinstance(value, dict):
        return {key: _decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    return value


def chart(app: AppTest, index: int = 0) -> dict[str, Any]:
    """The ``index``-th Plotly figure of the page as plain JSON data."""
    return _decoded(json.loads(app.get("plotly_chart")[index].proto.spec))


def texts(app: AppTest, kind: str) -> str:
    return " ".join(str(e.value) for e in getattr(app, kind))


def test_campaigns_page(seeded: Seeded) -> None:
    app = open_page("campaigns")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {
        "done jobs": "12",
        "running jobs": "1",
        "pending jobs": "1",
        "failed jobs": "1",
    }
    overview = app.dataframe[0].value
    assert list(overview["campaign"]) == ["liybc", "nomd"]
    assert overview.set_index("campaign").loc["liybc", "jobs"] == 15
    stages = app.dataframe[1].value
    assert stages.loc["md", "running"] == 1 and stages.loc["relax", "failed"] == 1
    failures = app.dataframe[2].value
    assert failures["formula"].tolist() == ["Li3YBr6"]
    assert "forces exploded" in failures["error"].iloc[0]

    app.sidebar.selectbox[0].select_index(1).run()  # campaign nomd
    assert [m.value for m in app.metric] == ["1", "0", "0", "0"]
    assert "No failed jobs" in texts(app, "success")


def test_composition_map_page(seeded: Seeded) -> None:
    app = open_page("composition_map")
    heatmap, markers, stable = chart(app)["data"]
    assert heatmap["type"] == "heatmap"
    assert heatmap["x"] == [0.0, 0.5, 1.0] and heatmap["y"] == [0.0, 0.5, 1.0]  # In_x, Br_y
    assert heatmap["z"][2][2] == pytest.approx(12.3)  # Li3InBr6, meV/atom
    assert heatmap["z"][0][0] == pytest.approx(0.0)  # Li3YCl6
    assert np.isnan(heatmap["z"][2][0])  # Li3YBr6: its relaxation failed
    hover = {text.split("<br>")[0]: text for text in markers["hovertext"]}
    assert "E_hull (meV/atom): 12.3" in hover["<b>Li3InBr6</b>"]
    assert "no value" in hover["<b>Li3YBr6</b>"]
    assert sorted(zip(stable["x"], stable["y"], strict=True)) == [(0.0, 0.0), (1.0, 0.0)]
    assert "4 of 5 compositions" in texts(app, "caption")

    select(app, "Colour by", next(o for o in app.selectbox[0].options if o.startswith("E_a")))
    hover = chart(app)["data"][1]["hovertext"]
    assert any("E_a (eV): 0.321 ± 0.012" in text for text in hover)
    select(app, "Colour by", next(o for o in app.selectbox[0].options if o.startswith("σ")))
    assert any("0.456 [0.3, 0.7] 95%" in text for text in chart(app)["data"][1]["hovertext"])
    select(app, "Colour by", next(o for o in app.selectbox[0].options if o.startswith("D(T)")))
    select(app, "Temperature (K)", "600 K")
    assert any("D(T) (cm²/s): 2e-06 ± 2e-07" in t for t in chart(app)["data"][1]["hovertext"])
    select(app, "Colour by", "NEB barrier, 3D percolating (eV)")
    heatmap, markers, _stable = chart(app)["data"]
    assert heatmap["z"][0][2] == pytest.approx(0.42)  # Li3InCl6: s1's 3D barrier
    assert heatmap["z"][2][2] == pytest.approx(0.55)  # Li3InBr6
    assert np.isnan(heatmap["z"][0][0])  # Li3YCl6: no NEB
    assert "2 of 5 compositions" in texts(app, "caption")

    select(app, "Composition", "Li3InCl6")
    app.button[0].click().run()
    assert not app.exception
    assert app.title[0].value == "Li3InCl6"


def test_composition_page(seeded: Seeded) -> None:
    app = open_page("composition")
    select(app, "Composition", "Li3InCl6")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["E (eV/atom)"] == "-3.8"
    assert metrics["E_a (eV)"] == "0.321 ± 0.012"
    assert metrics["σ(300 K) (mS/cm)"] == "0.456"
    assert metrics["NEB barrier, 3D (eV)"] == "0.42"

    structures = app.dataframe[0].value
    assert structures["energy_ev_atom"].tolist() == [-3.8, -3.75]
    assert structures["a"].tolist() == [12.9, 12.95]
    assert structures["e_hull_ev_atom"].tolist() == [0.0, 0.05]
    labels = [b.proto.label for b in app.get("download_button")]
    assert {"Structures (CSV)", "Structure (CIF)", "MD runs and fits (CSV)"} <= set(labels)

    figures = [chart(app, i) for i in range(len(app.get("plotly_chart")))]
    points, fit, _extrapolated, at_300k = figures[1]["data"]
    assert points["y"] == [1e-6, 2e-6, 4e-6]  # the unstable 900 K run is not plotted
    assert points["error_y"]["array"] == pytest.approx([1e-7, 2e-7, 4e-7])
    assert points["x"] == pytest.approx([2.0, 1000 / 600, 1000 / 700])
    assert fit["name"] == "fit total: E_a = 0.321 ± 0.012 eV"
    assert at_300k["y"] == [1.23e-8] and at_300k["error_y"]["arrayminus"] == [
        pytest.approx(0.43e-8)
    ]
    assert figures[1]["layout"]["xaxis"]["title"]["text"] == "1000/T (1/K)"

    runs = app.dataframe[2].value
    assert runs["temperature_k"].tolist() == [500.0, 600.0, 700.0, 900.0]
    assert runs["instability_reason"].iloc[3] == "min distance 0.61 Å < 0.8 Å"
    msd = figures[2]
    assert {trace["name"] for trace in msd["data"]} == {"total", "ab"}
    assert msd["layout"]["shapes"][0]["x0"] == 2.0  # the fit window, shaded
    rdf = figures[3]["data"]
    assert [t["name"] for t in rdf] == ["g Cl–Li", "n Li around Cl"]
    assert figures[4]["data"][0]["type"] == "isosurface"

    app.multiselect[0].set_value(["total", "ab"]).run()
    names = [t["name"] for t in chart(app, 1)["data"]]
    assert "fit ab: E_a = 0.298 ± 0.012 eV" in names and "a (mlip)" not in names


def test_composition_page_neb(seeded: Seeded) -> None:
    app = open_page("composition")
    select(app, "Composition", "Li3InCl6")
    metrics = {m.label: m.value for m in app.metric}
    assert [metrics[f"{d}D barrier (eV)"] for d in (1, 2, 3)] == ["0.25", "0.31", "0.42"]
    runs = next(d.value for d in app.dataframe if "barrier_3d_ev" in d.value.columns)
    assert runs["barrier_3d_ev"].tolist() == [0.42] and runs["n_converged"].tolist() == [2]
    hops = next(d.value for d in app.dataframe if "forward_barrier_ev" in d.value.columns)
    assert hops["length_ang"].tolist() == [2.95, 3.40, 3.90]
    assert hops["forward_barrier_ev"].tolist() == [0.25, 0.42, 0.71]
    assert hops["reverse_barrier_ev"].tolist() == [0.25, 0.38, 0.71]
    assert hops["multiplicity"].tolist() == [2, 4, 2]
    assert hops["converged"].tolist() == [True, True, False]
    assert hops["force_calls"].tolist() == [840, 1320, 2400]
    assert "NEB hops (CSV)" in [b.proto.label for b in app.get("download_button")]

    profiles = next(
        f
        for f in (chart(app, i) for i in range(len(app.get("plotly_chart"))))
        if "reaction coordinate (Å" in json.dumps(f["layout"].get("xaxis"), ensure_ascii=False)
    )
    assert profiles["layout"]["yaxis"]["title"]["text"] == "E − E(initial) (eV)"
    lines = profiles["data"]
    assert [line["name"] for line in lines] == [
        "hop 0: 2.95 Å, 0.250 / 0.250 eV",
        "hop 1: 3.40 Å, 0.420 / 0.380 eV",
        "hop 2: 3.90 Å, 0.710 / 0.710 eV (not converged)",
    ]
    assert [line["line"]["dash"] for line in lines] == ["solid", "solid", "dash"]
    for line, (_, _, forward, reverse, *_) in zip(lines, NEB_HOPS, strict=True):
        assert max(line["y"]) == pytest.approx(forward)
        assert max(line["y"]) - line["y"][-1] == pytest.approx(reverse)

    select(app, "Composition", "Li3InBr6")
    assert not app.exception
    warning = texts(app, "warning")
    assert f"artifact {MISSING_PROFILES_SHA} is missing" in warning
    hops = next(d.value for d in app.dataframe if "forward_barrier_ev" in d.value.columns)
    assert hops["forward_barrier_ev"].tolist() == [0.25]
    assert {m.label: m.value for m in app.metric}["3D barrier (eV)"] == "0.55"

    select(app, "Composition", "Li3YBr6")  # its only relaxation failed
    assert not app.exception and app.title[0].value == "Li3YBr6"
    assert "No NEB yet for this composition" in texts(app, "info")


def test_composition_page_without_md(seeded: Seeded) -> None:
    app = open_page("composition")
    app.sidebar.selectbox[0].select_index(1).run()  # campaign nomd
    assert app.title[0].value == "Li3ScCl6"
    assert app.dataframe[0].value["energy_ev_atom"].tolist() == [-4.2]
    info = texts(app, "info")
    assert "No MD yet for this composition" in info
    assert "No MD analysis" in info
    assert "No NEB yet for this composition" in info
    assert {m.label: m.value for m in app.metric}["E_hull (meV/atom)"] == "–"


def test_table_page_filters_in_sql(seeded: Seeded) -> None:
    app = open_page("table")
    assert sorted(app.dataframe[0].value["formula"]) == sorted(
        ["Li3InCl6", "Li3YCl6", "Li3InBr6", "Li6YIn(BrCl)6", "Li3YBr6"]
    )
    app.number_input[0].set_value(5.0)  # E_hull <= 5 meV/atom
    app.button[0].click().run()
    assert sorted(app.dataframe[0].value["formula"]) == ["Li3InCl6", "Li3YCl6", "Li6YIn(BrCl)6"]
    app.checkbox[0].check()  # stable only
    app.button[0].click().run()
    assert sorted(app.dataframe[0].value["formula"]) == ["Li3InCl6", "Li3YCl6"]
    app.number_input[1].set_value(0.1)  # sigma(300 K) >= 0.1 mS/cm
    app.button[0].click().run()
    table = app.dataframe[0].value
    assert table["formula"].tolist() == ["Li3InCl6"]
    assert table["sigma_300k_ms_cm"].tolist() == [0.456]
    assert [b.proto.label for b in app.get("download_button")] == ["CSV", "Parquet"]

    app = open_page("table")
    next(n for n in app.number_input if n.label.startswith("NEB barrier")).set_value(0.5)
    app.button[0].click().run()
    assert app.dataframe[0].value["neb_barrier_ev"].tolist() == [0.42]  # Li3InBr6's 0.55 out


def test_sql_page_runs_selects_and_refuses_the_rest(seeded: Seeded) -> None:
    app = open_page("sql")
    app.button[0].click().run()  # the first example
    rows = app.dataframe[0].value
    assert set(rows["formula"]) == {"Li3InCl6", "Li3YCl6", "Li3InBr6", "Li6YIn(BrCl)6"}

    app.text_area[0].set_value("SELECT formula FROM composition ORDER BY formula")
    app.number_input[0].set_value(2)
    app.button[0].click().run()
    assert app.dataframe[0].value["formula"].tolist() == ["Li3InBr6", "Li3InCl6"]
    assert "capped at 2; more exist" in texts(app, "caption")

    for sql, reason in (
        ("DELETE FROM job", "only SELECT statements"),
        ("INSERT INTO potential (name) VALUES ('x')", "only SELECT statements"),
        ("DROP TABLE job", "only SELECT statements"),
        ("SELECT 1; DELETE FROM job", "only one statement"),
        ("WITH gone AS (DELETE FROM job RETURNING id) SELECT * FROM gone", "DELETE is not allowed"),
    ):
        app.text_area[0].set_value(sql)
        app.button[0].click().run()
        assert f"Refused: {reason}" in texts(app, "error"), sql
    app.text_area[0].set_value("SELECT no_such_column FROM job")
    app.button[0].click().run()
    assert "The database refused the query" in texts(app, "error")


def test_potentials_page(seeded: Seeded) -> None:
    app = open_page("potentials")
    table = app.dataframe[0].value.set_index("name")
    assert table.loc["chgnet-ft-lic", "parent"] == "chgnet"
    assert table.loc["chgnet", "campaigns"] == 2 and table.loc["chgnet", "relaxations"] == 7
    assert table.loc["chgnet", "md_runs"] == 4 and table.loc["chgnet", "neb_runs"] == 2
    errors = app.dataframe[1].value.set_index("name")
    assert list(errors.index) == ["chgnet-ft-lic"]  # the base model has no test errors
    assert errors.loc["chgnet-ft-lic", "dataset"] == "lic-dft"
    assert errors.loc["chgnet-ft-lic", "test_energy_rmse_mev_atom"] == 0.3
    assert errors.loc["chgnet-ft-lic", "test_force_rmse_mev_ang"] == 14.0


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2", "sqlite:///{missing}"],
)
def test_unreachable_database_gives_one_message(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCREENING_DATABASE_URL", url.format(missing=tmp_path / "none.db"))
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert len(app.error) == 1 and app.error[0].value.startswith("Cannot open the database.")
    assert not (tmp_path / "none.db").exists()
