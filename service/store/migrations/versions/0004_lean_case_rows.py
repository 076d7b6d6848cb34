"""Case rows keep their position and body only: a run's cases are always read whole, in order, so the
id, type and status copied out of the body were written for every case and never read.

Revision ID: 0004_lean_case_rows
Revises: 0003_evaluation_labels
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_lean_case_rows"
down_revision = "0003_evaluation_labels"
branch_labels = None
depends_on = None

COPIED = (("case_id", 200, "id"), ("type", 50, "type"), ("status", 10, "status"))


def upgrade() -> None:
    with op.batch_alter_table("run_cases") as batch:
        for column, _, _ in COPIED:
            batch.drop_column(column)


def downgrade() -> None:
    with op.batch_alter_table("run_cases") as batch:
        for column, length, _ in COPIED:
            batch.add_column(sa.Column(column, sa.String(length), nullable=True))
    # Fill them again from the bodies, then require them as revision 0001 did.
    if op.get_bind().dialect.name == "postgresql":
        fills = ", ".join(f"{column} = body::json ->> '{key}'" for column, _, key in COPIED)
    else:
        fills = ", ".join(f"{column} = json_extract(body, '$.{key}')" for column, _, key in COPIED)
    op.execute(f"UPDATE run_cases SET {fills}")
    with op.batch_alter_table("run_cases") as batch:
        for column, length, _ in COPIED:
            batch.alter_column(column, existing_type=sa.String(length), nullable=False)
