"""The SQL guard and the composition-space coordinates, without a database."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from db.explorer_queries import UnsafeQueryError, check_select
from frontend.space import Coordinate, composition_space, fixed_slice, with_fractions


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
    space = composition_space(parameters, spec)
    assert space.sublattices == (("metal", ("In", "Y")), ("anion", ("Cl", "Br", "I")))
    assert space.coordinates == [
        Coordinate("metal", "In"),
        Coordinate("anion", "Cl"),
        Coordinate("anion", "Br"),
    ]
    assert space.ternary_sublattices == ["anion"]

    frame = with_fractions(pd.DataFrame({"parameters": parameters}), space)
    assert frame["anion:I"].tolist() == [0, 0, 0, 0, 1.0, 0]
    assert frame["anion:Br"].tolist() == [0.5, 0, 0.5, 0, 0, 0]
    assert fixed_slice(frame, {"metal:In": 1.0}).index.tolist() == [2, 3, 4]
