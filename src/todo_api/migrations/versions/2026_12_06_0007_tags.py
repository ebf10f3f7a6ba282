"""Tags on tasks: their names and their case-folded keys (see `todo_api.tasks.tags`); every
existing task has none.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("tags", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("tag_keys", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("tag_keys")
        batch.drop_column("tags")
