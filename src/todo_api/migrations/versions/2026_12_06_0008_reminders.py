"""Reminders on tasks: when to remind (an instant), minutes before the due date when set that way,
and when the owner acknowledged it; every existing task has none. A reminder relative to the due
date needs one (a CHECK constraint; on SQLite the table is copied to add it, keeping its rows).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("remind_before_minutes", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reminder_acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(
            op.f("ck_task_reminder_needs_due_date"), "remind_before_minutes IS NULL OR due_at IS NOT NULL"
        )
        batch.create_index(op.f("ix_task_user_id_remind_at"), ["user_id", "remind_at"])


def downgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index(op.f("ix_task_user_id_remind_at"))
        batch.drop_constraint(op.f("ck_task_reminder_needs_due_date"), type_="check")
        batch.drop_column("reminder_acknowledged_at")
        batch.drop_column("remind_before_minutes")
        batch.drop_column("remind_at")
