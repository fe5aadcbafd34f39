"""A private random generator for mchammer, so that a seeded Monte Carlo run reproduces.

mchammer (icet's Monte Carlo, behind SQS annealing and canonical sampling) seeds and draws
from the process-wide :mod:`random` module. In a Dask worker other threads draw from it too,
so the same seed gave different SQS structures on the farm than in the driver. Inside
:func:`private_random`, mchammer's modules see their own :class:`random.Random` instead; a
lock lets one such run at a time in a process (workers run one task per thread).
"""

from __future__ import annotations

import importlib
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_MCHAMMER_MODULES = (
    "mchammer.configuration_manager",
    "mchammer.ensembles.base_ensemble",
    "mchammer.ensembles.hybrid_ensemble",
    "mchammer.ensembles.target_cluster_vector_annealing",
    "mchammer.ensembles.wang_landau_ensemble",
)
_LOCK = threading.Lock()


@contextmanager
def private_random() -> Iterator[None]:
    """Give mchammer a generator of its own (it seeds it itself) for the ``with`` block."""
    modules = [importlib.import_module(name) for name in _MCHAMMER_MODULES]
    with _LOCK:
        saved = [module.random for module in modules]
        generator = random.Random()
        for module in modules:
            module.random = generator
        try:
            yield
        finally:
            for module, original in zip(modules, saved, strict=True):
                module.random = original
