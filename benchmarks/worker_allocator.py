"""Worker speed under each memory allocator and thread setting: MD steps/s of a potential
on growing cells, each configuration in a fresh process (benchmarks/md_throughput.py).

Allocators: glibc with the farm's thresholds (what local workers get), and jemalloc and
tcmalloc through LD_PRELOAD where the libraries are installed (Debian: libjemalloc2,
libtcmalloc-minimal4). For MACE without downloadable weights, build a stand-in of the
MACE-MP medium architecture with benchmarks/mace_medium_random.py and pass mace:PATH.
Run: .venv/bin/python benchmarks/worker_allocator.py [--potential chgnet|mace:PATH] [--steps 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FARM_MALLOC = {"MALLOC_TRIM_THRESHOLD_": str(256 << 20), "MALLOC_MMAP_THRESHOLD_": str(256 << 20)}
PRELOADS = {
    "jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
}


def _allocators() -> dict[str, dict[str, str]]:
    found = {"glibc (farm thresholds)": FARM_MALLOC}
    for name, library in PRELOADS.items():
        if Path(library).exists():
            found[name] = {"LD_PRELOAD": library}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--potential", default="chgnet")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeat", action="append", default=None)
    parser.add_argument("--threads", type=int, action="append", default=None)
    args = parser.parse_args()
    repeats = args.repeat or ["2x2x2", "4x2x2"]
    for allocator, environ in _allocators().items():
        for threads in args.threads or [1]:
            print(f"## {allocator}, {threads} torch thread(s)", flush=True)
            command = [
                sys.executable,
                str(HERE / "md_throughput.py"),
                "--potential",
                args.potential,
                "--steps",
                str(args.steps),
                "--threads",
                str(threads),
            ]
            for repeat in repeats:
                command += ["--repeat", repeat]
            env = os.environ | {"OMP_NUM_THREADS": str(threads)} | environ
            subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
