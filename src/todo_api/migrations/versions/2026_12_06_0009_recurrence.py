"""Recurring tasks: a pattern and interval or an RRULE, the day of the month a monthly or yearly
pattern keeps, and the next occurrence completing a task created; every existing task repeats
not. A recurring task needs a due date (a CHECK constraint; on SQLite the table is copied to add
it, keeping its rows).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("recurrence_pattern", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("recurrence_interval", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("recurrence_rule", sa.Text(), nullable=True))
        batch.add_column(sa.Column("recurrence_anchor_day", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("next_task_id", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_task_recurrence_needs_due_date"), "recurrence_pattern IS NULL OR due_at IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(op.f("ck_task_recurrence_needs_due_date"), type_="check")
        batch.drop_column("next_task_id")
        batch.drop_column("recurrence_anchor_day")
        batch.drop_column("recurrence_rule")
        batch.drop_column("recurrence_interval")
        batch.drop_column("recurrence_pattern")
