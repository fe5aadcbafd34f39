"""Test data of the explorer: a database seeded through Alembic and the ORM models.

Campaign ``liybc`` (potential ``chgnet``) on In/Y x Br/Cl with known numbers:

- Li3InCl6 (In 1, Br 0): s1 at -3.800 eV/atom (E_hull 0, stable, a = 12.90 Å), s2 at
  -3.750 (E_hull 0.050 eV/atom). s1 has MD at 500, 600, 700 K (D = 1.0e-6, 2.0e-6,
  4.0e-6 cm^2/s, ±10%) and an unstable run at 900 K, Arrhenius total E_a 0.321 ± 0.012 eV,
  sigma(300 K) 0.456 mS/cm [0.300, 0.700], direction ab E_a 0.298 eV; the 600 K run has an
  analysis artifact (MSD, RDF Li-Cl, density).
- Li3YCl6 (In 0, Br 0): s3 at -4.600, E_hull 0, stable, a = 13.05 Å.
- Li3InBr6 (In 1, Br 1): s4 at -3.400, E_hull 0.0123 eV/atom (12.3 meV/atom).
- Li6YIn(BrCl)6 (In 0.5, Br 0.5): s5 at -4.000, E_hull 0.0039 eV/atom.
- Li3YBr6 (In 0, Br 1): s6 whose relax job FAILED ("forces exploded").
- Reference LiCl relaxed; an md job pending and one running.
- NEB of s1: percolating barriers 1D 0.250, 2D 0.310, 3D 0.420 eV; hops 0 (2.95 Å,
  0.250/0.250 eV, multiplicity 2, 840 force calls), 1 (3.40 Å, 0.420/0.380 eV, 4, 1320)
  and 2 (3.90 Å, 0.710/0.710 eV, 2, 2400, NOT converged), profiles in the artifact store.
  NEB of s4: 3D barrier 0.550 eV, one hop, its profiles artifact missing from the store
  (:data:`MISSING_PROFILES_SHA`).

Campaign ``nomd``: one composition (Li3ScCl6) relaxed, no MD and no hull yet.

The summary cache holds ``liybc``'s rows (refreshed as a run ends); ``nomd`` was never
refreshed, so the explorer reads the live view for it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice
from pymatgen.core import Structure as PmgStructure
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from db.artifacts import ArtifactStore
from db.engine import make_engine
from db.models import (
    Arrhenius,
    Artifact,
    Campaign,
    CampaignStructure,
    Composition,
    Dataset,
    Hull,
    Job,
    MdRun,
    NebHop,
    NebRun,
    Potential,
    Relaxation,
    Structure,
)
from db.summary_cache import refresh_summary

SPEC = {
    "name": "liybc",
    "parent": "Li3InCl6",
    "sublattices": {
        "metal": {"replaces": "In", "species": ["In", "Y"], "step": 0.5},
        "halide": {"replaces": "Cl", "species": ["Br", "Cl"], "step": 0.5},
    },
}


MISSING_PROFILES_SHA = "e" * 64
"""The NEB profiles artifact of s4: registered in the database, absent from the store."""
Hop = tuple[int, float, float, float, int, bool, int]
"""hop_index, length (Å), forward and reverse barrier (eV), multiplicity, converged, calls."""
NEB_HOPS: tuple[Hop, ...] = (
    (0, 2.95, 0.250, 0.250, 2, True, 840),
    (1, 3.40, 0.420, 0.380, 4, True, 1320),
    (2, 3.90, 0.710, 0.710, 2, False, 2400),
)


@dataclass(frozen=True)
class Seeded:
    """The seeded database: its URL, artifact root and the ids tests look up."""

    url: str
    artifact_root: Path
    campaign_id: int
    li3incl6_id: int
    nomd_composition_id: int
    s1_id: int


def _fractions(in_fraction: float, br_fraction: float) -> str:
    return json.dumps(
        {
            "halide": {"Br": br_fraction, "Cl": 1 - br_fraction},
            "metal": {"In": in_fraction, "Y": 1 - in_fraction},
        },
        sort_keys=True,
    )


def _structure_json(metal: str, a: float) -> str:
    cell = PmgStructure(
        Lattice.orthorhombic(a, a * 0.9, a * 1.1),
        ["Li", "Li", "Li", metal, "Cl", "Cl"],
        [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75] * 3],
    )
    return json.dumps(cell.as_dict())


def _analysis_npz() -> bytes:
    time_ps = np.linspace(0.0, 20.0, 101)
    r_ang = np.linspace(0.05, 6.0, 120)
    g = 1.0 + 2.0 * np.exp(-((r_ang - 2.6) ** 2) / 0.05) - 0.8 * np.exp(-((r_ang - 3.4) ** 2) / 0.2)
    arrays = {
        "time_ps": time_ps,
        "msd_total_ang2": 6 * 0.02 * time_ps,
        "msd_ab_ang2": 4 * 0.02 * time_ps,
        "fit_window_ps": np.array([2.0, 10.0]),
        "rdf_Cl_Li_r_ang": r_ang,
        "rdf_Cl_Li_g": g,
        "density_per_ang3": np.random.default_rng(0).random((6, 6, 6)),
        "density_cell_ang": np.diag([12.9, 11.6, 14.2]),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _profiles_npz(hops: tuple[Hop, ...]) -> bytes:
    """Seven-image profiles rising to the forward barrier, ending at forward - reverse."""
    t = np.linspace(0.0, 1.0, 7)
    arrays = {}
    for index, length, forward, reverse, *_ in hops:
        arrays[f"hop{index}_coordinate_ang"] = t * length * 1.2
        arrays[f"hop{index}_energy_ev"] = np.where(
            t <= 0.5,
            forward * np.sin(np.pi * t) ** 2,
            forward - reverse * np.sin(np.pi * (t - 0.5)) ** 2,
        )
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def seed(url: str, artifact_root: Path) -> Seeded:
    """Insert the campaigns described in the module docstring; return their ids."""
    engine = make_engine(url)
    finished = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    with Session(engine) as session:
        chgnet = Potential(name="chgnet", spec="chgnet", weights_sha256="a" * 64)
        session.add(chgnet)
        session.flush()
        lic = Dataset(name="lic-dft", valid_fraction=0.1, test_fraction=0.1)
        session.add(lic)
        session.flush()
        tuned = Potential(
            name="chgnet-ft-lic",
            spec="chgnet:ft.pt",
            weights_sha256="b" * 64,
            parent_id=chgnet.id,
            dataset_id=lic.id,
            test_energy_rmse_mev_atom=0.3,
            test_force_rmse_mev_ang=14.0,
        )
        liybc = Campaign(name="liybc", spec_json=json.dumps(SPEC), potential=chgnet)
        nomd = Campaign(name="nomd", spec_json="{}", potential=chgnet)
        session.add_all([tuned, liybc, nomd])
        session.flush()

        def composition(campaign: Campaign, formula: str, fractions: str) -> Composition:
            row = Composition(campaign_id=campaign.id, formula=formula, fractions_json=fractions)
            session.add(row)
            session.flush()
            return row

        def structure(key: str, formula: str, metal: str, a: float) -> Structure:
            row = Structure(
                content_hash=key * 64,
                formula=formula,
                n_atoms=6,
                origin_kind="sqs",
                origin_json=json.dumps({"seed": 1, "objective": 0.01}),
                structure_json=_structure_json(metal, a),
            )
            session.add(row)
            session.flush()
            return row

        def member(campaign: Campaign, row: Structure, comp: Composition | None) -> None:
            session.add(
                CampaignStructure(
                    campaign_id=campaign.id,
                    structure_id=row.id,
                    composition_id=None if comp is None else comp.id,
                    role="reference" if comp is None else "candidate",
                )
            )

        def job(row: Structure, kind: str, status: str, key: str = "r", error: str | None = None):
            made = Job(
                structure_id=row.id,
                kind=kind,
                params_hash=key * 64,
                params_json="{}",
                potential_id=chgnet.id,
                status=status,
                attempts=1,
                error=error,
                finished_at=finished if status in ("done", "failed") else None,
            )
            session.add(made)
            session.flush()
            return made

        def relax(row: Structure, energy: float, a: float, metal: str) -> None:
            done = job(row, "relax", "done")
            session.add(
                Relaxation(
                    job_id=done.id,
                    structure_id=row.id,
                    potential_id=chgnet.id,
                    energy_ev=energy * row.n_atoms,
                    energy_ev_atom=energy,
                    a=a,
                    b=a * 0.9,
                    c=a * 1.1,
                    alpha=90.0,
                    beta=109.8,
                    gamma=90.0,
                    volume_per_atom=22.5,
                    density_g_cm3=2.4,
                    max_force_ev_ang=0.03,
                    steps=120,
                    converged=True,
                    final_structure_json=_structure_json(metal, a),
                    wall_time_s=3.0,
                    device="cpu",
                )
            )

        def hull(campaign: Campaign, row: Structure, e_hull: float) -> None:
            session.add(
                Hull(
                    campaign_id=campaign.id,
                    structure_id=row.id,
                    potential_id=chgnet.id,
                    e_hull_ev_atom=e_hull,
                    e_form_ev_atom=-1.5,
                    decomposition_json="{}",
                    is_stable=e_hull <= 1e-4,
                )
            )

        incl = composition(liybc, "Li3InCl6", _fractions(1.0, 0.0))
        ycl = composition(liybc, "Li3YCl6", _fractions(0.0, 0.0))
        inbr = composition(liybc, "Li3InBr6", _fractions(1.0, 1.0))
        mixed = composition(liybc, "Li6YIn(BrCl)6", _fractions(0.5, 0.5))
        ybr = composition(liybc, "Li3YBr6", _fractions(0.0, 1.0))
        scl = composition(nomd, "Li3ScCl6", "{}")

        s1 = structure("1", "Li3InCl6", "In", 12.90)
        s2 = structure("2", "Li3InCl6", "In", 12.95)
        s3 = structure("3", "Li3YCl6", "Y", 13.05)
        s4 = structure("4", "Li3InBr6", "In", 13.73)
        s5 = structure("5", "Li6YIn(BrCl)6", "Y", 13.36)
        s6 = structure("6", "Li3YBr6", "Y", 13.82)
        s7 = structure("7", "Li3ScCl6", "Sc", 12.70)
        licl = structure("8", "LiCl", "Li", 5.1)
        for row, comp in ((s1, incl), (s2, incl), (s3, ycl), (s4, inbr), (s5, mixed), (s6, ybr)):
            member(liybc, row, comp)
        member(liybc, licl, None)
        member(nomd, s7, scl)

        relax(s1, -3.800, 12.90, "In")
        relax(s2, -3.750, 12.95, "In")
        relax(s3, -4.600, 13.05, "Y")
        relax(s4, -3.400, 13.73, "In")
        relax(s5, -4.000, 13.36, "Y")
        relax(s7, -4.200, 12.70, "Sc")
        relax(licl, -3.500, 5.10, "Li")
        job(s6, "relax", "failed", error="CalculationFailed: forces exploded (3.1e+03 eV/Å)")
        for row, e_hull in ((s1, 0.0), (s2, 0.050), (s3, 0.0), (s4, 0.0123), (s5, 0.0039)):
            hull(liybc, row, e_hull)
        job(s3, "md", "pending", key="m")
        job(s4, "md", "running", key="n")

        store = ArtifactStore(artifact_root)
        analysis = _analysis_npz()
        sha = store.put(analysis)
        session.add(Artifact(sha256=sha, kind="md_analysis", size_bytes=len(analysis)))
        session.flush()
        runs = ((500.0, 1.0e-6), (600.0, 2.0e-6), (700.0, 4.0e-6), (900.0, None))
        for index, (temperature, d) in enumerate(runs):
            md_job = job(s1, "md", "done", key=str(index))
            directions = {
                f"d_{name}_cm2_s": None if d is None else d * factor
                for name, factor in (("a", 0.5), ("b", 0.8), ("c", 1.6), ("ab", 0.7))
            }
            errors = {f"d_{name}_err_cm2_s": None if d is None else d * 0.1 for name in ("a", "ab")}
            session.add(
                MdRun(
                    job_id=md_job.id,
                    structure_id=s1.id,
                    potential_id=chgnet.id,
                    temperature_k=temperature,
                    timestep_fs=2.0,
                    steps=10000,
                    steps_done=10500 if d is not None else 3100,
                    thermostat="langevin",
                    n_atoms=48,
                    n_mobile=24,
                    volume_ang3=1080.0,
                    stable=d is not None,
                    instability_reason=None if d else "min distance 0.61 Å < 0.8 Å",
                    catastrophic_step=None if d else 3100,
                    diffusive=d is not None,
                    d_cm2_s=d,
                    d_err_cm2_s=None if d is None else d * 0.1,
                    fit_start_ps=None if d is None else 2.0,
                    fit_end_ps=None if d is None else 10.0,
                    sigma_ms_cm=None if d is None else d * 1e5,
                    analysis_sha256=sha if temperature == 600.0 else None,
                    wall_time_s=100.0,
                    device="cpu",
                    **directions,
                    **errors,
                )
            )
        temperatures = json.dumps([500.0, 600.0, 700.0])
        for direction, e_a in (("total", 0.321), ("ab", 0.298)):
            session.add(
                Arrhenius(
                    structure_id=s1.id,
                    potential_id=chgnet.id,
                    direction=direction,
                    e_a_ev=e_a,
                    e_a_err_ev=0.012,
                    d0_cm2_s=2.9e-4,
                    d_300k_cm2_s=1.23e-8,
                    d_300k_low_cm2_s=0.8e-8,
                    d_300k_high_cm2_s=1.9e-8,
                    sigma_300k_ms_cm=0.456,
                    sigma_300k_low_ms_cm=0.300,
                    sigma_300k_high_ms_cm=0.700,
                    temperatures_json=temperatures,
                )
            )
        profiles = _profiles_npz(NEB_HOPS)
        profiles_sha = store.put(profiles)
        session.add_all(
            [
                Artifact(sha256=profiles_sha, kind="neb_profiles", size_bytes=len(profiles)),
                Artifact(sha256=MISSING_PROFILES_SHA, kind="neb_profiles", size_bytes=1000),
            ]
        )
        session.flush()

        def neb(
            row: Structure, barriers: tuple[float, float, float], sha: str, hops: tuple[Hop, ...]
        ) -> None:
            run = NebRun(
                job_id=job(row, "neb", "done", key="b").id,
                structure_id=row.id,
                potential_id=chgnet.id,
                mechanism="vacancy",
                cutoff_ang=4.0,
                spacegroup="C2/m (12)",
                grouping="symmetry",
                n_symmetry_classes=len(hops),
                n_hops_computed=len(hops),
                skipped_json="[]",
                barrier_1d_ev=barriers[0],
                barrier_2d_ev=barriers[1],
                barrier_3d_ev=barriers[2],
                profiles_sha256=sha,
                wall_time_s=600.0,
                device="cpu",
            )
            run.hops = [
                NebHop(
                    hop_index=index,
                    start_site=0,
                    end_site=1,
                    image_json="[0, 0, 0]",
                    length_ang=length,
                    multiplicity=multiplicity,
                    n_members=multiplicity * 6,
                    environment="Cl4",
                    forward_barrier_ev=forward,
                    reverse_barrier_ev=reverse,
                    converged=converged,
                    endpoints_converged=True,
                    max_force_ev_ang=0.04 if converged else 0.31,
                    steps=calls // 6,
                    force_calls=calls,
                    n_atoms=47,
                    wall_time_s=200.0,
                )
                for index, length, forward, reverse, multiplicity, converged, calls in hops
            ]
            session.add(run)

        neb(s1, (0.250, 0.310, 0.420), profiles_sha, NEB_HOPS)
        neb(s4, (0.550, 0.550, 0.550), MISSING_PROFILES_SHA, NEB_HOPS[:1])
        session.commit()
        refresh_summary(session, liybc.id)
        seeded = Seeded(
            url=url,
            artifact_root=artifact_root,
            campaign_id=liybc.id,
            li3incl6_id=incl.id,
            nomd_composition_id=scl.id,
            s1_id=s1.id,
        )
    engine.dispose()
    return seeded


APP = Path(__file__).resolve().parents[2] / "frontend" / "app.py"


def open_page(page: str) -> AppTest:
    """The app run once, then switched to ``views/<page>.py``; no exception on the way."""
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.switch_page(f"views/{page}.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app
