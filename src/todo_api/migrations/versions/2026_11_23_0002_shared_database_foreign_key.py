"""Shared database mode only: a task belongs to a Better Auth user and is deleted with them.

Only with BETTER_AUTH_SHARED_DATABASE=true on PostgreSQL, where Better Auth's "user" table
lives in the same database; a no-op otherwise. The setting is read when this revision is
applied: turning it on later needs `alembic downgrade 0001` and a new `todo-api migrate`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from todo_api.migrations import SHARED_DATABASE_ATTRIBUTE, SHARED_DATABASE_FOREIGN_KEY

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Alembic's own logger: the skip is told wherever its "Running upgrade 0001 -> 0002" line is
# (LOG_LEVEL=debug, or the alembic command), and a service's INFO output stays one line.
logger = logging.getLogger("alembic.runtime.migration")


class SharedDatabaseError(RuntimeError):
    """Shared database mode is on, but the database is not ready for the foreign key."""


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    # Alembic has just logged "Running upgrade 0001 -> 0002, Shared database mode only…"
    # either way; say when it did nothing.
    if not context.config.attributes.get(SHARED_DATABASE_ATTRIBUTE, False):
        _skipped("shared database mode is off (BETTER_AUTH_SHARED_DATABASE)")
        return
    if not _is_postgres():
        _skipped("shared database mode needs PostgreSQL")
        return
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("user"):
        raise SharedDatabaseError(
            'BETTER_AUTH_SHARED_DATABASE is on but this database has no "user" table: '
            "run Better Auth's migrations first, then migrate this service"
        )
    # An orphan would make ADD CONSTRAINT fail with a less helpful message.
    orphans = bind.execute(
        sa.text(
            'SELECT count(*) FROM task WHERE NOT EXISTS (SELECT 1 FROM "user" WHERE "user".id = task.user_id)'
        )
    ).scalar_one()
    if orphans:
        raise SharedDatabaseError(
            f'BETTER_AUTH_SHARED_DATABASE is on but {orphans} task(s) belong to user ids not in "user": '
            "delete them or turn the setting off"
        )
    op.create_foreign_key(
        SHARED_DATABASE_FOREIGN_KEY, "task", "user", ["user_id"], ["id"], ondelete="CASCADE"
    )


def _skipped(reason: str) -> None:
    logger.info(
        "Skipped 0002: %s",
        reason,
        extra={"event": "migration_skipped", "revision": revision},
    )


def downgrade() -> None:
    if _is_postgres():
        op.execute(f'ALTER TABLE task DROP CONSTRAINT IF EXISTS "{SHARED_DATABASE_FOREIGN_KEY}"')
