"""Dask's own cost per task, without a database: no-op and 1-atom EMT relax tasks through
``screening.farm.run_tasks`` on a LocalCluster of 2 workers, for two windows.

Run: .venv/bin/python benchmarks/dask_task_cost.py [--tasks 1000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

from screening.clusters import ClusterSettings, make_cluster
from screening.farm import Task, run_tasks, task_source
from screening.relax import RelaxSettings
from screening.stages.relax import run_relax
from screening.structures import structure_to_json


def noop(payload: dict[str, Any]) -> dict[str, Any]:
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    tasks = parser.parse_args().tasks
    fcc = Structure(Lattice(1.8 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])), ["Cu"], [[0] * 3])
    payload = {
        "params": RelaxSettings(fmax=5.0, max_steps=200, relax_cell=False).as_dict(),
        "structure_json": structure_to_json(fcc),
        "potential": "emt",
        "torch_threads": 1,
        "artifact_root": "unused",
    }
    with make_cluster(ClusterSettings(workers=2)) as (client, _):
        for function in (noop, run_relax):
            for window in (8, 64):
                started, sizes = time.perf_counter(), []
                source = task_source(Task(i, function, payload) for i in range(tasks))
                for batch in run_tasks(client, source, window):
                    sizes.append(len(batch))
                rate = tasks / (time.perf_counter() - started)
                print(
                    f"{function.__name__:<9} window {window:>2}: {rate:6.0f} tasks/s, "
                    f"mean batch {np.mean(sizes):.1f}"
                )


if __name__ == "__main__":
    main()
