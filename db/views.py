"""SQL views, versioned: migrations create a view from one of these constants.

A later migration that changes a view adds ``COMPOSITION_SUMMARY_V2`` here and runs
``drop_view`` + ``create_view(..., V2)`` (its downgrade re-creates V1); released
versions are never edited. The SQL runs unchanged on SQLite (>= 3.25, window
functions) and PostgreSQL.

``composition_summary``: one row per (composition, potential).

- Rows: every composition appears under its campaign's potential, with
  ``n_structures = 0`` and NULL numbers until one of its candidates is relaxed;
  any other potential that has relaxed candidates of it adds a row of its own.
- Candidates are ``campaign_structure`` rows with ``role = 'candidate'``; only
  relaxations whose job has ``status = 'done'`` count.
- ``n_structures``: distinct relaxed candidate structures; ``energy_ev_atom``: the
  lowest relaxed energy, eV/atom; ``a`` ... ``density_g_cm3``: the lattice of that
  lowest-energy relaxation (ties broken by relaxation id).
- ``e_hull_ev_atom``: lowest E_hull (eV/atom) of those structures in the campaign
  for the potential, NULL until a hull row exists.
- ``is_stable``: INTEGER 1 if any of them has ``hull.is_stable``, 0 if none has,
  NULL until a hull row exists.
- Transport columns (``e_a_ev``, ``e_a_err_ev``, ``d_300k_cm2_s``,
  ``sigma_300k_ms_cm``, ``neb_barrier_ev``) are typed NULLs in V1; V2 fills the first
  four from the Arrhenius fit, V3 ``neb_barrier_ev`` from the NEB stage (both of the
  lowest-energy structure, whose lattice the row shows).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import TextClause, text

COMPOSITION_SUMMARY = "composition_summary"
VIEW_NAMES = frozenset({COMPOSITION_SUMMARY})

COMPOSITION_SUMMARY_COLUMNS = (
    "campaign",
    "composition_id",
    "formula",
    "parameters",
    "potential",
    "n_structures",
    "energy_ev_atom",
    "e_hull_ev_atom",
    "is_stable",
    "a",
    "b",
    "c",
    "alpha",
    "beta",
    "gamma",
    "volume_per_atom",
    "density_g_cm3",
    "e_a_ev",
    "e_a_err_ev",
    "d_300k_cm2_s",
    "sigma_300k_ms_cm",
    "neb_barrier_ev",
)

_SUMMARY_TEMPLATE = """
WITH relaxed AS (
    SELECT
        cs.campaign_id,
        cs.composition_id,
        cs.structure_id,
        r.potential_id,
        r.energy_ev_atom,
        r.a, r.b, r.c, r.alpha, r.beta, r.gamma,
        r.volume_per_atom,
        r.density_g_cm3,
        ROW_NUMBER() OVER (
            PARTITION BY cs.composition_id, r.potential_id
            ORDER BY r.energy_ev_atom, r.id
        ) AS energy_rank
    FROM campaign_structure AS cs
    JOIN relaxation AS r ON r.structure_id = cs.structure_id
    JOIN job AS j ON j.id = r.job_id
    WHERE cs.role = 'candidate' AND j.status = 'done'
),
stats AS (
    SELECT
        rx.composition_id,
        rx.potential_id,
        COUNT(DISTINCT rx.structure_id) AS n_structures,
        MIN(h.e_hull_ev_atom) AS e_hull_ev_atom,
        MAX(CASE WHEN h.is_stable THEN 1 WHEN h.id IS NOT NULL THEN 0 END) AS is_stable
    FROM relaxed AS rx
    LEFT JOIN hull AS h
        ON h.campaign_id = rx.campaign_id
        AND h.structure_id = rx.structure_id
        AND h.potential_id = rx.potential_id
    GROUP BY rx.composition_id, rx.potential_id
),
pairs AS (
    SELECT composition_id, potential_id FROM relaxed
    UNION
    SELECT co.id, ca.potential_id
    FROM composition AS co
    JOIN campaign AS ca ON ca.id = co.campaign_id
)
SELECT
    ca.name AS campaign,
    co.id AS composition_id,
    co.formula AS formula,
    co.fractions_json AS parameters,
    p.name AS potential,
    COALESCE(s.n_structures, 0) AS n_structures,
    best.energy_ev_atom AS energy_ev_atom,
    s.e_hull_ev_atom AS e_hull_ev_atom,
    s.is_stable AS is_stable,
    best.a AS a,
    best.b AS b,
    best.c AS c,
    best.alpha AS alpha,
    best.beta AS beta,
    best.gamma AS gamma,
    best.volume_per_atom AS volume_per_atom,
    best.density_g_cm3 AS density_g_cm3,
{transport}{neb}FROM pairs AS pr
JOIN composition AS co ON co.id = pr.composition_id
JOIN campaign AS ca ON ca.id = co.campaign_id
JOIN potential AS p ON p.id = pr.potential_id
LEFT JOIN stats AS s
    ON s.composition_id = pr.composition_id AND s.potential_id = pr.potential_id
LEFT JOIN relaxed AS best
    ON best.composition_id = pr.composition_id
    AND best.potential_id = pr.potential_id
    AND best.energy_rank = 1
{joins}"""

_NO_TRANSPORT = """    CAST(NULL AS DOUBLE PRECISION) AS e_a_ev,
    CAST(NULL AS DOUBLE PRECISION) AS e_a_err_ev,
    CAST(NULL AS DOUBLE PRECISION) AS d_300k_cm2_s,
    CAST(NULL AS DOUBLE PRECISION) AS sigma_300k_ms_cm,
"""

# V2: E_a, D(300 K) and sigma(300 K) of the total direction from the Arrhenius fit of the
# composition's lowest-energy structure (the one whose lattice the row shows), own MD only.
_ARRHENIUS_TRANSPORT = """    ar.e_a_ev AS e_a_ev,
    ar.e_a_err_ev AS e_a_err_ev,
    ar.d_300k_cm2_s AS d_300k_cm2_s,
    ar.sigma_300k_ms_cm AS sigma_300k_ms_cm,
"""

_ARRHENIUS_JOIN = """LEFT JOIN arrhenius AS ar
    ON ar.structure_id = best.structure_id
    AND ar.potential_id = best.potential_id
    AND ar.direction = 'total'
    AND ar.source = 'mlip'
"""

_NO_NEB = """    CAST(NULL AS DOUBLE PRECISION) AS neb_barrier_ev
"""

# V3: the 3D percolating NEB barrier of the same lowest-energy structure, from its latest
# NEB run under the row's potential.
_NEB_BARRIER = """    nb.barrier_3d_ev AS neb_barrier_ev
"""

_NEB_JOIN = """LEFT JOIN (
    SELECT
        structure_id,
        potential_id,
        barrier_3d_ev,
        ROW_NUMBER() OVER (PARTITION BY structure_id, potential_id ORDER BY id DESC) AS recency
    FROM neb_run
) AS nb
    ON nb.structure_id = best.structure_id
    AND nb.potential_id = best.potential_id
    AND nb.recency = 1
"""

COMPOSITION_SUMMARY_V1 = _SUMMARY_TEMPLATE.format(transport=_NO_TRANSPORT, neb=_NO_NEB, joins="")
COMPOSITION_SUMMARY_V2 = _SUMMARY_TEMPLATE.format(
    transport=_ARRHENIUS_TRANSPORT, neb=_NO_NEB, joins=_ARRHENIUS_JOIN
)
COMPOSITION_SUMMARY_V3 = _SUMMARY_TEMPLATE.format(
    transport=_ARRHENIUS_TRANSPORT, neb=_NEB_BARRIER, joins=_ARRHENIUS_JOIN + _NEB_JOIN
)


class SQLExecutor(Protocol):
    """Anything with ``execute(statement)``: ``alembic.op`` or a SQLAlchemy Connection."""

    def execute(self, statement: TextClause, /) -> object: ...


def create_view(op_or_conn: SQLExecutor, name: str, select_sql: str) -> None:
    """Create view ``name`` as ``select_sql`` (one of this module's versioned constants)."""
    op_or_conn.execute(text(f"CREATE VIEW {name} AS {select_sql.strip()}"))


def drop_view(op_or_conn: SQLExecutor, name: str) -> None:
    """Drop view ``name`` if it exists."""
    op_or_conn.execute(text(f"DROP VIEW IF EXISTS {name}"))
