"""Structure identity and potential specs."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from screening.errors import PotentialError
from screening.potentials import PotentialSpec, validate_spec, weights_sha256
from screening.structures import content_hash, density_g_cm3


def _nacl() -> Structure:
    return Structure(Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_hash_ignores_site_order_and_periodic_images() -> None:
    reference = content_hash(_nacl())
    reordered = Structure(Lattice.cubic(5.6), ["Cl", "Na"], [[0.5, 0.5, 0.5], [0, 0, 0]])
    imaged = Structure(Lattice.cubic(5.6), ["Na", "Cl"], [[1.0, -1.0, 0], [0.5, 1.5, -0.5]])
    assert content_hash(reordered) == reference
    assert content_hash(imaged) == reference


def test_hash_sees_real_changes() -> None:
    reference = content_hash(_nacl())
    moved = Structure(Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.501]])
    swapped = Structure(Lattice.cubic(5.6), ["Na", "Br"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    strained = Structure(Lattice.cubic(5.61), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert len({reference, content_hash(moved), content_hash(swapped), content_hash(strained)}) == 4


def test_density_matches_pymatgen_with_partial_occupancy() -> None:
    ordered = Structure(Lattice.cubic(4.2), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    mixed = Structure(
        Lattice.hexagonal(6.4, 6.1), [{"In": 0.5, "Y": 0.5}, "Br"], [[0, 0, 0], [1 / 3, 2 / 3, 0.5]]
    )
    for structure in (ordered, mixed):
        assert density_g_cm3(structure) == pytest.approx(float(structure.density), rel=1e-6)


@pytest.mark.parametrize(
    ("text", "family", "argument", "name"),
    [
        ("chgnet", "chgnet", "", "chgnet-0.3.0"),
        ("chgnet:r2scan", "chgnet", "r2scan", "chgnet-r2scan"),
        ("emt", "emt", "", "emt"),
        ("mace-mp:medium", "mace-mp", "medium", "mace-mp-medium"),
        ("sevennet", "sevennet", "", "sevennet"),
    ],
)
def test_spec_parsing(text: str, family: str, argument: str, name: str) -> None:
    spec = PotentialSpec.parse(text)
    assert (spec.family, spec.argument, spec.name) == (family, argument, name)
    assert str(spec) == text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("m3gnet", "unknown potential spec 'm3gnet'"),
        ("mace", "needs an argument"),
        ("chgnet:9.9", "unknown CHGNet version '9.9'"),
        ("emt:fast", "emt takes no argument"),
    ],
)
def test_bad_specs_are_refused_with_a_reason(text: str, words: str) -> None:
    with pytest.raises(PotentialError, match=words):
        PotentialSpec.parse(text)


def test_mace_file_must_exist(tmp_path) -> None:
    with pytest.raises(PotentialError, match="MACE model file not found"):
        validate_spec(f"mace:{tmp_path / 'missing.model'}")


def test_weights_hash_is_the_file_hash_for_chgnet() -> None:
    import hashlib

    from screening.potentials import weights_path

    spec = PotentialSpec.parse("chgnet")
    expected = hashlib.sha256(weights_path(spec).read_bytes()).hexdigest()
    assert weights_sha256(spec) == expected
    assert weights_sha256(PotentialSpec.parse("chgnet:0.2.0")) != expected


def test_chgnet_without_stress_gives_the_same_energy_and_forces_and_stress_on_request() -> None:
    import numpy as np
    from ase.build import bulk

    from screening.potentials import load_calculator

    atoms = bulk("LiCl", "rocksalt", a=5.13, cubic=True)
    atoms.rattle(0.05, seed=3)
    results = []
    for need_stress in (True, False):
        probe = atoms.copy()
        probe.calc = load_calculator(PotentialSpec.parse("chgnet"), "cpu", need_stress)
        forces = probe.get_forces()
        computed_with_forces = set(probe.calc.results)
        results.append((probe.get_potential_energy(), forces, probe.get_stress()))
        assert ("stress" in computed_with_forces) is need_stress
        assert "magmoms" not in computed_with_forces
    (e_full, f_full, s_full), (e_lean, f_lean, s_lean) = results
    assert e_lean == pytest.approx(e_full, abs=1e-6)
    np.testing.assert_allclose(f_lean, f_full, atol=1e-6)
    np.testing.assert_allclose(s_lean, s_full, atol=1e-6)


def test_loading_a_potential_keeps_numpy_blas_to_one_thread() -> None:
    import os
    import subprocess
    import sys

    probe = (
        "import numpy, scipy.linalg\n"
        "from threadpoolctl import threadpool_info\n"
        "from screening.potentials import PotentialSpec, load_calculator\n"
        "def blas():\n"
        "    return [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
        "before = blas()\n"
        "load_calculator(PotentialSpec.parse('emt'), 'cpu')\n"
        "print(min(before), max(blas()))\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    shown = subprocess.run(
        [sys.executable, "-c", probe], env=environ, capture_output=True, text=True, check=True
    )
    before, after = map(int, shown.stdout.split())
    if before == 1:
        pytest.skip("BLAS starts on one thread here (one core): nothing to limit")
    assert after == 1
