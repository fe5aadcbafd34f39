"""Structure identity and potential specs."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from screening.errors import PotentialError
from screening.potentials import PotentialSpec, validate_spec, weights_sha256
from screening.structures import content_hash


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
