"""NEB checkpoints: the bands a job has finished, so that a retry (after a kill, a batch
queue's walltime) computes only the hops still missing.

The band is the unit: a job runs one band per hop class, each minutes to hours, and after
each one the finished bands are written (JSON, replaced atomically). A band interrupted
mid-optimisation starts again from its interpolation. The file is only trusted when its
fingerprint (the job's parameters and input structure) matches the run that finds it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from screening.atomic_file import remove_with_partials, replace_atomically
from screening.neb import NEBResult

log = logging.getLogger(__name__)

_ARRAYS = ("reaction_coordinate_ang", "energy_profile_ev")


def neb_fingerprint(params: dict[str, Any], structure_json: str) -> str:
    """What a checkpoint must belong to: the job's parameters and its input structure."""
    text = json.dumps(params, sort_keys=True) + structure_json
    return hashlib.sha256(text.encode()).hexdigest()


class NebCheckpointFile:
    """One job's finished bands, in hop order."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint

    def save(self, bands: list[NEBResult]) -> None:
        document = {"fingerprint": self.fingerprint, "bands": [_plain(b) for b in bands]}
        replace_atomically(self.path, lambda handle: handle.write(json.dumps(document).encode()))

    def load(self) -> list[NEBResult]:
        """The finished bands, if the file exists and belongs to this run; else none."""
        if not self.path.exists():
            return []
        try:
            document = json.loads(self.path.read_text())
            if document["fingerprint"] != self.fingerprint:
                log.warning("ignoring NEB checkpoint %s: it belongs to another run", self.path)
                return []
            return [_band(plain) for plain in document["bands"]]
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("ignoring unreadable NEB checkpoint %s: %s", self.path, err)
            return []

    def delete(self) -> None:
        remove_with_partials(self.path)


def _plain(band: NEBResult) -> dict[str, Any]:
    plain = dataclasses.asdict(band)
    for name in _ARRAYS:
        plain[name] = np.asarray(plain[name]).tolist()
    plain["supercell"] = list(band.supercell)
    return plain


def _band(plain: dict[str, Any]) -> NEBResult:
    arrays = {name: np.asarray(plain[name], dtype=float) for name in _ARRAYS}
    return NEBResult(**(plain | arrays | {"supercell": tuple(plain["supercell"])}))
