"""Campaign files for screening tests: toy metallic campaigns on EMT, a tiny CHGNet one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CUAU_CAMPAIGN = """
name = "{name}"
parent = "Cu-fcc"
supercell = {supercell}
potential = "emt"
charge_balance = false

[sublattices.fcc]
replaces = "Cu"
species = ["Cu", "Au"]
step = {step}

[enumeration]
structures_per_composition = {orderings}
seed = 7
sqs_steps = {sqs_steps}

[relax]
fmax = {fmax}
max_steps = {max_steps}

[hull]
competing_phases = {competing}
"""

CampaignWriter = Callable[..., Path]


@pytest.fixture
def cuau_campaign(tmp_path: Path) -> CampaignWriter:
    """Write a Cu-Au fcc campaign on EMT; keyword arguments override its settings."""

    def write(**overrides: object) -> Path:
        settings: dict[str, object] = {
            "name": "cuau",
            "supercell": [1, 1, 1],
            "step": 0.25,
            "orderings": 1,
            "sqs_steps": 500,
            "fmax": 0.01,
            "max_steps": 500,
            "competing": [],
        }
        settings.update(overrides)
        settings["competing"] = "[" + ", ".join(f'"{p}"' for p in settings["competing"]) + "]"
        path = tmp_path / f"{settings['name']}.toml"
        path.write_text(CUAU_CAMPAIGN.format(**settings))
        return path

    return write


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Training and MD in the test process on one torch thread, as a farm worker runs (two
    threads on a shared 2-core machine cost several times the CPU)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _one_torch_thread_on_the_worker() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def farm_address() -> Iterator[str]:
    """A scheduler address for in-process campaign tests: one local cluster of two
    single-threaded workers (one torch thread each) shared by them all. Starting a cluster
    and importing the stages into its workers costs seconds, which every test paid."""
    from screening.clusters import ClusterSettings, make_cluster

    with make_cluster(ClusterSettings(workers=2, local_gpus=0)) as (client, _):
        client.run(_one_torch_thread_on_the_worker)
        yield client.scheduler.address
