"""CHGNet relaxation speed of an 80-atom Li3InCl6 cell under the malloc settings a worker
may inherit: glibc defaults, Dask's nanny default (MALLOC_TRIM_THRESHOLD_=65536) and the
farm's setting (trim and mmap thresholds at 256 MiB). One torch thread, 30 FIRE steps.

Run: .venv/bin/python benchmarks/relax_malloc.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SETTINGS = {
    "glibc default": {},
    "dask nanny default": {"MALLOC_TRIM_THRESHOLD_": "65536"},
    "screening farm": {
        "MALLOC_TRIM_THRESHOLD_": str(256 << 20),
        "MALLOC_MMAP_THRESHOLD_": str(256 << 20),
    },
}

CHILD = """
import json, resource, time, torch
torch.set_num_threads(1)
from enumerate import prototypes
from screening.potentials import PotentialSpec, load_calculator
from screening.relax import RelaxSettings, relax_structure
cell = prototypes.build_prototype("Li3InCl6").make_supercell([2, 1, 2], in_place=False)
calculator = load_calculator(PotentialSpec.parse("chgnet"), "cpu")
start = time.perf_counter()
result = relax_structure(cell, calculator, RelaxSettings(max_steps=30))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": time.perf_counter() - start, "steps": result.steps,
                  "user_s": usage.ru_utime, "sys_s": usage.ru_stime}))
"""


def main() -> None:
    print(f"{'malloc setting':<20} {'wall s':>7} {'s/step':>7} {'sys s':>6}")
    for label, extra in SETTINGS.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        env.update(extra, OMP_NUM_THREADS="1")
        out = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        per_step = row["wall_s"] / row["steps"]
        print(f"{label:<20} {row['wall_s']:7.1f} {per_step:7.3f} {row['sys_s']:6.1f}")


if __name__ == "__main__":
    main()
