"""Fine-tuning: dataset and frame tables (labelled frames, split by hash), provenance
columns of fine-tuned potentials, and the sis_generation record of stability-indicated
sampling.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 20:22:00.325205
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


@contextmanager
def _rebuilding_potential() -> Iterator[None]:
    """SQLite rebuilds ``potential`` (copy, drop, rename), and its RENAME refuses while the
    view composition_summary names the dropped table; the legacy RENAME leaves views alone.
    The view's text names ``potential``, which exists again once the rename is done."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA legacy_alter_table = ON")
    yield
    if sqlite:
        op.execute("PRAGMA legacy_alter_table = OFF")


def upgrade() -> None:
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("valid_fraction", sa.Float(), nullable=False),
        sa.Column("test_fraction", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset")),
        sa.UniqueConstraint("name", name=op.f("uq_dataset_name")),
    )
    op.create_table(
        "frame",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column(
            "frame_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of species, positions, cell (1e-4 Å) and energy (1e-6 eV)",
        ),
        sa.Column(
            "split",
            sa.String(length=10),
            nullable=False,
            comment="train, valid or test, from the hash",
        ),
        sa.Column("formula", sa.String(length=200), nullable=False, comment="reduced formula"),
        sa.Column("n_atoms", sa.Integer(), nullable=False),
        sa.Column(
            "structure_json",
            sa.Text(),
            nullable=False,
            comment="numbers, cell (Å), positions (Å), pbc",
        ),
        sa.Column("energy_ev", sa.Float(), nullable=False, comment="total energy, eV"),
        sa.Column("forces_json", sa.Text(), nullable=False, comment="eV/Å, n_atoms x 3"),
        sa.Column(
            "stress_json", sa.Text(), nullable=True, comment="eV/Å^3, Voigt xx yy zz yz xz xy"
        ),
        sa.Column(
            "source", sa.String(length=1000), nullable=False, comment="file, or how it was made"
        ),
        sa.Column("functional", sa.String(length=100), nullable=True, comment="PBE, r2SCAN, ..."),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("split IN ('train', 'valid', 'test')", name=op.f("ck_frame_split")),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_frame_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frame")),
        sa.UniqueConstraint(
            "dataset_id", "frame_hash", name=op.f("uq_frame_dataset_id_frame_hash")
        ),
    )
    with op.batch_alter_table("frame", schema=None) as batch_op:
        batch_op.create_index("ix_frame_dataset_id_split", ["dataset_id", "split"], unique=False)

    op.create_table(
        "sis_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_name", sa.String(length=200), nullable=False, comment="the SIS run"),
        sa.Column("generation", sa.Integer(), nullable=False, comment="0 for the starting model"),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("next_model_id", sa.Integer(), nullable=True),
        sa.Column("temperatures_json", sa.Text(), nullable=False, comment="target temperatures, K"),
        sa.Column("window_low", sa.Float(), nullable=False, comment="x target temperature"),
        sa.Column("window_high", sa.Float(), nullable=False, comment="x target temperature"),
        sa.Column("md_steps", sa.Integer(), nullable=False, comment="production steps to survive"),
        sa.Column("runs", sa.Integer(), nullable=False, comment="structures x temperatures"),
        sa.Column("unstable_runs", sa.Integer(), nullable=False),
        sa.Column("stable", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True, comment="why the first run failed"),
        sa.Column("catastrophic_step", sa.Integer(), nullable=True),
        sa.Column("t_cp_ps", sa.Float(), nullable=True, comment="catastrophic point, ps"),
        sa.Column(
            "window_ps", sa.Float(), nullable=False, comment="labelled: [t_cp - window, t_cp)"
        ),
        sa.Column("frames_added", sa.Integer(), nullable=False),
        sa.Column("learning_rate", sa.Float(), nullable=True, comment="of the next model"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["dataset.id"], name=op.f("fk_sis_generation_dataset_id_dataset")
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["potential.id"], name=op.f("fk_sis_generation_model_id_potential")
        ),
        sa.ForeignKeyConstraint(
            ["next_model_id"],
            ["potential.id"],
            name=op.f("fk_sis_generation_next_model_id_potential"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_generation")),
        sa.UniqueConstraint(
            "run_name", "generation", name=op.f("uq_sis_generation_run_name_generation")
        ),
    )
    with _rebuilding_potential(), op.batch_alter_table("potential", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "dataset_id", sa.Integer(), nullable=True, comment="dataset it was fine-tuned on"
            )
        )
        batch_op.add_column(
            sa.Column(
                "split_json",
                sa.Text(),
                nullable=True,
                comment="{split: {frames, frame_hashes_sha256}} of the frames used",
            )
        )
        batch_op.add_column(
            sa.Column(
                "hyperparameters_json",
                sa.Text(),
                nullable=True,
                comment="trainer settings: epochs, learning rate, batch size, ...",
            )
        )
        batch_op.add_column(
            sa.Column(
                "model_sha256",
                sa.String(length=64),
                nullable=True,
                comment="the model file in the artifact store",
            )
        )
        batch_op.add_column(
            sa.Column(
                "test_energy_rmse_mev_atom",
                sa.Float(),
                nullable=True,
                comment="meV/atom on the test split",
            )
        )
        batch_op.add_column(
            sa.Column(
                "test_force_rmse_mev_ang",
                sa.Float(),
                nullable=True,
                comment="meV/Å per force component on the test split",
            )
        )
        batch_op.add_column(
            sa.Column(
                "test_stress_rmse_gpa",
                sa.Float(),
                nullable=True,
                comment="GPa per stress component, test frames with stress",
            )
        )
        batch_op.add_column(
            sa.Column("training_wall_time_s", sa.Float(), nullable=True, comment="seconds")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_potential_model_sha256_artifact"),
            "artifact",
            ["model_sha256"],
            ["sha256"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_potential_dataset_id_dataset"), "dataset", ["dataset_id"], ["id"]
        )


def downgrade() -> None:
    with _rebuilding_potential(), op.batch_alter_table("potential", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_potential_dataset_id_dataset"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_potential_model_sha256_artifact"), type_="foreignkey"
        )
        batch_op.drop_column("training_wall_time_s")
        batch_op.drop_column("test_stress_rmse_gpa")
        batch_op.drop_column("test_force_rmse_mev_ang")
        batch_op.drop_column("test_energy_rmse_mev_atom")
        batch_op.drop_column("model_sha256")
        batch_op.drop_column("hyperparameters_json")
        batch_op.drop_column("split_json")
        batch_op.drop_column("dataset_id")

    op.drop_table("sis_generation")
    with op.batch_alter_table("frame", schema=None) as batch_op:
        batch_op.drop_index("ix_frame_dataset_id_split")

    op.drop_table("frame")
    op.drop_table("dataset")
