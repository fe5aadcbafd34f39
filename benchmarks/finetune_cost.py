"""Fine-tuning wall time per epoch per 100 frames, CHGNet and MACE, on this machine.

Frames: rattled, strained Li3InCl6 cells (20 atoms) labelled with CHGNet 0.3.0 (energy,
forces, stress); only their number and size matter here. CHGNet: its trainer from the bundled
0.3.0 weights, default frozen layers. MACE: naive fine-tuning of a model with the MACE-MP-0
"small" architecture (128x0e, r_max 6 Å, 2 interactions, correlation 3), itself trained
one epoch from scratch first (no foundation download here). Each family is fine-tuned for 1
and for 1 + EXTRA epochs: the difference per extra epoch is the cost of an epoch, the rest
the fixed set-up (E0s, data loading, saving). One torch thread unless --threads.
Run: .venv/bin/python benchmarks/finetune_cost.py [--frames 100] [--extra 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from enumerate import prototypes
from screening.datasets import make_frame
from screening.finetune import FineTuneSettings, MACEArchitecture, finetune, train_mace
from screening.potentials import PotentialSpec, default_device, load_calculator
from screening.structures import to_atoms

MACE_MP_SMALL = MACEArchitecture(
    hidden_irreps="128x0e", r_max_ang=6.0, num_interactions=2, correlation=3, max_ell=3
)


def _frames(count: int, seed: int) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    calculator = load_calculator(PotentialSpec.parse("chgnet"), default_device())
    frames = []
    for _ in range(count):
        atoms = to_atoms(prototypes.build_prototype("Li3InCl6"))
        atoms.set_cell(atoms.cell * (1 + rng.uniform(-0.02, 0.02, 3)), scale_atoms=True)
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        atoms.calc = calculator
        energy, forces, stress = (
            atoms.get_potential_energy(),
            atoms.get_forces(),
            atoms.get_stress(),
        )
        frames.append(make_frame(atoms, energy, forces, stress, "benchmark", "chgnet"))
    return frames


def _timed(base: str, train, valid, epochs: int, workdir: Path) -> float:
    settings = FineTuneSettings(epochs=epochs, batch_size=8, seed=1)
    return finetune(base, train, valid, settings, workdir).wall_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100, help="training frames")
    parser.add_argument("--extra", type=int, default=2, help="epochs beyond the first")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    frames = _frames(args.frames + 10, seed=1)
    train, valid = frames[: args.frames], frames[args.frames :]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        mace_base = train_mace(
            MACE_MP_SMALL, train, valid, FineTuneSettings(epochs=1), root / "mace-base"
        ).model_path
        print(
            f"{'family':<7} {'frames':>6} {'1 epoch s':>10} {f'{1 + args.extra} epochs s':>11} "
            f"{'s/epoch/100 frames':>19} {'set-up s':>9}"
        )
        for family, base in (("chgnet", "chgnet"), ("mace", f"mace:{mace_base}")):
            one = _timed(base, train, valid, 1, root / f"{family}-1")
            more = _timed(base, train, valid, 1 + args.extra, root / f"{family}-more")
            per_epoch = (more - one) / args.extra
            print(
                f"{family:<7} {args.frames:>6} {one:>10.1f} {more:>11.1f} "
                f"{per_epoch * 100 / args.frames:>19.1f} {one - per_epoch:>9.1f}"
            )


if __name__ == "__main__":
    main()
