"""Summary cache: the composition_summary_cache table, a campaign's rows of the
composition_summary view copied at the end of every run (db.summary_cache), read by the
explorer. Created empty: the explorer reads the live view until a campaign's first refresh.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 21:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _nullable_floats(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Float(), nullable=True) for name in names]


def upgrade() -> None:
    op.create_table(
        "composition_summary_cache",
        sa.Column("composition_id", sa.Integer(), nullable=False),
        sa.Column("potential_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("campaign", sa.String(length=200), nullable=False),
        sa.Column("formula", sa.String(length=200), nullable=False, comment="reduced formula"),
        sa.Column(
            "parameters",
            sa.String(length=2000),
            nullable=False,
            comment="sublattice fractions JSON",
        ),
        sa.Column("potential", sa.String(length=200), nullable=False),
        sa.Column(
            "n_structures", sa.Integer(), nullable=False, comment="relaxed candidate structures"
        ),
        sa.Column("energy_ev_atom", sa.Float(), nullable=True, comment="lowest, eV/atom"),
        sa.Column("e_hull_ev_atom", sa.Float(), nullable=True, comment="eV/atom"),
        sa.Column("is_stable", sa.Integer(), nullable=True, comment="1, 0, NULL before a hull"),
        sa.Column("a", sa.Float(), nullable=True, comment="Å"),
        sa.Column("b", sa.Float(), nullable=True, comment="Å"),
        sa.Column("c", sa.Float(), nullable=True, comment="Å"),
        sa.Column("alpha", sa.Float(), nullable=True, comment="degrees"),
        sa.Column("beta", sa.Float(), nullable=True, comment="degrees"),
        sa.Column("gamma", sa.Float(), nullable=True, comment="degrees"),
        sa.Column("volume_per_atom", sa.Float(), nullable=True, comment="Å^3/atom"),
        *_nullable_floats(
            "density_g_cm3", "e_a_ev", "e_a_err_ev", "d_300k_cm2_s", "sigma_300k_ms_cm"
        ),
        sa.Column("neb_barrier_ev", sa.Float(), nullable=True, comment="3D percolating, eV"),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_composition_summary_cache_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["composition_id"],
            ["composition.id"],
            name=op.f("fk_composition_summary_cache_composition_id_composition"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["potential_id"],
            ["potential.id"],
            name=op.f("fk_composition_summary_cache_potential_id_potential"),
        ),
        sa.PrimaryKeyConstraint(
            "composition_id", "potential_id", name=op.f("pk_composition_summary_cache")
        ),
    )
    with op.batch_alter_table("composition_summary_cache", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_composition_summary_cache_campaign_id"), ["campaign_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("composition_summary_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_composition_summary_cache_campaign_id"))
    op.drop_table("composition_summary_cache")
