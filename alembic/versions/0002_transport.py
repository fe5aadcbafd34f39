"""Transport: md_run, arrhenius and artifact tables; composition_summary V2 fills E_a,
D(300 K) and sigma(300 K) from the Arrhenius fit of each composition's lowest-energy structure.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 15:11:01.887550
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.views import (
    COMPOSITION_SUMMARY,
    COMPOSITION_SUMMARY_V1,
    COMPOSITION_SUMMARY_V2,
    create_view,
    drop_view,
)

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artifact",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=40),
            nullable=False,
            comment="trajectory, msd, pre_failure, ...",
        ),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_artifact")),
    )
    op.create_table(
        "arrhenius",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("potential_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("e_a_ev", sa.Float(), nullable=False),
        sa.Column("e_a_err_ev", sa.Float(), nullable=True, comment="NULL with 2 temperatures"),
        sa.Column("d0_cm2_s", sa.Float(), nullable=False),
        sa.Column("d_300k_cm2_s", sa.Float(), nullable=False),
        sa.Column("d_300k_low_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_300k_high_cm2_s", sa.Float(), nullable=True),
        sa.Column("sigma_300k_ms_cm", sa.Float(), nullable=True),
        sa.Column("sigma_300k_low_ms_cm", sa.Float(), nullable=True),
        sa.Column("sigma_300k_high_ms_cm", sa.Float(), nullable=True),
        sa.Column(
            "temperatures_json", sa.Text(), nullable=False, comment="K, the stable runs used"
        ),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "direction IN ('total', 'a', 'b', 'c', 'ab', 'ac', 'bc')",
            name=op.f("ck_arrhenius_direction"),
        ),
        sa.ForeignKeyConstraint(
            ["potential_id"], ["potential.id"], name=op.f("fk_arrhenius_potential_id_potential")
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_arrhenius_structure_id_structure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrhenius")),
        sa.UniqueConstraint(
            "structure_id",
            "potential_id",
            "direction",
            "source",
            name=op.f("uq_arrhenius_structure_id_potential_id_direction_source"),
        ),
    )
    with op.batch_alter_table("arrhenius", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_arrhenius_structure_id"), ["structure_id"], unique=False
        )

    op.create_table(
        "md_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("potential_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("temperature_k", sa.Float(), nullable=False),
        sa.Column("timestep_fs", sa.Float(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False, comment="production steps asked for"),
        sa.Column("steps_done", sa.Integer(), nullable=False, comment="including equilibration"),
        sa.Column("thermostat", sa.String(length=40), nullable=False),
        sa.Column("n_atoms", sa.Integer(), nullable=False),
        sa.Column("n_mobile", sa.Integer(), nullable=False),
        sa.Column("volume_ang3", sa.Float(), nullable=False, comment="Å^3 of the MD cell"),
        sa.Column("stable", sa.Boolean(), nullable=False),
        sa.Column("instability_reason", sa.Text(), nullable=True),
        sa.Column("catastrophic_step", sa.Integer(), nullable=True),
        sa.Column(
            "diffusive", sa.Boolean(), nullable=False, comment="the MSD reached a diffusive regime"
        ),
        sa.Column("d_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_err_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_a_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_a_err_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_b_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_b_err_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_c_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_c_err_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_ab_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_ab_err_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_ac_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_ac_err_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_bc_cm2_s", sa.Float(), nullable=True),
        sa.Column("d_bc_err_cm2_s", sa.Float(), nullable=True),
        sa.Column("fit_start_ps", sa.Float(), nullable=True),
        sa.Column("fit_end_ps", sa.Float(), nullable=True),
        sa.Column("n_eff", sa.Float(), nullable=True, comment="He et al. 2018 N_eff"),
        sa.Column("haven_ratio", sa.Float(), nullable=True),
        sa.Column("sigma_ms_cm", sa.Float(), nullable=True, comment="Nernst-Einstein at T"),
        sa.Column("trajectory_sha256", sa.String(length=64), nullable=True),
        sa.Column("analysis_sha256", sa.String(length=64), nullable=True),
        sa.Column("pre_failure_sha256", sa.String(length=64), nullable=True),
        sa.Column("wall_time_s", sa.Float(), nullable=False),
        sa.Column("device", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_sha256"],
            ["artifact.sha256"],
            name=op.f("fk_md_run_analysis_sha256_artifact"),
        ),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_md_run_job_id_job")),
        sa.ForeignKeyConstraint(
            ["potential_id"], ["potential.id"], name=op.f("fk_md_run_potential_id_potential")
        ),
        sa.ForeignKeyConstraint(
            ["pre_failure_sha256"],
            ["artifact.sha256"],
            name=op.f("fk_md_run_pre_failure_sha256_artifact"),
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_md_run_structure_id_structure")
        ),
        sa.ForeignKeyConstraint(
            ["trajectory_sha256"],
            ["artifact.sha256"],
            name=op.f("fk_md_run_trajectory_sha256_artifact"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_md_run")),
        sa.UniqueConstraint("job_id", name=op.f("uq_md_run_job_id")),
    )
    with op.batch_alter_table("md_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_md_run_structure_id"), ["structure_id"], unique=False)

    drop_view(op, COMPOSITION_SUMMARY)
    create_view(op, COMPOSITION_SUMMARY, COMPOSITION_SUMMARY_V2)


def downgrade() -> None:
    drop_view(op, COMPOSITION_SUMMARY)
    with op.batch_alter_table("md_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_md_run_structure_id"))

    op.drop_table("md_run")
    with op.batch_alter_table("arrhenius", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_arrhenius_structure_id"))

    op.drop_table("arrhenius")
    op.drop_table("artifact")
    create_view(op, COMPOSITION_SUMMARY, COMPOSITION_SUMMARY_V1)
