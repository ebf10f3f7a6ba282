"""Reminders fire: each task keeps the `remind_at` that last fired (`reminder_fired_for`), so a
reminder is due to fire while its instant has come and differs from that one, it is not
acknowledged and its task is not completed. A reminder moved to a new instant fires again with
nothing to reset; a recurring task's next occurrence is a new row, which has fired nothing.

The index holds exactly the reminders still to fire (a partial index: its condition is the
claim's, bar the time), ordered by when they are due, so the schedulers' claim of the earliest
due ones reads only those however many tasks there are; a reminder leaves it when it fires, is
acknowledged, or its task is completed. Both databases have one; each planner uses it only for
a query that repeats its condition's terms as they are written here (`events/statements.py`).

Marking a reminder fired leaves `updated_at` as it was, so migration 0012's update triggers
write no `task.updated` for it. Its `reminder.due` event is written with the mark: on
PostgreSQL by the schedulers' claim statement itself (a data-modifying CTE); on SQLite, which
has none, by a trigger on the mark, shaped as 0012's triggers are (the same sequence, the same
snapshot of the task). The column is added in place, never by copying the table, which would
drop 0012's triggers on SQLite.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_task_reminder_to_fire"
POSTGRES_TO_FIRE = (
    "remind_at IS NOT NULL AND remind_at IS DISTINCT FROM reminder_fired_for "
    "AND reminder_acknowledged_at IS NULL AND status <> 'completed'"
)
# SQLite's spelling of IS DISTINCT FROM.
SQLITE_TO_FIRE = (
    "remind_at IS NOT NULL AND remind_at IS NOT reminder_fired_for "
    "AND reminder_acknowledged_at IS NULL AND status <> 'completed'"
)
# What a `reminder.due` event keeps of its task on SQLite: migration 0012's snapshot columns.
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
_SNAPSHOT = "json_object({})".format(", ".join(f"'{name}', NEW.{name}" for name in SNAPSHOT_COLUMNS))
# As migration 0012's triggers write them: SQLAlchemy's timestamp format, a version 4 UUID.
_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
_UUID = (
    "lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-' || "
    "substr('89ab', 1 + (abs(random()) % 4), 1) || substr(h, 18, 3) || '-' || substr(h, 21, 12))"
)
SQLITE_TRIGGER = f"""
    CREATE TRIGGER task_event_on_reminder_fired AFTER UPDATE OF reminder_fired_for ON task FOR EACH ROW
    WHEN NEW.reminder_fired_for IS NOT NULL AND NEW.reminder_fired_for IS NOT OLD.reminder_fired_for
    BEGIN
        INSERT INTO event_sequence (user_id, last_seq) VALUES (NEW.user_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET last_seq = last_seq + 1;
        INSERT INTO task_event (user_id, seq, event_id, type, task_id, task, at)
        SELECT NEW.user_id, counter.last_seq, {_UUID}, 'reminder.due', NEW.id, {_SNAPSHOT}, {_NOW}
        FROM event_sequence AS counter, (SELECT hex(randomblob(16)) AS h)
        WHERE counter.user_id = NEW.user_id;
    END
    """  # noqa: S608  # built from the constants above


def upgrade() -> None:
    op.add_column("task", sa.Column("reminder_fired_for", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        op.f(INDEX),
        "task",
        ["remind_at"],
        postgresql_where=sa.text(POSTGRES_TO_FIRE),
        sqlite_where=sa.text(SQLITE_TO_FIRE),
    )
    if op.get_bind().dialect.name != "postgresql":
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS task_event_on_reminder_fired")
    op.drop_index(op.f(INDEX), table_name="task")
    op.drop_column("task", "reminder_fired_for")
