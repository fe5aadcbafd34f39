"""A MACE model with the MACE-MP-0 "medium" architecture and random weights, for timing.

MACE-MP foundation weights cannot be downloaded on the benchmark machine; the cost of a
force call depends on the architecture and the cell, not on the weights' values, so this
stands in for ``mace-mp:medium`` in throughput benchmarks (never for physics).
Architecture (MACE-MP-0 medium): 128 channels, L_max 1 (128x0e + 128x1o), 2 interactions,
correlation order 3, max_ell 3, r_max 6 Å, 8 Bessel functions, 5-th order cutoff polynomial,
radial MLP [64, 64, 64], 89 elements.

Run: .venv/bin/python benchmarks/mace_medium_random.py OUT.model
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from mace.modules import ScaleShiftMACE, interaction_classes

ELEMENTS = list(range(1, 90))


def build() -> ScaleShiftMACE:
    from e3nn import o3  # after mace, which lets e3nn load its constants under torch >= 2.6

    torch.manual_seed(0)
    interaction = interaction_classes["RealAgnosticResidualInteractionBlock"]
    return ScaleShiftMACE(
        r_max=6.0,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=3,
        interaction_cls=interaction,
        interaction_cls_first=interaction,
        num_interactions=2,
        num_elements=len(ELEMENTS),
        hidden_irreps=o3.Irreps("128x0e + 128x1o"),
        MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=np.zeros(len(ELEMENTS)),
        avg_num_neighbors=61.0,
        atomic_numbers=ELEMENTS,
        correlation=3,
        gate=torch.nn.functional.silu,
        radial_MLP=[64, 64, 64],
        atomic_inter_scale=1.0,
        atomic_inter_shift=0.0,
    )


if __name__ == "__main__":
    torch.save(build().double(), sys.argv[1])
