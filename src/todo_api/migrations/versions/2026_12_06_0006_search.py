"""Search: each task's title and description case-folded, as the service now writes them.

The columns are filled here for existing tasks with Python's own case folding (`str.casefold`),
which is what the service uses; SQL's lower() differs from it beyond ASCII (SQLite's stops at
ASCII, and neither folds "ß" to "ss").

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
task = sa.table(
    "task",
    sa.column("id", sa.Integer),
    sa.column("title", sa.Text),
    sa.column("description", sa.Text),
    sa.column("title_folded", sa.Text),
    sa.column("description_folded", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("title_folded", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("description_folded", sa.Text(), nullable=True))
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(task.c.id, task.c.title, task.c.description)
            .where(task.c.id > last_id)
            .order_by(task.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            task.update()
            .where(task.c.id == sa.bindparam("task_id"))
            .values(
                title_folded=sa.bindparam("folded_title"),
                description_folded=sa.bindparam("folded_description"),
            ),
            [
                {
                    "task_id": row.id,
                    "folded_title": row.title.casefold(),
                    "folded_description": None if row.description is None else row.description.casefold(),
                }
                for row in rows
            ],
        )
        last_id = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("task", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("description_folded")
        batch.drop_column("title_folded")
