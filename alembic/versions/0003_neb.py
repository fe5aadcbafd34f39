"""NEB: neb_run and neb_hop tables; composition_summary V3 fills neb_barrier_ev with the 3D
percolating barrier of each composition's lowest-energy structure.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 17:29:20.979275
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.views import (
    COMPOSITION_SUMMARY,
    COMPOSITION_SUMMARY_V2,
    COMPOSITION_SUMMARY_V3,
    create_view,
    drop_view,
)

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "neb_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("potential_id", sa.Integer(), nullable=False),
        sa.Column("mechanism", sa.String(length=20), nullable=False),
        sa.Column("cutoff_ang", sa.Float(), nullable=False, comment="Å, longest hop considered"),
        sa.Column("spacegroup", sa.String(length=40), nullable=False),
        sa.Column(
            "grouping", sa.String(length=20), nullable=False, comment="symmetry or environment"
        ),
        sa.Column("n_symmetry_classes", sa.Integer(), nullable=False),
        sa.Column("n_hops_computed", sa.Integer(), nullable=False),
        sa.Column(
            "skipped_json", sa.Text(), nullable=False, comment="hop classes left out by max_hops"
        ),
        sa.Column("barrier_1d_ev", sa.Float(), nullable=True),
        sa.Column("barrier_2d_ev", sa.Float(), nullable=True),
        sa.Column("barrier_3d_ev", sa.Float(), nullable=True),
        sa.Column("profiles_sha256", sa.String(length=64), nullable=True),
        sa.Column("wall_time_s", sa.Float(), nullable=False),
        sa.Column("device", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_neb_run_job_id_job")),
        sa.ForeignKeyConstraint(
            ["potential_id"], ["potential.id"], name=op.f("fk_neb_run_potential_id_potential")
        ),
        sa.ForeignKeyConstraint(
            ["profiles_sha256"],
            ["artifact.sha256"],
            name=op.f("fk_neb_run_profiles_sha256_artifact"),
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_neb_run_structure_id_structure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neb_run")),
        sa.UniqueConstraint("job_id", name=op.f("uq_neb_run_job_id")),
    )
    with op.batch_alter_table("neb_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_neb_run_structure_id"), ["structure_id"], unique=False)

    op.create_table(
        "neb_hop",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("neb_run_id", sa.Integer(), nullable=False),
        sa.Column("hop_index", sa.Integer(), nullable=False),
        sa.Column("start_site", sa.Integer(), nullable=False),
        sa.Column("end_site", sa.Integer(), nullable=False),
        sa.Column(
            "image_json", sa.String(length=60), nullable=False, comment="lattice translation of end"
        ),
        sa.Column("length_ang", sa.Float(), nullable=False),
        sa.Column(
            "multiplicity", sa.Integer(), nullable=False, comment="hops of the class per start"
        ),
        sa.Column(
            "n_members", sa.Integer(), nullable=False, comment="hops of the class in the cell"
        ),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("forward_barrier_ev", sa.Float(), nullable=False),
        sa.Column("reverse_barrier_ev", sa.Float(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("endpoints_converged", sa.Boolean(), nullable=False),
        sa.Column("max_force_ev_ang", sa.Float(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("force_calls", sa.Integer(), nullable=False),
        sa.Column("n_atoms", sa.Integer(), nullable=False, comment="atoms in the band's supercell"),
        sa.Column("wall_time_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["neb_run_id"], ["neb_run.id"], name=op.f("fk_neb_hop_neb_run_id_neb_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neb_hop")),
        sa.UniqueConstraint(
            "neb_run_id", "hop_index", name=op.f("uq_neb_hop_neb_run_id_hop_index")
        ),
    )
    with op.batch_alter_table("neb_hop", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_neb_hop_neb_run_id"), ["neb_run_id"], unique=False)

    drop_view(op, COMPOSITION_SUMMARY)
    create_view(op, COMPOSITION_SUMMARY, COMPOSITION_SUMMARY_V3)


def downgrade() -> None:
    drop_view(op, COMPOSITION_SUMMARY)
    with op.batch_alter_table("neb_hop", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_neb_hop_neb_run_id"))

    op.drop_table("neb_hop")
    with op.batch_alter_table("neb_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_neb_run_structure_id"))

    op.drop_table("neb_run")
    create_view(op, COMPOSITION_SUMMARY, COMPOSITION_SUMMARY_V2)
