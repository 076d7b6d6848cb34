"""Labels of recorded evaluations as rows (an indexed label filter), and a history index by name.

Revision ID: 0003_evaluation_labels
Revises: 0002_evaluations
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_evaluation_labels"
down_revision = "0002_evaluations"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "evaluation_labels",
        sa.Column("evaluation_seq", SERIAL, sa.ForeignKey("evaluations.seq", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(500), nullable=False),
    )
    op.create_index("ix_evaluation_labels_key_value", "evaluation_labels", ["key", "value", "evaluation_seq"])
    op.create_index("ix_evaluations_name_recorded", "evaluations", ["name", "recorded_at", "seq"])
    # Evaluations recorded before this revision keep their labels: copy them out of the JSON column.
    connection = op.get_bind()
    evaluations = sa.table("evaluations", sa.column("seq", SERIAL), sa.column("labels", sa.JSON()))
    labels = sa.table("evaluation_labels", sa.column("evaluation_seq", SERIAL), sa.column("key", sa.String),
                      sa.column("value", sa.String))
    rows = [{"evaluation_seq": seq, "key": key, "value": value}
            for seq, found in connection.execute(sa.select(evaluations.c.seq, evaluations.c.labels))
            for key, value in (found or {}).items()]
    if rows:
        connection.execute(labels.insert(), rows)


def downgrade() -> None:
    op.drop_index("ix_evaluations_name_recorded", "evaluations")
    op.drop_table("evaluation_labels")
