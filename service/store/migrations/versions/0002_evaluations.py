"""Recorded metric evaluations.

Revision ID: 0002_evaluations
Revises: 0001_runs
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_evaluations"
down_revision = "0001_runs"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("intervals", sa.JSON(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_evaluations_name_metric_recorded", "evaluations", ["name", "metric", "recorded_at", "seq"])


def downgrade() -> None:
    op.drop_table("evaluations")
