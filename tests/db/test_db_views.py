"""The composition_summary view on SQLite and PostgreSQL, read through db.queries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, text

from db.queries import composition_summary
from db.views import COMPOSITION_SUMMARY_COLUMNS

if TYPE_CHECKING:
    from conftest import SampleCampaign

TRANSPORT_COLUMNS = ("e_a_ev", "e_a_err_ev", "d_300k_cm2_s", "sigma_300k_ms_cm", "neb_barrier_ev")


@pytest.fixture
def rows(engine: Engine, sample_campaign: SampleCampaign) -> dict[tuple[int, str], dict[str, Any]]:
    """The sample campaign's summary keyed by (composition_id, potential)."""
    result = composition_summary(engine, sample_campaign.campaign_name)
    keyed = {(row["composition_id"], row["potential"]): row for row in result}
    assert len(keyed) == len(result), "one row per composition per potential"
    return keyed


def test_view_columns_in_documented_order(engine: Engine, sample_campaign: SampleCampaign) -> None:
    with engine.connect() as connection:
        result = connection.execute(text("SELECT * FROM composition_summary"))
        assert tuple(result.keys()) == COMPOSITION_SUMMARY_COLUMNS


def test_one_row_per_composition_and_potential(
    rows: dict[tuple[int, str], dict[str, Any]], sample_campaign: SampleCampaign
) -> None:
    s = sample_campaign
    assert set(rows) == {
        (s.mixed_id, s.potential),
        (s.mixed_id, s.other_potential),
        (s.pure_id, s.potential),
        (s.empty_id, s.potential),
    }
    assert {row["campaign"] for row in rows.values()} == {"lic"}


def test_lowest_energy_structure_sets_energy_and_lattice(
    rows: dict[tuple[int, str], dict[str, Any]], sample_campaign: SampleCampaign
) -> None:
    row = rows[sample_campaign.mixed_id, sample_campaign.potential]
    assert row["formula"] == "Li3InCl3Br3"
    assert row["parameters"] == '{"X": 0.5}'
    assert row["n_structures"] == 3  # the failed job's relaxation does not count
    assert row["energy_ev_atom"] == pytest.approx(-3.2)
    lattice = [row[k] for k in ("a", "b", "c", "alpha", "beta", "gamma")]
    assert lattice == pytest.approx([10.2, 11.2, 12.2, 90.0, 91.0, 102.0])
    assert row["volume_per_atom"] == pytest.approx(20.4)
    assert row["density_g_cm3"] == pytest.approx(2.55)


def test_hull_columns_take_the_best_of_the_composition(
    rows: dict[tuple[int, str], dict[str, Any]], sample_campaign: SampleCampaign
) -> None:
    row = rows[sample_campaign.mixed_id, sample_campaign.potential]
    assert row["e_hull_ev_atom"] == pytest.approx(0.0)
    assert row["is_stable"] is True


def test_no_hull_yet_gives_nulls_and_other_campaigns_do_not_leak(
    rows: dict[tuple[int, str], dict[str, Any]], sample_campaign: SampleCampaign
) -> None:
    pure = rows[sample_campaign.pure_id, sample_campaign.potential]
    assert (pure["n_structures"], pure["energy_ev_atom"]) == (1, pytest.approx(-2.5))
    assert (pure["e_hull_ev_atom"], pure["is_stable"]) == (None, None)


def test_second_potential_gets_its_own_row(
    rows: dict[tuple[int, str], dict[str, Any]], sample_campaign: SampleCampaign
) -> None:
    row = rows[sample_campaign.mixed_id, sample_campaign.other_potential]
    assert (row["n_structures"], row["energy_ev_atom"], row["a"]) == (1, -4.0, 11.0)
    assert (row["e_hull_ev_atom"], row["is_stable"]) == (None, None)


def test_composition_without_relaxations_shows_zero_structures(
    rows: dict[tuple[int, str], dict[str, Any]], sample_campaign: SampleCampaign
) -> None:
    row = rows[sample_campaign.empty_id, sample_campaign.potential]
    assert row["n_structures"] == 0
    empty = ("energy_ev_atom", "e_hull_ev_atom", "is_stable", "a", "density_g_cm3")
    assert all(row[k] is None for k in empty)


def test_transport_columns_are_null(rows: dict[tuple[int, str], dict[str, Any]]) -> None:
    assert all(row[k] is None for row in rows.values() for k in TRANSPORT_COLUMNS)


def test_unknown_campaign_gives_no_rows(engine: Engine, sample_campaign: SampleCampaign) -> None:
    assert composition_summary(engine, "no such campaign") == []
