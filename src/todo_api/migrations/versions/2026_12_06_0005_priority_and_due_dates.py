"""Priority and due dates on tasks; every existing task becomes medium, with no due date, in UTC.

The priority is stored as a rank (1 low, 2 medium, 3 high, 4 urgent), so sorting by it is a
plain ORDER BY. A due date is an instant (`due_at`, UTC), whether the task is all-day, and the
last instant it is on time (`overdue_after`, for the `overdue` filter); the time zone is an IANA name, NULL for UTC (see `todo_api.tasks.due_dates`). SQLite cannot add a
CHECK constraint to a table, so there the table is copied (Alembic's batch mode), keeping its
rows, ids, indexes and AUTOINCREMENT.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("priority", sa.SmallInteger(), server_default="2", nullable=False))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("due_all_day", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("overdue_after", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("timezone", sa.Text(), nullable=True))
        batch.create_check_constraint(op.f("ck_task_priority"), "priority BETWEEN 1 AND 4")
        batch.create_index(op.f("ix_task_user_id_due_at_id"), ["user_id", "due_at", "id"])
        batch.create_index(op.f("ix_task_user_id_priority_id"), ["user_id", "priority", "id"])


def downgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index(op.f("ix_task_user_id_priority_id"))
        batch.drop_index(op.f("ix_task_user_id_due_at_id"))
        batch.drop_constraint(op.f("ck_task_priority"), type_="check")
        batch.drop_column("timezone")
        batch.drop_column("overdue_after")
        batch.drop_column("due_all_day")
        batch.drop_column("due_at")
        batch.drop_column("priority")
