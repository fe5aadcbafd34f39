"""Campaign validation through the real `screening` console script.

Every bad campaign is refused before anything is written: exit code 2, one line on
stderr ("error: ...") naming the field, the offending value and what would work, no
traceback, and no database file. No potential is ever loaded here.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

SCREENING = Path(sys.executable).parent / "screening"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CAMPAIGN = REPO_ROOT / "examples" / "liybc-demo.toml"
DEMO_FORMULAS = (
    "Li3InBr6",
    "Li3In(BrCl)3",
    "Li3InCl6",
    "Li6YInBr12",
    "Li6YIn(BrCl)6",
    "Li6YInCl12",
    "Li3YBr6",
    "Li3Y(BrCl)3",
    "Li3YCl6",
)

# Valid base campaigns (checked by test_base_campaigns_are_valid); each case changes one thing.
CUAU: dict = {
    "name": "cuau-validation",
    "parent": "Cu-fcc",
    "supercell": [1, 1, 1],
    "potential": "emt",
    "charge_balance": False,
    "sublattices": {"metal": {"replaces": "Cu", "species": ["Cu", "Au"], "step": 0.25}},
    "relax": {"fmax": 0.05, "max_steps": 10},
}
LIINCL: dict = {
    "name": "li3incl6-validation",
    "parent": "Li3InCl6",
    "supercell": [1, 1, 1],
    "potential": "emt",
    "charge_balance": True,
    "oxidation_states": {"Li": 1, "In": 3, "Y": 3, "Mg": 2, "Zn": 2, "Cl": -1, "Br": -1},
    "sublattices": {
        "metal": {"replaces": "In", "species": ["In", "Y"], "step": 0.5},
        "halide": {"replaces": "Cl", "species": ["Cl", "Br"], "step": 0.5},
    },
}

# A CIF that pymatgen half-parses: it warns (on stderr) before giving up.
JUNK_CIF = "data_junk\n_cell_length_a 3.0\nloop_\n_atom_site_label\n garbage\n"
TABLES = ("sublattices", "enumeration", "relax", "hull", "farm")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def to_toml(data: dict) -> str:
    """TOML text of a campaign dict: scalars first, then [table] and [sublattices.NAME]."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if k not in TABLES]
    for table in TABLES:
        if table not in data:
            continue
        if table == "sublattices":
            for name, sub in data[table].items():
                lines.append(f"\n[sublattices.{name}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in sub.items()]
        else:
            lines.append(f"\n[{table}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in data[table].items()]
    return "\n".join(lines) + "\n"


Edit = Callable[[dict, Path], None]


@dataclass(frozen=True)
class BadCampaign:
    """One change to a valid base campaign and the words its refusal must contain."""

    base: dict
    edit: Edit | None
    expected: tuple[str, ...]
    raw_text: Callable[[str], str] | None = None  # edits the TOML text instead of the dict


def _set(*path: str, value: object) -> Edit:
    def edit(data: dict, _tmp: Path) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _drop(key: str) -> Edit:
    def edit(data: dict, _tmp: Path) -> None:
        del data[key]

    return edit


def _points(data: dict, _tmp: Path) -> None:
    metal = data["sublattices"]["metal"]
    del metal["step"]
    metal["points"] = [{"Cu": 0.75, "Au": 0.25}, {"Cu": 0.5, "Au": 0.4}]


def _junk_parent(data: dict, tmp: Path) -> None:
    (tmp / "junk.cif").write_text(JUNK_CIF)
    data["parent"] = "junk.cif"


def _missing_mace(data: dict, tmp: Path) -> None:
    data["potential"] = f"mace:{tmp / 'no-such-model.model'}"


CASES: dict[str, BadCampaign] = {
    "unknown-element": BadCampaign(
        CUAU,
        _set("sublattices", "metal", "species", value=["Cu", "Xx"]),
        ("sublattices.metal.species", "unknown element", "'Xx'"),
    ),
    "replaces-absent-from-parent": BadCampaign(
        CUAU,
        _set("sublattices", "metal", "replaces", value="Li"),
        ("sublattices.metal.replaces", "no Li site", "contains Cu"),
    ),
    "fractions-do-not-sum-to-1": BadCampaign(
        CUAU,
        _points,
        ("sublattices.metal.points", "'Au': 0.4", "sum to 0.9", "not 1"),
    ),
    "step-not-realisable-in-supercell": BadCampaign(
        LIINCL,
        _set("sublattices", "metal", "step", value=0.25),
        ("supercell", "1x1x1", "'metal' sites", "1.5 atoms", "set supercell = [1, 1, 2]"),
    ),
    "no-charge-neutral-composition": BadCampaign(
        LIINCL,
        _set("sublattices", "metal", "species", value=["Mg", "Zn"]),
        ("sublattices", "no charge-neutral composition", "-2", "charge_balance = false"),
    ),
    "parent-file-missing": BadCampaign(
        CUAU,
        _set("parent", value="missing-parent.cif"),
        ("parent", "missing-parent.cif", "neither a built-in prototype", "Cu-fcc"),
    ),
    "parent-file-unparsable": BadCampaign(
        CUAU,
        _junk_parent,
        ("parent", "cannot read parent file", "junk.cif", "CIF, POSCAR"),
    ),
    "unknown-potential": BadCampaign(
        CUAU,
        _set("potential", value="gpt-mlip"),
        ("potential", "unknown potential spec", "'gpt-mlip'", "mace:PATH", "emt"),
    ),
    "mace-model-file-missing": BadCampaign(
        CUAU,
        _missing_mace,
        ("potential", "MACE model file not found", "no-such-model.model"),
    ),
    "malformed-toml": BadCampaign(
        CUAU,
        None,
        ("campaign.toml", "malformed TOML", "line 2"),
        raw_text=lambda text: text.replace('parent = "Cu-fcc"', 'parent = "Cu-fcc'),
    ),
    "unknown-top-level-key": BadCampaign(
        CUAU,
        _set("temperature", value=300),
        ("temperature", "unknown key", "allowed keys", "parent", "sublattices"),
    ),
    "missing-parent": BadCampaign(
        CUAU,
        _drop("parent"),
        ("parent", "required key is missing"),
    ),
    "negative-fmax": BadCampaign(
        CUAU,
        _set("relax", "fmax", value=-0.05),
        ("relax.fmax", "greater than 0", "-0.05"),
    ),
    "illegal-name": BadCampaign(
        CUAU,
        _set("name", value="Cu Au (trial)"),
        ("name", "'Cu Au (trial)'", "letters, digits"),
    ),
}


def _screening(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env.pop("SCREENING_DATABASE_URL", None)
    env["COLUMNS"] = "200"
    return subprocess.run(
        [str(SCREENING), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _files(root: Path) -> set[Path]:
    return {path.relative_to(root) for path in root.rglob("*")}


def _assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 2, exactly one non-empty stderr line starting 'error:', no traceback."""
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def _write_campaign(case: BadCampaign, tmp_path: Path) -> Path:
    data = copy.deepcopy(case.base)
    if case.edit is not None:
        case.edit(data, tmp_path)
    text = to_toml(data)
    if case.raw_text is not None:
        edited = case.raw_text(text)
        assert edited != text
        text = edited
    path = tmp_path / "campaign.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_campaign_is_refused_before_anything_is_written(
    case: BadCampaign, tmp_path: Path
) -> None:
    campaign = _write_campaign(case, tmp_path)
    before = _files(tmp_path)
    database = tmp_path / "out.db"

    result = _screening("run", str(campaign), "--database", f"sqlite:///{database}", cwd=tmp_path)

    line = _assert_one_line_error(result)
    missing = [word for word in case.expected if word not in line]
    assert not missing, f"{missing} not in {line!r}"
    assert result.stdout.strip() == ""
    assert not database.exists()
    assert _files(tmp_path) == before


@pytest.mark.parametrize("base", [CUAU, LIINCL], ids=["cuau", "li3incl6"])
def test_base_campaigns_are_valid(base: dict, tmp_path: Path) -> None:
    campaign = tmp_path / "campaign.toml"
    campaign.write_text(to_toml(base))

    result = _screening("validate", str(campaign), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert _files(tmp_path) == {Path("campaign.toml")}


def test_missing_campaign_file(tmp_path: Path) -> None:
    result = _screening("validate", "nowhere.toml", cwd=tmp_path)

    line = _assert_one_line_error(result)
    assert "nowhere.toml" in line
    assert "campaign file not found" in line
    assert _files(tmp_path) == set()


def test_validate_demo_lists_nine_compositions(tmp_path: Path) -> None:
    result = _screening("validate", str(DEMO_CAMPAIGN), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "9 compositions" in result.stdout
    assert "parent Li3InCl6 (20 atoms)" in result.stdout
    assert all(formula in result.stdout for formula in DEMO_FORMULAS)
    assert _files(tmp_path) == set()  # the demo's screening-demo.db is not created


def test_init_writes_a_valid_template_and_refuses_to_overwrite(tmp_path: Path) -> None:
    created = _screening("init", "my-campaign", cwd=tmp_path)

    assert created.returncode == 0, created.stderr
    target = tmp_path / "my-campaign.toml"
    assert _files(tmp_path) == {Path("my-campaign.toml")}
    assert 'name = "my-campaign"' in target.read_text()

    validated = _screening("validate", "my-campaign.toml", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert "campaign my-campaign" in validated.stdout
    assert "9 compositions" in validated.stdout

    edited = target.read_text() + "# my notes\n"
    target.write_text(edited)
    again = _screening("init", "my-campaign", cwd=tmp_path)

    line = _assert_one_line_error(again)
    assert "my-campaign.toml already exists" in line
    assert target.read_text() == edited
    assert _files(tmp_path) == {Path("my-campaign.toml")}


@pytest.mark.parametrize("name", ["my campaign", 'say "hi"', "sub/dir"])
def test_init_refuses_an_illegal_name_without_writing(name: str, tmp_path: Path) -> None:
    result = _screening("init", name, cwd=tmp_path)

    line = _assert_one_line_error(result)
    assert repr(name) in line
    assert "letters, digits" in line
    assert _files(tmp_path) == set()
