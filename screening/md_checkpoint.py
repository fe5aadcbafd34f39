"""MD checkpoints: everything a killed run needs to continue bit for bit, in one ``.npz``.

A checkpoint lives at a plain path (one per job, not content-addressed) and is replaced
atomically: written beside it, then renamed over it, so a kill mid-write leaves the previous
checkpoint intact. It is only trusted when its fingerprint (settings and starting cell) and
atom count match the run that finds it; anything else is ignored and later overwritten.
Arrays only, no pickles: the random generator's state travels as JSON.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from screening.atomic_file import remove_with_partials, replace_atomically

log = logging.getLogger(__name__)

_THERMOSTAT = "thermostat."
_RECORDER = "recorder."


@dataclass(frozen=True)
class MDCheckpoint:
    """The state after ``step`` integrator steps."""

    fingerprint: str
    step: int
    positions_ang: np.ndarray
    momenta: np.ndarray  # ASE units
    rng_state: dict[str, Any]  # numpy bit_generator.state
    wall_time_s: float  # spent on the steps so far
    thermostat: dict[str, np.ndarray]  # the integrator's own variables (none for Langevin)
    recorder: dict[str, np.ndarray]  # the observer's frames and running averages


class CheckpointFile:
    """One run's checkpoint file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def save(self, checkpoint: MDCheckpoint) -> None:
        """Write atomically (:func:`screening.atomic_file.replace_atomically`)."""
        arrays: dict[str, np.ndarray] = {
            "fingerprint": np.array(checkpoint.fingerprint),
            "step": np.array(checkpoint.step),
            "positions_ang": checkpoint.positions_ang,
            "momenta": checkpoint.momenta,
            "rng_state": np.array(json.dumps(checkpoint.rng_state)),
            "wall_time_s": np.array(checkpoint.wall_time_s),
        }
        arrays |= {_THERMOSTAT + k: np.asarray(v) for k, v in checkpoint.thermostat.items()}
        arrays |= {_RECORDER + k: np.asarray(v) for k, v in checkpoint.recorder.items()}
        replace_atomically(self.path, lambda handle: np.savez(handle, **arrays))

    def load(self, fingerprint: str, n_atoms: int) -> MDCheckpoint | None:
        """The checkpoint, if there is one and it belongs to this run; otherwise None."""
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            log.warning("ignoring unreadable MD checkpoint %s: %s", self.path, err)
            return None
        found = str(arrays.get("fingerprint", ""))
        positions = arrays.get("positions_ang", np.zeros((0, 3)))
        if found != fingerprint or positions.shape != (n_atoms, 3):
            log.warning(
                "ignoring MD checkpoint %s: it belongs to another run (fingerprint %s, %d atoms)",
                self.path,
                found[:12],
                len(positions),
            )
            return None
        return MDCheckpoint(
            fingerprint=found,
            step=int(arrays["step"]),
            positions_ang=positions,
            momenta=arrays["momenta"],
            rng_state=json.loads(str(arrays["rng_state"])),
            wall_time_s=float(arrays["wall_time_s"]),
            thermostat=_prefixed(arrays, _THERMOSTAT),
            recorder=_prefixed(arrays, _RECORDER),
        )

    def delete(self) -> None:
        """The checkpoint, and any partial write a kill left beside it."""
        remove_with_partials(self.path)


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
