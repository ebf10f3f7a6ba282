"""PostgreSQL: a per-user count of tasks, kept by triggers, so a create is one statement.

Creating a task checks the quota and inserts in one statement (see `todo_api.tasks.statements`):
it locks the user's `task_quota` row (INSERT ... ON CONFLICT DO UPDATE waits for, then
re-reads, the latest version) and inserts only while `used` is under the limit. Concurrent
creates of one user queue on that row, so the quota stays exact without a transaction.

Triggers, not the service, keep `used` equal to the user's number of tasks, so it stays true
whichever path adds or removes tasks: the service, Better Auth deleting a user (the cascade of
migration 0002), a bulk COPY, an operator's DELETE or TRUNCATE. Statement-level triggers with
transition tables update each user's row once per statement, so a cascade or a COPY of many
rows costs one update per user, not one per row. SQLite needs none of this: its single write
lock already serialises a statement that counts and inserts at once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    # Writers wait while the triggers are created and the counts taken, so none is missed.
    "LOCK TABLE task IN SHARE ROW EXCLUSIVE MODE",
    """
    CREATE TABLE task_quota (
        user_id VARCHAR(255) NOT NULL,
        used INTEGER NOT NULL,
        CONSTRAINT pk_task_quota PRIMARY KEY (user_id)
    )
    """,
    """
    CREATE FUNCTION task_quota_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO task_quota (user_id, used)
        SELECT user_id, count(*) FROM inserted_tasks GROUP BY user_id
        ON CONFLICT (user_id) DO UPDATE SET used = task_quota.used + excluded.used;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION task_quota_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE task_quota SET used = task_quota.used - gone.tasks
        FROM (SELECT user_id, count(*) AS tasks FROM deleted_tasks GROUP BY user_id) AS gone
        WHERE task_quota.user_id = gone.user_id;
        RETURN NULL;
    END
    $$
    """,
    # The service never moves a task to another user; this keeps the count true if anyone does.
    """
    CREATE FUNCTION task_quota_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE task_quota SET used = used - 1 WHERE user_id = OLD.user_id;
        INSERT INTO task_quota (user_id, used) VALUES (NEW.user_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET used = task_quota.used + 1;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION task_quota_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM task_quota;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER task_quota_on_insert AFTER INSERT ON task
    REFERENCING NEW TABLE AS inserted_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION task_quota_count_inserted()
    """,
    """
    CREATE TRIGGER task_quota_on_delete AFTER DELETE ON task
    REFERENCING OLD TABLE AS deleted_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION task_quota_count_deleted()
    """,
    # Only an UPDATE that sets user_id fires it; the service's updates never do, so they pay nothing.
    """
    CREATE TRIGGER task_quota_on_move AFTER UPDATE OF user_id ON task
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION task_quota_count_moved()
    """,
    """
    CREATE TRIGGER task_quota_on_truncate AFTER TRUNCATE ON task
    FOR EACH STATEMENT EXECUTE FUNCTION task_quota_count_truncated()
    """,
    "INSERT INTO task_quota (user_id, used) SELECT user_id, count(*) FROM task GROUP BY user_id",
)

DOWNGRADE = (
    "DROP TRIGGER IF EXISTS task_quota_on_truncate ON task",
    "DROP TRIGGER IF EXISTS task_quota_on_move ON task",
    "DROP TRIGGER IF EXISTS task_quota_on_delete ON task",
    "DROP TRIGGER IF EXISTS task_quota_on_insert ON task",
    "DROP FUNCTION IF EXISTS task_quota_count_truncated()",
    "DROP FUNCTION IF EXISTS task_quota_count_moved()",
    "DROP FUNCTION IF EXISTS task_quota_count_deleted()",
    "DROP FUNCTION IF EXISTS task_quota_count_inserted()",
    "DROP TABLE IF EXISTS task_quota",
)


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _is_postgres():
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if _is_postgres():
        for statement in DOWNGRADE:
            op.execute(statement)
