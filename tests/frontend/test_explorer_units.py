"""The SQL guard and the composition-space coordinates, without a database."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from db.explorer_queries import UnsafeQueryError, check_select
from frontend import plots
from frontend.space import (
    Coordinate,
    composition_space,
    fixed_slice,
    parse_fractions,
    with_fractions,
)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1;",
        "  with t AS (SELECT 1 AS x) SELECT x FROM t",
        "SELECT 'DROP TABLE job; --' AS text, \"update\" FROM job -- INSERT",
        "SELECT /* DELETE */ formula FROM composition_summary WHERE formula LIKE '%In%'",
    ],
)
def test_check_select_accepts_single_selects(sql: str) -> None:
    assert check_select(sql) == sql.strip().rstrip(";").strip()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "no statement"),
        ("UPDATE job SET status = 'done'", "not UPDATE"),
        ("CREATE TABLE t (x INT)", "not CREATE"),
        ("PRAGMA journal_mode = DELETE", "not PRAGMA"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELECT * INTO copy FROM job", "INTO is not allowed"),
        ("WITH d AS (DELETE FROM job RETURNING id) SELECT * FROM d", "DELETE is not allowed"),
        ("SELECT 'unterminated", "unterminated"),
    ],
)
def test_check_select_refuses_the_rest(sql: str, message: str) -> None:
    with pytest.raises(UnsafeQueryError, match=message):
        check_select(sql)


def _parameters(**sublattices: dict[str, float]) -> str:
    return json.dumps(sublattices)


def test_composition_space_follows_the_spec_order() -> None:
    spec = json.dumps(
        {
            "sublattices": {
                "metal": {"species": ["In", "Y"]},
                "anion": {"species": ["Cl", "Br", "I"]},
                "li": {"species": ["Li"]},
            }
        }
    )
    parameters = [
        _parameters(metal={"In": x, "Y": 1 - x}, anion={"Cl": c, "Br": 1 - c}, li={"Li": 1.0})
        for x in (0.0, 1.0)
        for c in (0.5, 1.0)
    ] + [_parameters(metal={"In": 1.0, "Y": 0.0}, anion={"I": 1.0}, li={"Li": 1.0}), "{}"]
    fractions = parse_fractions(parameters)
    space = composition_space(fractions, spec)
    assert space.sublattices == (("metal", ("In", "Y")), ("anion", ("Cl", "Br", "I")))
    assert space.coordinates == [
        Coordinate("metal", "In"),
        Coordinate("anion", "Cl"),
        Coordinate("anion", "Br"),
    ]
    assert space.ternary_sublattices == ["anion"]

    frame = with_fractions(pd.DataFrame({"parameters": parameters}), space, fractions)
    assert frame["anion:I"].tolist() == [0, 0, 0, 0, 1.0, 0]
    assert frame["anion:Br"].tolist() == [0.5, 0, 0.5, 0, 0, 0]
    assert fixed_slice(frame, {"metal:In": 1.0}).index.tolist() == [2, 3, 4]


def _quantity(column: str) -> plots.Quantity:
    return next(q for q in plots.QUANTITIES if q.column == column)


def test_ternary_map_places_the_three_fractions_and_stars_the_stable() -> None:
    frame = pd.DataFrame(
        {
            "composition_id": [1, 2, 3],
            "formula": ["Li3InCl6", "Li3In(ClBr)3", "Li3InBr3I3"],
            "anion:Cl": [1.0, 0.5, 0.0],
            "anion:Br": [0.0, 0.5, 0.5],
            "anion:I": [0.0, 0.0, 0.5],
            "e_hull_ev_atom": [0.0, 0.012, 0.030],
            "is_stable": [True, False, False],
        }
    )
    figure = plots.ternary_map(frame, "anion", ("Cl", "Br", "I"), _quantity("e_hull_ev_atom"))
    (trace,) = figure.data
    assert (list(trace.a), list(trace.b), list(trace.c)) == (
        [1.0, 0.5, 0.0],
        [0.0, 0.5, 0.5],
        [0.0, 0.0, 0.5],
    )
    assert list(trace.marker.color) == pytest.approx([0.0, 12.0, 30.0])  # meV/atom
    assert list(trace.marker.symbol) == ["star", "circle", "circle"]
    assert list(trace.customdata) == [1, 2, 3]
    assert figure.layout.ternary.caxis.title.text == "I fraction"
    assert "E_hull (meV/atom): 12" in trace.hovertext[1]


def test_line_map_draws_symmetric_errors_and_95_percent_intervals() -> None:
    frame = pd.DataFrame(
        {
            "composition_id": [2, 1, 3],
            "formula": ["B", "A", "C"],
            "metal:In": [0.5, 0.0, 1.0],
            "e_a_ev": [0.35, 0.30, 0.40],
            "e_a_err_ev": [0.02, 0.01, None],
            "sigma_300k_ms_cm": [1.0, 2.0, None],
            "sigma_300k_low_ms_cm": [0.5, 1.5, None],
            "sigma_300k_high_ms_cm": [3.0, 2.5, None],
            "e_hull_ev_atom": [0.01, 0.0, 0.02],
            "is_stable": [False, True, False],
        }
    )
    coordinate = Coordinate("metal", "In")
    line, stable = plots.line_map(frame, coordinate, _quantity("e_a_ev")).data
    assert list(line.x) == [0.0, 0.5, 1.0]  # sorted along the coordinate
    assert list(line.y) == [0.30, 0.35, 0.40]
    assert list(line.error_y.array)[:2] == [0.01, 0.02]
    assert list(stable.x) == [0.0] and list(stable.customdata) == [1]
    figure = plots.line_map(frame, coordinate, _quantity("sigma_300k_ms_cm"))
    line = figure.data[0]
    assert list(line.error_y.array)[:2] == pytest.approx([0.5, 2.0])  # high - value
    assert list(line.error_y.arrayminus)[:2] == pytest.approx([0.5, 0.5])  # value - low
    assert figure.layout.yaxis.type == "log"
    assert figure.layout.xaxis.title.text == "In fraction on metal"
