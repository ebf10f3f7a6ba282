"""The outbox: an event for every change of a task, written by the change's own statement.

Triggers, not the service, write the events, so no change is ever without its event and no
event without its change, whichever path writes: the service's one-statement writes (still one
round trip), a recurring task's next occurrence, a tag renamed on many tasks, Better Auth
deleting a user (the cascade of migration 0002), an operator's SQL. A task inserted is
`task.created`; updated, `task.updated` (`task.completed` when its status became completed);
deleted, `task.deleted`. An UPDATE that leaves `updated_at` as it was (every write of the
service sets it) is no change and writes no event.

Each user's events are numbered 1, 2, 3, ... by `event_sequence`, whose row the trigger updates:
the row stays locked until the writing transaction ends, so one user's events commit in the
order of their numbers and a reader that has seen number n has seen everything before it.
Another user's writes never wait for it. On PostgreSQL the trigger also sends a NOTIFY on
`todo_api_events` with the user's id, delivered when the transaction commits (and only then),
which wakes every instance's subscribers of that user.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_TYPES = ("task.created", "task.updated", "task.completed", "task.deleted", "reminder.due")
# What an event keeps of its task (the columns a task's answer is written from), as they were
# when migration 0012 was written.
SNAPSHOT_COLUMNS = (
    "id",
    "user_id",
    "title",
    "description",
    "status",
    "priority",
    "tags",
    "due_at",
    "due_all_day",
    "overdue_after",
    "remind_at",
    "remind_before_minutes",
    "reminder_acknowledged_at",
    "recurrence_pattern",
    "recurrence_interval",
    "recurrence_rule",
    "recurrence_anchor_day",
    "next_task_id",
    "timezone",
    "created_at",
    "updated_at",
)

POSTGRES_UPGRADE = (
    """
    CREATE FUNCTION task_event_record() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        owner text;
        next_seq bigint;
        kind text;
        snapshot text;
        changed integer;
    BEGIN
        IF TG_OP = 'DELETE' THEN
            owner := OLD.user_id;
            changed := OLD.id;
            kind := 'task.deleted';
        ELSE
            owner := NEW.user_id;
            changed := NEW.id;
            snapshot := (to_jsonb(NEW) - 'title_folded' - 'description_folded' - 'tag_keys')::text;
            IF TG_OP = 'INSERT' THEN
                kind := 'task.created';
            ELSIF NEW.status = 'completed' AND OLD.status IS DISTINCT FROM 'completed' THEN
                kind := 'task.completed';
            ELSE
                kind := 'task.updated';
            END IF;
        END IF;
        INSERT INTO event_sequence AS counter (user_id, last_seq) VALUES (owner, 1)
        ON CONFLICT (user_id) DO UPDATE SET last_seq = counter.last_seq + 1
        RETURNING last_seq INTO next_seq;
        INSERT INTO task_event (user_id, seq, event_id, type, task_id, task, at)
        VALUES (owner, next_seq, gen_random_uuid()::text, kind, changed, snapshot, clock_timestamp());
        PERFORM pg_notify('todo_api_events', owner);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER task_event_on_insert_or_delete AFTER INSERT OR DELETE ON task
    FOR EACH ROW EXECUTE FUNCTION task_event_record()
    """,
    """
    CREATE TRIGGER task_event_on_update AFTER UPDATE ON task
    FOR EACH ROW WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at)
    EXECUTE FUNCTION task_event_record()
    """,
)
POSTGRES_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS task_event_on_update ON task",
    "DROP TRIGGER IF EXISTS task_event_on_insert_or_delete ON task",
    "DROP FUNCTION IF EXISTS task_event_record()",
)


def _sqlite_snapshot(row: str) -> str:
    pairs = ", ".join(f"'{name}', {row}.{name}" for name in SNAPSHOT_COLUMNS)
    return f"json_object({pairs})"


def _sqlite_trigger(name: str, when: str, row: str, kind: str, snapshot: str) -> str:
    # SQLAlchemy's format for a timestamp on SQLite (naive UTC, microseconds), so that event
    # times compare as text with the ones it writes.
    now = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
    uuid = (
        "lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-' || "
        "substr('89ab', 1 + (abs(random()) % 4), 1) || substr(h, 18, 3) || '-' || substr(h, 21, 12))"
    )
    # Built from this module's own constants, never from input.
    return f"""
    CREATE TRIGGER {name} {when} ON task FOR EACH ROW{_sqlite_condition(name)}
    BEGIN
        INSERT INTO event_sequence (user_id, last_seq) VALUES ({row}.user_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET last_seq = last_seq + 1;
        INSERT INTO task_event (user_id, seq, event_id, type, task_id, task, at)
        SELECT {row}.user_id, counter.last_seq, {uuid}, {kind}, {row}.id, {snapshot}, {now}
        FROM event_sequence AS counter, (SELECT hex(randomblob(16)) AS h)
        WHERE counter.user_id = {row}.user_id;
    END
    """  # noqa: S608


def _sqlite_condition(name: str) -> str:
    return " WHEN OLD.updated_at IS NOT NEW.updated_at" if name.endswith("update") else ""


SQLITE_UPGRADE = (
    _sqlite_trigger("task_event_on_insert", "AFTER INSERT", "NEW", "'task.created'", _sqlite_snapshot("NEW")),
    _sqlite_trigger(
        "task_event_on_update",
        "AFTER UPDATE",
        "NEW",
        "CASE WHEN NEW.status = 'completed' AND OLD.status IS NOT 'completed' "
        "THEN 'task.completed' ELSE 'task.updated' END",
        _sqlite_snapshot("NEW"),
    ),
    _sqlite_trigger("task_event_on_delete", "AFTER DELETE", "OLD", "'task.deleted'", "NULL"),
)
SQLITE_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS task_event_on_delete",
    "DROP TRIGGER IF EXISTS task_event_on_update",
    "DROP TRIGGER IF EXISTS task_event_on_insert",
)


def upgrade() -> None:
    op.create_table(
        "event_sequence",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_event_sequence")),
    )
    types = ", ".join(f"'{kind}'" for kind in EVENT_TYPES)
    op.create_table(
        "task_event",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"type IN ({types})", name=op.f("ck_task_event_type")),
        sa.PrimaryKeyConstraint("user_id", "seq", name=op.f("pk_task_event")),
    )
    op.create_index(op.f("ix_task_event_at"), "task_event", ["at"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_UPGRADE if postgres else SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_DOWNGRADE if postgres else SQLITE_DOWNGRADE:
        op.execute(statement)
    op.drop_table("task_event")
    op.drop_table("event_sequence")
