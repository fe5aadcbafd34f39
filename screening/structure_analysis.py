"""Structure of an MD trajectory: partial RDFs and coordination, the self part of the van Hove
function, per-atom displacements, and the mobile-ion probability density as a cube file.

Units: Å, ps, Å⁻³. Interatomic distances are periodic minimum-image distances in each frame's
own cell (triclinic cells included). Displacements in time (van Hove, per-atom MSD) are taken
from the positions as given, which must be *unwrapped* (continuous in time, as ASE's integrators
write them); for a trajectory read from wrapped files, pass unwrapped positions through the
``positions_ang`` argument (e.g. from ``screening.diffusion.unwrap``; this module does not
unwrap).

Minimum image without an image search: fractional differences are wrapped into [-1/2, 1/2).
The Cartesian vector's component along the normal of lattice plane (a_j, a_k) is s_i·w_i, with
w_i the perpendicular width, so any image closer than w_i/2 has |s_i| < 1/2 and is the wrapped
one. With r ≤ min(w)/2 (enforced here) the wrapped vector is therefore exact for every pair
that counts, in any cell shape.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

import numpy as np
from ase.data import atomic_numbers
from ase.units import Bohr
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from screening.errors import ScreeningError
from screening.trajectory import Trajectory

logger = logging.getLogger(__name__)

_MAX_PAIR_VECTORS_PER_CHUNK = 500_000


class StructureAnalysisError(ScreeningError, ValueError):
    """The request does not fit the trajectory: unknown species, bad lag, cutoff too long."""


@dataclass(frozen=True)
class RDF:
    """Partial g_AB(r) with A = ``center``, B = ``neighbor``.

    ``r_ang`` are bin centres (Å). ``g`` tends to 1 for an ideal gas at the species' densities
    (like pairs use (N_A - 1)/V, so a finite ideal gas gives exactly 1). ``n_cumulative`` is the
    mean number of B atoms within r of an A atom, at the bin centres (counts of whole bins below
    plus half of the bin itself). ``r_max_ang`` is the range used; ``r_max_clipped`` says the
    requested ``r_max_requested_ang`` exceeded half the narrowest perpendicular cell width.
    """

    center: str
    neighbor: str
    r_ang: np.ndarray
    g: np.ndarray
    n_cumulative: np.ndarray
    bin_ang: float
    r_max_ang: float
    r_max_requested_ang: float
    r_max_clipped: bool
    n_center_atoms: int
    n_neighbor_atoms: int
    n_frames: int

    def swapped(self) -> RDF:
        """The same g with center and neighbor exchanged (n scaled by N_A / N_B)."""
        if self.center == self.neighbor:
            return self
        return dataclasses.replace(
            self,
            center=self.neighbor,
            neighbor=self.center,
            n_cumulative=self.n_cumulative * self.n_center_atoms / self.n_neighbor_atoms,
            n_center_atoms=self.n_neighbor_atoms,
            n_neighbor_atoms=self.n_center_atoms,
        )


@dataclass(frozen=True)
class Coordination:
    """First shell of an RDF: peak position (Å) and smoothed height, cutoff at the first
    minimum after it (Å), and the mean number of neighbours within the cutoff."""

    center: str
    neighbor: str
    first_peak_ang: float
    first_peak_g: float
    cutoff_ang: float
    coordination_number: float


@dataclass(frozen=True)
class AtomMSD:
    """Per-atom displacement statistics of one species (atoms in trajectory order).

    ``squared_displacement_ang2``: |r_i(t_last) - r_i(t_0)|² (Å²) over ``run_ps``;
    ``msd_half_run_ang2``: |r_i(t + τ) - r_i(t)|² averaged over all origins t, τ = ``lag_ps``
    (half the run, rounded down to whole frames).
    """

    species: str
    atom_indices: np.ndarray
    squared_displacement_ang2: np.ndarray
    msd_half_run_ang2: np.ndarray
    run_ps: float
    lag_ps: float


@dataclass(frozen=True)
class Density:
    """Probability density of one species (Å⁻³) on a periodic grid over ``cell_ang``.

    Grid point (i, j, k) sits at fractional (i/n1, j/n2, k/n3) (the cube-file convention) and
    counts positions within half a voxel of it. Normalised so that
    ``values_per_ang3.sum() * voxel_volume_ang3 == n_ions`` (ions of the species per frame).
    """

    species: str
    values_per_ang3: np.ndarray
    cell_ang: np.ndarray
    n_frames: int
    n_ions: int

    @property
    def voxel_volume_ang3(self) -> float:
        return float(abs(np.linalg.det(self.cell_ang)) / self.values_per_ang3.size)

    def to_cube(
        self, path: str | PathLike[str], symbols: Sequence[str], positions_ang: np.ndarray
    ) -> None:
        """Write a Gaussian cube file with these atoms (Cartesian Å) in the header."""
        write_cube(
            path,
            self.values_per_ang3,
            self.cell_ang,
            symbols,
            positions_ang,
            comment=f"{self.species} probability density (1/Angstrom^3), {self.n_frames} frames",
        )

    def to_npz_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            species=np.array(self.species),
            values_per_ang3=self.values_per_ang3,
            cell_ang=self.cell_ang,
            n_frames=np.array(self.n_frames),
            n_ions=np.array(self.n_ions),
        )
        return buffer.getvalue()

    @classmethod
    def from_npz_bytes(cls, data: bytes) -> Density:
        with np.load(io.BytesIO(data)) as arrays:
            return cls(
                species=str(arrays["species"]),
                values_per_ang3=arrays["values_per_ang3"],
                cell_ang=arrays["cell_ang"],
                n_frames=int(arrays["n_frames"]),
                n_ions=int(arrays["n_ions"]),
            )


def perpendicular_widths_ang(cells_ang: np.ndarray) -> np.ndarray:
    """Distances (Å) between opposite faces of each cell: (..., 3) for cells (..., 3, 3)."""
    cells = np.asarray(cells_ang, dtype=float)
    normals = np.cross(cells[..., [1, 2, 0], :], cells[..., [2, 0, 1], :])
    volumes = np.abs(np.linalg.det(cells))
    return volumes[..., None] / np.linalg.norm(normals, axis=-1)


def partial_rdfs(
    trajectory: Trajectory,
    *,
    r_max_ang: float = 8.0,
    bin_ang: float = 0.02,
    frame_stride: int = 1,
) -> dict[tuple[str, str], RDF]:
    """Partial RDFs for every unordered species pair, keyed (A, B) with A <= B alphabetically.

    r_max_ang: range (Å), clipped to half the narrowest perpendicular width of any frame's cell
    (recorded on each RDF); bin_ang: bin width (Å); frame_stride: use every n-th frame.
    Raises StructureAnalysisError for non-positive sizes or a range shorter than one bin.
    """
    _require_positive(r_max_ang=r_max_ang, bin_ang=bin_ang, frame_stride=frame_stride)
    positions = trajectory.positions_ang[::frame_stride]
    cells = trajectory.cells_ang[::frame_stride]
    n_frames, n_atoms = positions.shape[:2]
    half_width = float(perpendicular_widths_ang(cells).min()) / 2.0
    clipped = r_max_ang > half_width
    n_bins = math.floor(min(r_max_ang, half_width) / bin_ang + 1e-9)
    if n_bins < 1:
        raise StructureAnalysisError(f"r_max {half_width:.3f} Å is shorter than one bin")
    r_max_used = n_bins * bin_ang
    if clipped:
        logger.info("r_max %.2f Å clipped to %.2f Å (half the cell width)", r_max_ang, r_max_used)

    species = sorted(set(trajectory.symbols))
    n_species = len(species)
    codes = np.array([species.index(s) for s in trajectory.symbols])
    first, second = np.triu_indices(n_atoms, k=1)
    pair_type = np.minimum(codes[first], codes[second]) * n_species + np.maximum(
        codes[first], codes[second]
    )
    # Labels pair_type * (n_bins + 1) + bin; bin n_bins collects everything beyond r_max.
    counts = np.zeros(n_species * n_species * (n_bins + 1))
    fractional = _fractional(positions, cells).transpose(0, 2, 1)  # (frames, 3, atoms)
    cells_t = cells.transpose(0, 2, 1)
    chunk = max(1, _MAX_PAIR_VECTORS_PER_CHUNK // max(first.size, 1))
    for start in range(0, n_frames, chunk):
        block = fractional[start : start + chunk]
        delta = np.take(block, second, axis=2) - np.take(block, first, axis=2)
        delta -= np.rint(delta)
        vectors = cells_t[start : start + chunk] @ delta  # Cartesian (frames, 3, pairs)
        distances = np.sqrt(np.einsum("fkp,fkp->fp", vectors, vectors))
        bins = np.minimum((distances / bin_ang).astype(np.int64), n_bins)
        labels = pair_type * (n_bins + 1) + bins
        counts += np.bincount(labels.ravel(), minlength=counts.size)
    counts = counts.reshape(n_species, n_species, n_bins + 1)[..., :n_bins]

    edges = np.arange(n_bins + 1) * bin_ang
    shells = 4.0 / 3.0 * np.pi * np.diff(edges**3)
    inverse_volume_sum = float(np.sum(1.0 / np.abs(np.linalg.det(cells))))
    totals = np.bincount(codes, minlength=n_species)
    rdfs: dict[tuple[str, str], RDF] = {}
    for a in range(n_species):
        for b in range(a, n_species):
            n_a, n_b = int(totals[a]), int(totals[b])
            like = a == b
            neighbours = counts[a, b] * (2.0 if like else 1.0)  # B around every A, all frames
            ideal = n_a * (n_b - like) * inverse_volume_sum * shells
            with np.errstate(invalid="ignore", divide="ignore"):
                g = np.where(ideal > 0, neighbours / ideal, np.nan)
            per_center = neighbours / (n_a * n_frames)
            rdfs[(species[a], species[b])] = RDF(
                center=species[a],
                neighbor=species[b],
                r_ang=edges[:-1] + bin_ang / 2.0,
                g=g,
                n_cumulative=np.cumsum(per_center) - per_center / 2.0,
                bin_ang=bin_ang,
                r_max_ang=r_max_used,
                r_max_requested_ang=r_max_ang,
                r_max_clipped=clipped,
                n_center_atoms=n_a,
                n_neighbor_atoms=n_b,
                n_frames=n_frames,
            )
    return rdfs


def coordination_numbers(rdf: RDF, *, smoothing_ang: float = 0.05) -> Coordination:
    """First-shell coordination from an RDF.

    g is smoothed with a Gaussian of σ = smoothing_ang (Å) to keep noise from making false
    extrema. The first peak is the first local maximum with g >= 1 and prominence >= 0.2
    (else the global maximum); the cutoff is the first local minimum after it whose
    prominence is at least 5% of that peak (the middle of a flat minimum, e.g. the empty gap
    between crystal shells). The coordination number is ``n_cumulative`` at the cutoff.
    Raises StructureAnalysisError when g has no peak or no minimum within r_max.
    """
    if not np.any(np.isfinite(rdf.g)) or np.nanmax(rdf.g) <= 0:
        raise StructureAnalysisError(f"g_{rdf.center}{rdf.neighbor} has no pairs within r_max")
    smooth = gaussian_filter1d(np.nan_to_num(rdf.g), smoothing_ang / rdf.bin_ang, mode="nearest")
    peaks = find_peaks(smooth, height=1.0, prominence=0.2)[0]
    peak = int(peaks[0]) if peaks.size else int(np.argmax(smooth))
    minima = find_peaks(-smooth, prominence=0.05 * smooth[peak])[0]
    minima = minima[minima > peak]
    if minima.size == 0:
        raise StructureAnalysisError(
            f"g_{rdf.center}{rdf.neighbor} has no minimum after its first peak "
            f"({rdf.r_ang[peak]:.2f} Å) within r_max {rdf.r_max_ang:.2f} Å"
        )
    cutoff = int(minima[0])
    return Coordination(
        center=rdf.center,
        neighbor=rdf.neighbor,
        first_peak_ang=float(rdf.r_ang[peak]),
        first_peak_g=float(smooth[peak]),
        cutoff_ang=float(rdf.r_ang[cutoff]),
        coordination_number=float(rdf.n_cumulative[cutoff]),
    )


def coordination_distribution(
    trajectory: Trajectory,
    center: str,
    neighbor: str,
    cutoff_ang: float,
    *,
    frame_stride: int = 1,
) -> dict[int, float]:
    """Fraction of (center atom, frame) samples with each number of ``neighbor`` atoms closer
    than cutoff_ang (Å), sorted by coordination number; the fractions sum to 1.

    Raises StructureAnalysisError for an unknown species or a cutoff above half the narrowest
    perpendicular cell width (where one neighbour could be counted twice).
    """
    _require_positive(cutoff_ang=cutoff_ang, frame_stride=frame_stride)
    center_idx = _species_indices(trajectory, center)
    neighbor_idx = _species_indices(trajectory, neighbor)
    positions = trajectory.positions_ang[::frame_stride]
    cells = trajectory.cells_ang[::frame_stride]
    half_width = float(perpendicular_widths_ang(cells).min()) / 2.0
    if cutoff_ang > half_width:
        raise StructureAnalysisError(
            f"cutoff {cutoff_ang:.2f} Å exceeds half the cell width ({half_width:.2f} Å)"
        )
    fractional = _fractional(positions, cells)
    same_atom = center_idx[:, None] == neighbor_idx[None, :]
    per_frame = center_idx.size * neighbor_idx.size
    chunk = max(1, _MAX_PAIR_VECTORS_PER_CHUNK // max(per_frame, 1))
    histogram = np.zeros(neighbor_idx.size + 1, dtype=np.int64)
    for start in range(0, positions.shape[0], chunk):
        block = fractional[start : start + chunk]
        delta = block[:, None, neighbor_idx] - block[:, center_idx, None]
        delta -= np.round(delta)
        vectors = np.einsum("fcnk,fkl->fcnl", delta, cells[start : start + chunk])
        within = (np.einsum("fcnl,fcnl->fcn", vectors, vectors) < cutoff_ang**2) & ~same_atom
        histogram += np.bincount(within.sum(axis=-1).ravel(), minlength=histogram.size)
    fractions = histogram / histogram.sum()
    return {int(k): float(fractions[k]) for k in np.flatnonzero(histogram)}


def van_hove_self(
    trajectory: Trajectory,
    species: str,
    *,
    lag_ps: float,
    r_max_ang: float = 10.0,
    bin_ang: float = 0.05,
    positions_ang: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Self part of the van Hove function of one species at a lag, in radial form.

    Returns (r_ang, P) with r_ang the bin centres (Å) and P(r) = 4πr² G_s(r, τ) (Å⁻¹), the
    probability density of a displacement of length r over τ, averaged over all time origins
    and atoms: ∫ P dr = 1 (over all r; the fraction beyond r_max_ang is missing from the sum).
    τ = lag_ps rounded to whole frames (times must be evenly spaced). Positions must be
    unwrapped; pass ``positions_ang`` (n_frames, n_atoms, 3) Å to override the trajectory's.
    Raises StructureAnalysisError for an unknown species or a lag outside the run.
    """
    _require_positive(r_max_ang=r_max_ang, bin_ang=bin_ang)
    atoms = _species_indices(trajectory, species)
    lag = _lag_frames(trajectory.times_ps, lag_ps)
    positions = _positions(trajectory, positions_ang)[:, atoms]
    lengths = np.linalg.norm(positions[lag:] - positions[:-lag], axis=-1).ravel()
    n_bins = math.floor(r_max_ang / bin_ang + 1e-9)
    bins = (lengths / bin_ang).astype(np.int64)
    counts = np.bincount(bins[bins < n_bins], minlength=n_bins)
    return (np.arange(n_bins) + 0.5) * bin_ang, counts / (lengths.size * bin_ang)


def atom_msd(
    trajectory: Trajectory, species: str, *, positions_ang: np.ndarray | None = None
) -> AtomMSD:
    """Per-atom squared displacement first→last frame and time-averaged MSD at half the run.

    Positions must be unwrapped; pass ``positions_ang`` (n_frames, n_atoms, 3) Å to override.
    Raises StructureAnalysisError for an unknown species or fewer than 3 frames.
    """
    atoms = _species_indices(trajectory, species)
    if trajectory.n_frames < 3:
        raise StructureAnalysisError("per-atom MSD needs at least 3 frames")
    positions = _positions(trajectory, positions_ang)[:, atoms]
    lag = (trajectory.n_frames - 1) // 2
    times = trajectory.times_ps
    return AtomMSD(
        species=species,
        atom_indices=atoms,
        squared_displacement_ang2=np.sum((positions[-1] - positions[0]) ** 2, axis=-1),
        msd_half_run_ang2=np.mean(np.sum((positions[lag:] - positions[:-lag]) ** 2, -1), 0),
        run_ps=float(times[-1] - times[0]),
        lag_ps=float(times[lag] - times[0]),
    )


def probability_density(
    trajectory: Trajectory, species: str, *, spacing_ang: float = 0.2, frame_stride: int = 1
) -> Density:
    """Probability density (Å⁻³) of one species on a grid over the mean cell.

    Grid shape is ceil(|a_i| / spacing_ang) along each lattice vector of the mean cell. Each
    position is taken in fractional coordinates of its own frame's cell, wrapped into the
    cell, and assigned to the nearest grid point. See ``Density`` for the normalisation.
    """
    _require_positive(spacing_ang=spacing_ang, frame_stride=frame_stride)
    atoms = _species_indices(trajectory, species)
    cells = trajectory.cells_ang[::frame_stride]
    fractional = _fractional(trajectory.positions_ang[::frame_stride][:, atoms], cells)
    cell = cells.mean(axis=0)
    shape = np.ceil(np.linalg.norm(cell, axis=1) / spacing_ang).astype(np.int64)
    voxel = np.floor(fractional * shape + 0.5).astype(np.int64) % shape
    flat = np.ravel_multi_index((voxel[..., 0], voxel[..., 1], voxel[..., 2]), tuple(shape))
    counts = np.bincount(flat.ravel(), minlength=int(np.prod(shape))).reshape(tuple(shape))
    voxel_volume = abs(np.linalg.det(cell)) / counts.size
    return Density(
        species=species,
        values_per_ang3=counts / (cells.shape[0] * voxel_volume),
        cell_ang=cell,
        n_frames=cells.shape[0],
        n_ions=int(atoms.size),
    )


def write_cube(
    path: str | PathLike[str],
    density: np.ndarray,
    cell: np.ndarray,
    symbols: Sequence[str],
    positions: np.ndarray,
    *,
    comment: str = "volumetric data",
) -> None:
    """Write a Gaussian cube file: grid (n1, n2, n3) over cell (Å), atoms at positions (Å).

    Header lengths are in Bohr (origin 0, voxel vectors cell[i] / n_i), values are written as
    given (one (i, j) row of n3 values at a time, six per line). VESTA, OVITO and ASE read it.
    """
    data = np.asarray(density, dtype=float)
    cell = np.asarray(cell, dtype=float)
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    if data.ndim != 3 or cell.shape != (3, 3) or len(symbols) != len(positions):
        raise StructureAnalysisError("cube needs a 3-d grid, a 3x3 cell and one symbol per atom")
    lines = [comment.replace("\n", " "), "OUTER LOOP: X, MIDDLE LOOP: Y, INNER LOOP: Z"]
    lines.append(f"{len(symbols):5d}{0.0:12.6f}{0.0:12.6f}{0.0:12.6f}")
    for n, vector in zip(data.shape, cell / np.array(data.shape)[:, None] / Bohr, strict=True):
        lines.append(f"{n:5d}" + "".join(f"{x:12.6f}" for x in vector))
    for symbol, position in zip(symbols, positions / Bohr, strict=True):
        number = atomic_numbers[symbol]
        lines.append(f"{number:5d}{float(number):12.6f}" + "".join(f"{x:12.6f}" for x in position))
    for row in data.reshape(-1, data.shape[2]):
        for start in range(0, row.size, 6):
            lines.append("".join(f"{x:13.5e}" for x in row[start : start + 6]))
    with open(path, "w", encoding="ascii") as handle:
        handle.write("\n".join(lines) + "\n")


def _fractional(positions_ang: np.ndarray, cells_ang: np.ndarray) -> np.ndarray:
    """Fractional coordinates (n_frames, n, 3) of Cartesian positions in each frame's cell."""
    return np.einsum("fni,fij->fnj", positions_ang, np.linalg.inv(cells_ang))


def _species_indices(trajectory: Trajectory, species: str) -> np.ndarray:
    atoms = np.flatnonzero(trajectory.species_mask(species))
    if atoms.size == 0:
        raise StructureAnalysisError(f"no {species} atoms in the trajectory")
    return atoms


def _positions(trajectory: Trajectory, positions_ang: np.ndarray | None) -> np.ndarray:
    if positions_ang is None:
        return trajectory.positions_ang
    if np.shape(positions_ang) != trajectory.positions_ang.shape:
        raise StructureAnalysisError("positions_ang must have the trajectory's shape")
    return np.asarray(positions_ang, dtype=float)


def _lag_frames(times_ps: np.ndarray, lag_ps: float) -> int:
    steps = np.diff(times_ps)
    if steps.size == 0 or not np.allclose(steps, steps[0], rtol=1e-3) or steps[0] <= 0:
        raise StructureAnalysisError("van Hove needs at least 2 evenly spaced frames")
    lag = round(lag_ps / float(steps[0]))
    if not 1 <= lag < times_ps.size:
        raise StructureAnalysisError(
            f"lag {lag_ps} ps is outside the run (frame interval {steps[0]:g} ps, "
            f"{times_ps.size} frames)"
        )
    return lag


def _require_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise StructureAnalysisError(f"{name} must be positive, got {value}")
