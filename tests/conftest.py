"""Shared fixtures: database URLs on SQLite and PostgreSQL, migrated through Alembic.

``database_url`` runs a test twice: on a SQLite file in ``tmp_path`` and on a fresh
PostgreSQL database (marked ``postgres``; deselect with ``-m "not postgres"``).
The PostgreSQL server is ``$SCREENING_TEST_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``): one admin connection per
test session creates a database ``screening_test_<hex>_<n>`` for each test and
drops it afterwards (``WITH (FORCE)``); any left over are dropped at session end.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from db.engine import check_connection, make_engine, make_session_factory, normalize_url
from db.errors import DatabaseError
from db.migrate import upgrade
from db.models import (
    Campaign,
    CampaignStructure,
    Composition,
    Hull,
    Job,
    Potential,
    Relaxation,
    Structure,
)

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class PostgresDatabases:
    """Creates and drops throwaway databases through one AUTOCOMMIT connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._prefix = f"screening_test_{secrets.token_hex(4)}"
        self._counter = itertools.count()
        self._live: set[str] = set()

    def create(self) -> str:
        """Create an empty database and return its URL."""
        name = f"{self._prefix}_{next(self._counter)}"
        self._connection.execute(text(f'CREATE DATABASE "{name}"'))
        self._live.add(name)
        url = self._connection.engine.url.set(database=name)
        return url.render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = normalize_url(url).database
        if name in self._live:
            self._connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self._live.discard(name)

    def drop_all(self) -> None:
        for name in sorted(self._live):
            self._connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._live.clear()


def _connection_problem(engine: Engine) -> str | None:
    try:
        check_connection(engine)
    except DatabaseError as err:
        return str(err)
    return None


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """The PostgreSQL test server's database factory for this test session."""
    engine = make_engine(os.environ.get("SCREENING_TEST_PG_URL", DEFAULT_PG_URL))
    problem = _connection_problem(engine)
    if problem is not None:
        engine.dispose()
        hint = "start PostgreSQL or deselect with -m 'not postgres'"
        pytest.fail(f"{problem} ({hint})", pytrace=False)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        databases = PostgresDatabases(connection)
        try:
            yield databases
        finally:
            databases.drop_all()
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'screening.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    try:
        yield url
    finally:
        databases.drop(url)


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database (for tests that need PostgreSQL only)."""
    url = postgres_databases.create()
    try:
        yield url
    finally:
        postgres_databases.drop(url)


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """``database_url`` upgraded to the head revision."""
    upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    """Engine on the migrated database, disposed after the test."""
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """ORM session on the migrated database."""
    with make_session_factory(engine)() as session:
        yield session


@dataclass(frozen=True)
class SampleCampaign:
    """Ids of the rows ``sample_campaign`` inserted."""

    campaign_name: str
    campaign_id: int
    potential: str
    other_potential: str
    mixed_id: int
    pure_id: int
    empty_id: int
    failed_job_id: int


@pytest.fixture
def sample_campaign(session: Session) -> SampleCampaign:
    """A small committed campaign ``lic`` (potential ``chgnet``) with known results.

    - ``mixed`` (Li3InCl3Br3): candidates s1, s2, s3 relaxed with chgnet at -3.0,
      -3.2, -3.1 eV/atom (lattice a = 10.1, 10.2, 10.3 Å); s2 also has E_hull
      0.02 (not stable), s3 E_hull 0.0 (stable), s1 E_hull 0.05. Candidate s4 has
      a FAILED relax job whose relaxation row says -9.0 eV/atom (must not count).
      s1 is also relaxed with ``mace`` at -4.0 eV/atom (a = 11.0), no hull.
    - ``pure`` (Li3InCl6): candidate s5 relaxed at -2.5 eV/atom, no hull in this
      campaign; a second campaign ``other`` (also chgnet) holds s5 with a stable
      hull row at -0.1 eV/atom, which must not leak into ``lic``.
    - ``empty`` (Li3InBr6): no structures.
    - A reference phase (LiCl, role ``reference``) relaxed at -3.5 eV/atom.
    - Jobs of ``lic``: relax done x5 (chgnet), relax failed x1, md pending x1
      (chgnet); the mace relax belongs to no campaign's potential.
    """
    chgnet = Potential(name="chgnet", spec="chgnet", weights_sha256="a" * 64)
    mace = Potential(name="mace", spec="mace:model.pt", weights_sha256="b" * 64)
    lic = Campaign(name="lic", spec_json="{}", potential=chgnet)
    other = Campaign(name="other", spec_json="{}", potential=chgnet)
    session.add_all([chgnet, mace, lic, other])
    session.flush()

    mixed = Composition(campaign_id=lic.id, formula="Li3InCl3Br3", fractions_json='{"X": 0.5}')
    pure = Composition(campaign_id=lic.id, formula="Li3InCl6", fractions_json='{"X": 0.0}')
    empty = Composition(campaign_id=lic.id, formula="Li3InBr6", fractions_json='{"X": 1.0}')
    other_pure = Composition(campaign_id=other.id, formula="Li3InCl6", fractions_json="{}")
    session.add_all([mixed, pure, empty, other_pure])
    session.flush()

    def structure(key: str, formula: str) -> Structure:
        row = Structure(
            content_hash=key * 8,
            formula=formula,
            n_atoms=10,
            origin_kind="sqs",
            origin_json="{}",
            structure_json="{}",
        )
        session.add(row)
        session.flush()
        return row

    def member(campaign: Campaign, row: Structure, composition: Composition | None) -> None:
        role = "reference" if composition is None else "candidate"
        composition_id = None if composition is None else composition.id
        session.add(
            CampaignStructure(
                campaign_id=campaign.id,
                structure_id=row.id,
                composition_id=composition_id,
                role=role,
            )
        )

    def job(row: Structure, potential: Potential, status: str, kind: str = "relax") -> Job:
        finished = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) if status in ("done", "failed") else None
        error = "RuntimeError: relaxation exploded" if status == "failed" else None
        row_job = Job(
            structure_id=row.id,
            kind=kind,
            params_hash="p" * 64,
            params_json="{}",
            potential_id=potential.id,
            status=status,
            attempts=1,
            error=error,
            finished_at=finished,
        )
        session.add(row_job)
        session.flush()
        return row_job

    def relax(row: Structure, potential: Potential, energy: float, a: float, status: str) -> Job:
        row_job = job(row, potential, status)
        session.add(
            Relaxation(
                job_id=row_job.id,
                structure_id=row.id,
                potential_id=potential.id,
                energy_ev=energy * 10,
                energy_ev_atom=energy,
                a=a,
                b=a + 1,
                c=a + 2,
                alpha=90.0,
                beta=91.0,
                gamma=a * 10,
                volume_per_atom=a * 2,
                density_g_cm3=a / 4,
                max_force_ev_ang=0.01,
                steps=50,
                converged=True,
                final_structure_json="{}",
                wall_time_s=1.0,
                device="cpu",
            )
        )
        return row_job

    def hull(campaign: Campaign, row: Structure, e_hull: float, stable: bool) -> None:
        session.add(
            Hull(
                campaign_id=campaign.id,
                structure_id=row.id,
                potential_id=chgnet.id,
                e_hull_ev_atom=e_hull,
                e_form_ev_atom=-1.0,
                decomposition_json="{}",
                is_stable=stable,
            )
        )

    s1, s2, s3, s4 = (structure(k, "Li3InCl3Br3") for k in "1234")
    s5 = structure("5", "Li3InCl6")
    licl = structure("6", "LiCl")
    for row in (s1, s2, s3, s4):
        member(lic, row, mixed)
    member(lic, s5, pure)
    member(lic, licl, None)
    member(other, s5, other_pure)

    relax(s1, chgnet, -3.0, 10.1, "done")
    relax(s2, chgnet, -3.2, 10.2, "done")
    relax(s3, chgnet, -3.1, 10.3, "done")
    failed = relax(s4, chgnet, -9.0, 9.0, "failed")
    relax(s1, mace, -4.0, 11.0, "done")
    relax(s5, chgnet, -2.5, 12.0, "done")
    relax(licl, chgnet, -3.5, 5.0, "done")
    job(s2, chgnet, "pending", kind="md")
    hull(lic, s1, 0.05, False)
    hull(lic, s2, 0.02, False)
    hull(lic, s3, 0.0, True)
    hull(other, s5, -0.1, True)
    session.commit()
    return SampleCampaign(
        campaign_name="lic",
        campaign_id=lic.id,
        potential="chgnet",
        other_potential="mace",
        mixed_id=mixed.id,
        pure_id=pure.id,
        empty_id=empty.id,
        failed_job_id=failed.id,
    )
