"""Conversations with the assistant and their messages (deleted with their conversation).

In shared database mode, a conversation belongs to a Better Auth user and is deleted with them,
as a task is: the foreign key is added exactly where tasks have migration 0002's, so the two
always agree (turning shared database mode on later means migrating down past both; see 0002).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from todo_api.migrations import CONVERSATION_USER_FOREIGN_KEY, SHARED_DATABASE_FOREIGN_KEY

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("message_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_conversation_user_id_updated_at_id"), "conversation", ["user_id", "updated_at", "id"]
    )
    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tool_calls", sa.Text(), nullable=True),
        sa.Column("unanswered", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('user', 'assistant')", name=op.f("ck_message_role")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_message_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_message_conversation_id_id"), "message", ["conversation_id", "id"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        task_keys = {key["name"] for key in sa.inspect(bind).get_foreign_keys("task")}
        if SHARED_DATABASE_FOREIGN_KEY in task_keys:
            op.create_foreign_key(
                CONVERSATION_USER_FOREIGN_KEY, "conversation", "user", ["user_id"], ["id"], ondelete="CASCADE"
            )


def downgrade() -> None:
    # The foreign keys and indexes go with their tables.
    op.drop_table("message")
    op.drop_table("conversation")
