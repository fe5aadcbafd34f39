"""Campaign-level step ``arrhenius``: fit ln D(T) of every structure with MD runs.

Only stable runs whose MSD reached a diffusive regime enter a fit; a direction needs at
least two temperatures (three for an error bar). Like the hull, it runs in the driver
after the farm and replaces the structure's rows in one transaction.

Each source is fitted on its own, never mixed: ``mlip`` (the driver's call) fits the
campaign's md jobs under its current potential, each run with the charge of its job; a label
such as ``aimd-pbe`` fits the runs imported under it (``screening import md``: no job, no
potential) with the given charge, into rows that carry the campaign's potential id.
"""

from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import DIRECTIONS, Arrhenius, Campaign, CampaignStructure, Job, MdRun
from screening.arrhenius import fit_arrhenius

ROOM_TEMPERATURE_K = 300.0
MLIP_SOURCE = "mlip"


def update_arrhenius(
    session: Session, campaign: Campaign, source: str = MLIP_SOURCE, charge: int | None = None
) -> int:
    """Refit every structure of the campaign that has MD runs of ``source``; return the rows
    written. ``charge`` (e) is the mobile ion's, required for an imported source."""
    by_structure: dict[int, list[tuple[MdRun, int]]] = defaultdict(list)
    for run, run_charge in _fitted_runs(session, campaign, source, charge):
        by_structure[run.structure_id].append((run, run_charge))
    written = 0
    for structure_id, structure_runs in by_structure.items():
        session.execute(
            delete(Arrhenius).where(
                Arrhenius.structure_id == structure_id,
                Arrhenius.potential_id == campaign.potential_id,
                Arrhenius.source == source,
            )
        )
        for direction in ("total", *DIRECTIONS):
            row = _fit(structure_id, campaign.potential_id, source, direction, structure_runs)
            if row is not None:
                session.add(row)
                written += 1
    session.commit()
    return written


def _fitted_runs(
    session: Session, campaign: Campaign, source: str, charge: int | None
) -> list[tuple[MdRun, int]]:
    """The stable, diffusive runs of ``source`` on the campaign's structures, each with the
    mobile ion's charge (e)."""
    statement = (
        select(MdRun)
        .join(CampaignStructure, CampaignStructure.structure_id == MdRun.structure_id)
        .where(
            CampaignStructure.campaign_id == campaign.id,
            MdRun.source == source,
            MdRun.stable.is_(True),
            MdRun.diffusive.is_(True),
        )
    )
    if source != MLIP_SOURCE:
        if charge is None:
            raise ValueError(f"refitting the imported source {source!r} needs the ion's charge")
        return [(run, charge) for run in session.scalars(statement)]
    rows = session.execute(
        statement.add_columns(Job.params_json)
        .join(Job, Job.id == MdRun.job_id)
        .where(MdRun.potential_id == campaign.potential_id)
    ).all()
    return [(run, json.loads(params_json)["charge"]) for run, params_json in rows]


def _fit(
    structure_id: int,
    potential_id: int,
    source: str,
    direction: str,
    runs: list[tuple[MdRun, int]],
) -> Arrhenius | None:
    column = "d" if direction == "total" else f"d_{direction}"
    points = [
        (run.temperature_k, getattr(run, f"{column}_cm2_s"), getattr(run, f"{column}_err_cm2_s"))
        for run, _ in runs
    ]
    points = [(t, d, e) for t, d, e in points if d is not None and d > 0 and e]
    if len({t for t, _, _ in points}) < 2:
        return None
    temperatures, d, errors = zip(*sorted(points), strict=True)
    fit = fit_arrhenius(temperatures, d, errors)
    d_300, d_low, d_high = fit.d_at(ROOM_TEMPERATURE_K)
    run, charge = runs[0]
    sigma, sigma_low, sigma_high = fit.sigma_at(
        ROOM_TEMPERATURE_K, run.n_mobile, run.volume_ang3, charge
    )
    return Arrhenius(
        structure_id=structure_id,
        potential_id=potential_id,
        source=source,
        direction=direction,
        e_a_ev=fit.e_a_ev,
        e_a_err_ev=fit.e_a_err_ev,
        d0_cm2_s=fit.d0_cm2_s,
        d_300k_cm2_s=d_300,
        d_300k_low_cm2_s=d_low,
        d_300k_high_cm2_s=d_high,
        sigma_300k_ms_cm=sigma,
        sigma_300k_low_ms_cm=sigma_low,
        sigma_300k_high_ms_cm=sigma_high,
        temperatures_json=json.dumps(list(temperatures)),
    )
