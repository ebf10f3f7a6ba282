"""Priority and due dates on tasks; every existing task becomes medium, with no due date.

The priority is stored as a rank (1 low, 2 medium, 3 high, 4 urgent), so sorting by it is a
plain ORDER BY. SQLite cannot add a CHECK constraint to a table, so there the table is copied
(Alembic's batch mode), keeping its rows, ids, indexes and AUTOINCREMENT.

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
        batch.create_check_constraint(op.f("ck_task_priority"), "priority BETWEEN 1 AND 4")


def downgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(op.f("ck_task_priority"), type_="check")
        batch.drop_column("priority")
