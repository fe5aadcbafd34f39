"""Cluster expansion (method ce-mc): cluster_expansion (settings, ECIs, CV RMSE) and
ce_training (each training structure, used or dropped with the reason).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cluster_expansion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("potential_id", sa.Integer(), nullable=False),
        sa.Column(
            "training_sha256",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the training energies and the settings",
        ),
        sa.Column(
            "settings_json", sa.Text(), nullable=False, comment="cluster space and fit settings"
        ),
        sa.Column(
            "ecis_json", sa.Text(), nullable=False, comment="ECIs, eV/site, icet orbit order"
        ),
        sa.Column(
            "cv_rmse_mev_site",
            sa.Float(),
            nullable=False,
            comment="meV/site, k-fold cross validation",
        ),
        sa.Column(
            "train_rmse_mev_site",
            sa.Float(),
            nullable=False,
            comment="meV/site, the final fit on every used structure",
        ),
        sa.Column("n_structures_used", sa.Integer(), nullable=False),
        sa.Column(
            "n_structures_dropped",
            sa.Integer(),
            nullable=False,
            comment="relaxed away from the lattice, or not mappable",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_cluster_expansion_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["potential_id"],
            ["potential.id"],
            name=op.f("fk_cluster_expansion_potential_id_potential"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_expansion")),
        sa.UniqueConstraint(
            "campaign_id",
            "potential_id",
            "training_sha256",
            name=op.f("uq_cluster_expansion_campaign_id_potential_id_training_sha256"),
        ),
    )
    op.create_table(
        "ce_training",
        sa.Column("cluster_expansion_id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("relaxation_id", sa.Integer(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("drop_reason", sa.Text(), nullable=True),
        sa.Column(
            "energy_ev_site",
            sa.Float(),
            nullable=True,
            comment="eV per lattice site as fitted; NULL when dropped",
        ),
        sa.Column(
            "max_displacement_ang",
            sa.Float(),
            nullable=True,
            comment="Å, the largest distance of an atom from its ideal site",
        ),
        sa.Column(
            "volumetric_strain",
            sa.Float(),
            nullable=True,
            comment="relative volume change from the ideal lattice",
        ),
        sa.ForeignKeyConstraint(
            ["cluster_expansion_id"],
            ["cluster_expansion.id"],
            name=op.f("fk_ce_training_cluster_expansion_id_cluster_expansion"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["relaxation_id"],
            ["relaxation.id"],
            name=op.f("fk_ce_training_relaxation_id_relaxation"),
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_ce_training_structure_id_structure")
        ),
        sa.PrimaryKeyConstraint(
            "cluster_expansion_id", "structure_id", name=op.f("pk_ce_training")
        ),
    )


def downgrade() -> None:
    op.drop_table("ce_training")
    op.drop_table("cluster_expansion")
