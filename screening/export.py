"""Exports for pandas: composition_summary and per-structure results as CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from db import queries
from screening.errors import ScreeningError

FORMATS = ("csv", "parquet")


def export_campaign(engine: Engine, campaign: str, fmt: str, output: Path) -> list[Path]:
    """Write ``<campaign>_summary`` and ``<campaign>_structures`` files; return their paths."""
    if fmt not in FORMATS:
        raise ScreeningError(f"--format {fmt!r} is not supported: use csv or parquet")
    output.mkdir(parents=True, exist_ok=True)
    with engine.connect() as connection:
        tables = {
            "summary": pd.DataFrame(queries.composition_summary(connection, campaign)),
            "structures": pd.DataFrame(queries.structure_results(connection, campaign)).astype(
                {"composition_id": "Int64"}
            ),
        }
    if tables["summary"].empty:
        raise ScreeningError(f"campaign {campaign!r} has no compositions in this database")
    paths = []
    for label, frame in tables.items():
        path = output / f"{campaign}_{label}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        paths.append(path)
    return paths
