"""Initial schema: every table of db.models and the composition_summary view (V1).

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.views import COMPOSITION_SUMMARY, COMPOSITION_SUMMARY_V1, create_view, drop_view

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "potential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "spec",
            sa.String(length=500),
            nullable=False,
            comment="potential spec string, e.g. chgnet",
        ),
        sa.Column("weights_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "parent_id", sa.Integer(), nullable=True, comment="base potential of a fine-tuned one"
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["potential.id"], name=op.f("fk_potential_parent_id_potential")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_potential")),
        sa.UniqueConstraint("name", name=op.f("uq_potential_name")),
        sa.UniqueConstraint(
            "spec", "weights_sha256", name=op.f("uq_potential_spec_weights_sha256")
        ),
    )
    op.create_table(
        "structure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("formula", sa.String(length=200), nullable=False, comment="reduced formula"),
        sa.Column("n_atoms", sa.Integer(), nullable=False),
        sa.Column(
            "origin_kind", sa.String(length=40), nullable=False, comment="sqs, reference, ..."
        ),
        sa.Column("origin_json", sa.Text(), nullable=False, comment="method, seed, objective, ..."),
        sa.Column(
            "structure_json", sa.Text(), nullable=False, comment="pymatgen Structure.as_dict()"
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_structure")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_structure_content_hash")),
    )
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False, comment="the validated campaign spec"),
        sa.Column("potential_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["potential_id"], ["potential.id"], name=op.f("fk_campaign_potential_id_potential")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
        sa.UniqueConstraint("name", name=op.f("uq_campaign_name")),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False, comment="stage name: relax, ..."),
        sa.Column("params_hash", sa.String(length=64), nullable=False),
        sa.Column("params_json", sa.Text(), nullable=False),
        sa.Column("potential_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True, comment="last failure, readable"),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')", name=op.f("ck_job_status")
        ),
        sa.ForeignKeyConstraint(
            ["potential_id"], ["potential.id"], name=op.f("fk_job_potential_id_potential")
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_job_structure_id_structure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint(
            "structure_id",
            "kind",
            "params_hash",
            "potential_id",
            name=op.f("uq_job_structure_id_kind_params_hash_potential_id"),
        ),
    )
    op.create_index(op.f("ix_job_status_kind"), "job", ["status", "kind"])
    op.create_table(
        "composition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("formula", sa.String(length=200), nullable=False, comment="reduced formula"),
        sa.Column(
            "fractions_json",
            sa.String(length=2000),
            nullable=False,
            comment="sublattice fractions {sublattice: {species: fraction}}",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_composition_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_composition")),
        sa.UniqueConstraint(
            "campaign_id", "fractions_json", name=op.f("uq_composition_campaign_id_fractions_json")
        ),
    )
    op.create_table(
        "hull",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("potential_id", sa.Integer(), nullable=False),
        sa.Column(
            "e_hull_ev_atom", sa.Float(), nullable=False, comment="eV/atom; < 0 below the hull"
        ),
        sa.Column(
            "e_form_ev_atom",
            sa.Float(),
            nullable=False,
            comment="formation energy vs the elemental references, eV/atom",
        ),
        sa.Column("decomposition_json", sa.Text(), nullable=False, comment="{formula: fraction}"),
        sa.Column("is_stable", sa.Boolean(), nullable=False),
        sa.Column(
            "computed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_hull_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["potential_id"], ["potential.id"], name=op.f("fk_hull_potential_id_potential")
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_hull_structure_id_structure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hull")),
        sa.UniqueConstraint(
            "campaign_id",
            "structure_id",
            "potential_id",
            name=op.f("uq_hull_campaign_id_structure_id_potential_id"),
        ),
    )
    op.create_index(op.f("ix_hull_structure_id"), "hull", ["structure_id"])
    op.create_table(
        "relaxation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("potential_id", sa.Integer(), nullable=False),
        sa.Column("energy_ev", sa.Float(), nullable=False, comment="total energy, eV"),
        sa.Column("energy_ev_atom", sa.Float(), nullable=False, comment="eV/atom"),
        sa.Column("a", sa.Float(), nullable=False, comment="Å"),
        sa.Column("b", sa.Float(), nullable=False, comment="Å"),
        sa.Column("c", sa.Float(), nullable=False, comment="Å"),
        sa.Column("alpha", sa.Float(), nullable=False, comment="degrees"),
        sa.Column("beta", sa.Float(), nullable=False, comment="degrees"),
        sa.Column("gamma", sa.Float(), nullable=False, comment="degrees"),
        sa.Column("volume_per_atom", sa.Float(), nullable=False, comment="Å^3/atom"),
        sa.Column("density_g_cm3", sa.Float(), nullable=False),
        sa.Column("max_force_ev_ang", sa.Float(), nullable=False, comment="eV/Å at the last step"),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column(
            "final_structure_json",
            sa.Text(),
            nullable=False,
            comment="pymatgen Structure.as_dict()",
        ),
        sa.Column("wall_time_s", sa.Float(), nullable=False, comment="seconds on the worker"),
        sa.Column("device", sa.String(length=40), nullable=False, comment="cpu, cuda:0, ..."),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_relaxation_job_id_job")),
        sa.ForeignKeyConstraint(
            ["potential_id"], ["potential.id"], name=op.f("fk_relaxation_potential_id_potential")
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_relaxation_structure_id_structure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relaxation")),
        sa.UniqueConstraint("job_id", name=op.f("uq_relaxation_job_id")),
    )
    op.create_index(op.f("ix_relaxation_structure_id"), "relaxation", ["structure_id"])
    op.create_table(
        "campaign_structure",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column(
            "composition_id", sa.Integer(), nullable=True, comment="NULL for hull reference phases"
        ),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "role IN ('candidate', 'reference')", name=op.f("ck_campaign_structure_role")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_campaign_structure_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["composition_id"],
            ["composition.id"],
            name=op.f("fk_campaign_structure_composition_id_composition"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"],
            ["structure.id"],
            name=op.f("fk_campaign_structure_structure_id_structure"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", "structure_id", name=op.f("pk_campaign_structure")),
    )
    op.create_index(
        op.f("ix_campaign_structure_composition_id"), "campaign_structure", ["composition_id"]
    )
    create_view(op, COMPOSITION_SUMMARY, COMPOSITION_SUMMARY_V1)


def downgrade() -> None:
    drop_view(op, COMPOSITION_SUMMARY)
    op.drop_index(op.f("ix_campaign_structure_composition_id"), table_name="campaign_structure")
    op.drop_table("campaign_structure")
    op.drop_index(op.f("ix_relaxation_structure_id"), table_name="relaxation")
    op.drop_table("relaxation")
    op.drop_index(op.f("ix_hull_structure_id"), table_name="hull")
    op.drop_table("hull")
    op.drop_table("composition")
    op.drop_index(op.f("ix_job_status_kind"), table_name="job")
    op.drop_table("job")
    op.drop_table("campaign")
    op.drop_table("structure")
    op.drop_table("potential")
