"""Runs: a suite run, its cases and its labels.

Revision ID: 0001_runs
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_runs"
down_revision = None
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("seq", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True, unique=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("suite", sa.String(200), nullable=False),
        sa.Column("target", sa.String(700), nullable=False),
        sa.Column("target_type", sa.String(50), nullable=False),
        sa.Column("target_url", sa.String(500), nullable=False),
        sa.Column("target_model", sa.String(200), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("cases_total", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
    )
    op.create_index("ix_runs_suite_started", "runs", ["suite", "started_at", "seq"])
    op.create_index("ix_runs_suite_target_started", "runs", ["suite", "target", "started_at", "seq"])
    op.create_index("ix_runs_started", "runs", ["started_at", "seq"])
    op.create_table(
        "run_cases",
        sa.Column("run_seq", SERIAL, primary_key=True, autoincrement=False),  # no foreign key: tables.RunCase
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),  # JSON, serialized once (tables.JSONText)
    )
    op.create_table(
        "run_labels",
        sa.Column("run_seq", SERIAL, sa.ForeignKey("runs.seq", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(500), nullable=False),
    )
    op.create_index("ix_run_labels_key_value", "run_labels", ["key", "value", "run_seq"])


def downgrade() -> None:
    op.drop_table("run_labels")
    op.drop_table("run_cases")
    op.drop_table("runs")
