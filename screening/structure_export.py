"""Write a campaign's candidate structures as CIF, POSCAR or extended XYZ, with a manifest.

One file per candidate, named ``<formula>_<structure id>[_relaxed].<ext>``: the ideal
(enumerated) structure, or with ``relaxed`` its lowest-energy relaxed form under the
campaign's potential where one exists. Extended XYZ files carry the structure's origin
(method, seed, SQS objective, parent cluster expansion, ...) in their info line; the
manifest CSV lists every file with its composition and origin.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ase.io import write as ase_write
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db import queries
from enumerate.space import CompositionPoint
from screening.errors import ScreeningError
from screening.structures import structure_from_json, to_atoms

EXTENSIONS = {"cif": "cif", "poscar": "vasp", "extxyz": "extxyz"}
MANIFEST_COLUMNS = (
    "file",
    "structure_id",
    "composition_id",
    "formula",
    "composition",
    "n_atoms",
    "relaxed",
    "energy_ev_atom",
    "origin_kind",
    "method",
    "seed",
    "objective",
    "origin_json",
)


@dataclass(frozen=True)
class StructureExport:
    """What was written: the manifest, the number of files and how many are relaxed."""

    manifest: Path
    n_structures: int
    n_relaxed: int


def export_structures(
    engine: Engine, campaign: str, fmt: str, output: Path, relaxed: bool = False
) -> StructureExport:
    """Write every candidate of ``campaign`` into ``output`` and ``<campaign>_manifest.csv``.

    Raises:
        ScreeningError: an unknown format, or a campaign without candidates.
        DatabaseError: no campaign of that name.
    """
    if fmt not in EXTENSIONS:
        raise ScreeningError(f"--format {fmt!r} is not supported: use cif, poscar or extxyz")
    with Session(engine) as session:
        campaign_id = queries.campaign_id(session, campaign)
        output.mkdir(parents=True, exist_ok=True)
        manifest = output / f"{campaign}_manifest.csv"
        n_structures = n_relaxed = 0
        with manifest.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, MANIFEST_COLUMNS)
            writer.writeheader()
            for row in queries.candidate_structures(session, campaign_id):
                entry = _write_structure(row, fmt, output, relaxed)
                writer.writerow(entry)
                n_structures += 1
                n_relaxed += entry["relaxed"]
    if not n_structures:
        manifest.unlink()
        raise ScreeningError(f"campaign {campaign!r} has no candidate structures: enumerate it")
    return StructureExport(manifest, n_structures, n_relaxed)


def _write_structure(row: dict[str, Any], fmt: str, output: Path, relaxed: bool) -> dict[str, Any]:
    """Write one candidate's file; return its manifest row."""
    use_relaxed = relaxed and row["relaxed_structure_json"] is not None
    structure = structure_from_json(
        row["relaxed_structure_json"] if use_relaxed else row["structure_json"]
    )
    origin = json.loads(row["origin_json"])
    formula = re.sub(r"[^A-Za-z0-9.]+", "-", row["formula"])
    suffix = "_relaxed" if use_relaxed else ""
    path = output / f"{formula}_{row['structure_id']}{suffix}.{EXTENSIONS[fmt]}"
    entry = {
        "file": path.name,
        "structure_id": row["structure_id"],
        "composition_id": row["composition_id"],
        "formula": row["formula"],
        "composition": CompositionPoint.from_json(row["fractions_json"]).label(),
        "n_atoms": len(structure),
        "relaxed": use_relaxed,
        "energy_ev_atom": row["energy_ev_atom"],
        "origin_kind": row["origin_kind"],
        "method": origin.get("method"),
        "seed": origin.get("seed"),
        "objective": origin.get("objective"),
        "origin_json": row["origin_json"],
    }
    if fmt == "extxyz":
        atoms = to_atoms(structure)
        atoms.info.update(_info(entry, origin))
        ase_write(path, atoms, format="extxyz")
    else:
        structure.to(filename=str(path), fmt=fmt)
    return entry


def _info(entry: dict[str, Any], origin: dict[str, Any]) -> dict[str, Any]:
    """Extended XYZ info: the manifest's identifiers, then every origin entry that is a
    scalar or a list of numbers (nested values are in the manifest's origin_json)."""
    info = {
        key: entry[key]
        for key in ("structure_id", "composition_id", "formula", "composition", "relaxed")
    }
    if entry["relaxed"]:
        info["energy_ev_atom"] = entry["energy_ev_atom"]
    for key, value in origin.items():
        numbers = isinstance(value, list) and value and all(_is_number(x) for x in value)
        if key not in info and (isinstance(value, str | bool) or _is_number(value) or numbers):
            info[key] = value
    return info


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
