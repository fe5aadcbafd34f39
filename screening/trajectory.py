"""An MD trajectory as plain arrays with units in the names, and its .npz form.

Positions are Cartesian (Å) exactly as the integrator produced them: ASE does not wrap
atoms back into the cell, but trajectories read from files often are wrapped, so the
analysis always unwraps frame to frame by minimum image.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Trajectory:
    """Frames of one run: positions (n_frames, n_atoms, 3) Å, cells (n_frames, 3, 3) Å,
    times (n_frames,) ps, and per frame the potential energy (eV) and temperature (K)."""

    symbols: tuple[str, ...]
    positions_ang: np.ndarray
    cells_ang: np.ndarray
    times_ps: np.ndarray
    energies_ev: np.ndarray
    temperatures_k: np.ndarray

    def __post_init__(self) -> None:
        n_frames, n_atoms = self.positions_ang.shape[:2]
        if self.positions_ang.shape != (n_frames, n_atoms, 3) or n_atoms != len(self.symbols):
            raise ValueError("positions must be (n_frames, n_atoms, 3) with one symbol per atom")
        if self.cells_ang.shape != (n_frames, 3, 3):
            raise ValueError("cells must be (n_frames, 3, 3)")
        for name in ("times_ps", "energies_ev", "temperatures_k"):
            if getattr(self, name).shape != (n_frames,):
                raise ValueError(f"{name} must have one value per frame")

    @property
    def n_frames(self) -> int:
        return self.positions_ang.shape[0]

    def species_mask(self, species: str) -> np.ndarray:
        return np.array([s == species for s in self.symbols])

    def slice(self, start: int, stop: int | None = None) -> Trajectory:
        """Frames [start, stop)."""
        window = slice(start, stop)
        return Trajectory(
            self.symbols,
            self.positions_ang[window],
            self.cells_ang[window],
            self.times_ps[window],
            self.energies_ev[window],
            self.temperatures_k[window],
        )

    def to_npz_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            symbols=np.array(self.symbols),
            positions_ang=self.positions_ang,
            cells_ang=self.cells_ang,
            times_ps=self.times_ps,
            energies_ev=self.energies_ev,
            temperatures_k=self.temperatures_k,
        )
        return buffer.getvalue()

    @classmethod
    def from_npz_bytes(cls, data: bytes) -> Trajectory:
        with np.load(io.BytesIO(data)) as arrays:
            return cls(
                symbols=tuple(str(s) for s in arrays["symbols"]),
                positions_ang=arrays["positions_ang"],
                cells_ang=arrays["cells_ang"],
                times_ps=arrays["times_ps"],
                energies_ev=arrays["energies_ev"],
                temperatures_k=arrays["temperatures_k"],
            )
