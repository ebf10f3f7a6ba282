"""Search and tag filters on PostgreSQL: one GIN index of trigrams (pg_trgm) of each task's
folded title, description and tag keys, led by its owner (btree_gin), so that a search or a tag
filter of a user with thousands of tasks reads only the tasks that can match.

Both extensions are trusted: a role with CREATE on the database may add them, as the service's
role on Neon and most hosts may. Where they cannot be added, the index is left out with a warning
that names the statements for an administrator to run; every answer is the same without it,
only slower on long lists. SQLite has no such index: a list reads the user's rows.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from todo_api.migrations import SEARCH_INDEX

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("todo_api.migrations")

STATEMENTS = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    f"CREATE INDEX IF NOT EXISTS {SEARCH_INDEX} ON task USING gin "
    "(user_id, title_folded gin_trgm_ops, description_folded gin_trgm_ops, tag_keys gin_trgm_ops)",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        # A savepoint: a refused extension must not abort the migration's transaction.
        with bind.begin_nested():
            for statement in STATEMENTS:
                bind.execute(sa.text(statement))
    except sa.exc.DBAPIError as error:
        logger.warning(
            "search index not created (%s): searches and tag filters give the same answers, "
            "but read every task of the user; an administrator can add it with: %s",
            str(error.orig).splitlines()[0] if error.orig else type(error).__name__,
            "; ".join(STATEMENTS),
            extra={"event": "search_index_skipped"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The extensions stay: other tables may use them.
        op.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")
