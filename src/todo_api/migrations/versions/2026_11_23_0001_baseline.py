"""Baseline: the task table and the indexes its list query uses.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'in_progress', 'completed')", name=op.f("ck_task_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_task_user_id_created_at_id"), "task", ["user_id", "created_at", "id"])
    op.create_index(
        op.f("ix_task_user_id_status_created_at_id"), "task", ["user_id", "status", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_task_user_id_status_created_at_id"), table_name="task")
    op.drop_index(op.f("ix_task_user_id_created_at_id"), table_name="task")
    op.drop_table("task")
