"""The events feature's statements: reading a user's outbox after a position, the relay's
reading of what it has not published and advancing past it, pruning, and firing due reminders.

A task's changes are written to the outbox by the task table's triggers (migration 0012), never
by these; a reminder's firing is no change of its task, and FIRE_DUE writes its event.
"""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from todo_api.db.query import Query
from todo_api.models import (
    TaskStatus,
    UTCDateTime,
    event_relay_table,
    event_sequence_table,
    event_ticket_table,
    task_event_table,
    task_table,
)

events = task_event_table.c
counters = event_sequence_table.c
relayed = event_relay_table.c
Upsert = TypeVar("Upsert", postgresql.Insert, sqlite.Insert)
OWNER = sa.bindparam("owner", type_=sa.String)
AFTER = sa.bindparam("after", type_=sa.BigInteger)
EVENT_COLUMNS = (
    events.seq,
    events.event_id,
    events.type,
    events.user_id,
    events.task_id,
    events.task,
    events.at,
)

# The user's events after a position, oldest first.
EVENTS_AFTER = Query(
    sa.select(*EVENT_COLUMNS)
    .where(events.user_id == OWNER, events.seq > AFTER)
    .order_by(events.seq)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
# Where the user's events stand: the latest number, and the oldest still kept (None for none).
POSITION = Query(
    sa.select(
        sa.select(counters.last_seq).where(counters.user_id == OWNER).scalar_subquery().label("last_seq"),
        sa.select(sa.func.min(events.seq)).where(events.user_id == OWNER).scalar_subquery().label("oldest"),
    )
)
# Where each of some users' events stand (`users`: their ids as a JSON array), for an instance
# that polls instead of listening.
USERS = sa.bindparam("users", type_=sa.Text)
POSITIONS = Query(
    sa.select(counters.user_id, counters.last_seq).where(
        counters.user_id.in_(sa.select(sa.func.json_each(USERS).table_valued("value").c.value))
    ),
    postgres=sa.select(counters.user_id, counters.last_seq).where(
        counters.user_id.in_(
            sa.select(sa.func.json_array_elements_text(sa.cast(USERS, sa.JSON)).table_valued("value").c.value)
        )
    ),
)
tickets = event_ticket_table.c
NOW = sa.bindparam("now", type_=UTCDateTime())
DIGEST = sa.bindparam("digest", type_=sa.String)
ADD_TICKET = Query(
    sa.insert(event_ticket_table).values(
        digest=DIGEST, user_id=OWNER, expires_at=sa.bindparam("expires_at", type_=UTCDateTime())
    )
)
# Used once: the ticket is deleted as it is read.
REDEEM_TICKET = Query(
    sa.delete(event_ticket_table)
    .where(tickets.digest == DIGEST, tickets.expires_at > NOW)
    .returning(tickets.user_id)
)
PRUNE_TICKETS = Query(sa.delete(event_ticket_table).where(tickets.expires_at <= NOW))

# The events the relay has not published, in (user, number) order, at most `limit`: found
# through the users whose latest number is past their published one, one row each, so a
# pass over an outbox with nothing new reads no event. Each user's events commit in the
# order of their numbers, so none can appear later below one already read.
_published = sa.func.coalesce(relayed.published_seq, 0)
_behind = (
    sa.select(counters.user_id, _published.label("published_seq"))
    .select_from(event_sequence_table.outerjoin(event_relay_table, relayed.user_id == counters.user_id))
    .where(counters.last_seq > _published)
    .subquery("behind")
)
UNPUBLISHED = Query(
    sa.select(*EVENT_COLUMNS)
    .select_from(
        task_event_table.join(
            _behind, sa.and_(events.user_id == _behind.c.user_id, events.seq > _behind.c.published_seq)
        )
    )
    .order_by(events.user_id, events.seq)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)


_VALUES = {"user_id": OWNER, "published_seq": sa.bindparam("seq", type_=sa.BigInteger)}


def _never_backwards(statement: Upsert) -> Upsert:
    # Never backwards, whatever order two relays (a lock lost in a network split) finish in.
    return statement.on_conflict_do_update(
        index_elements=[relayed.user_id],
        set_={"published_seq": statement.excluded.published_seq},
        where=relayed.published_seq < statement.excluded.published_seq,
    )


# The user's events up to `seq` are published.
PUBLISHED_UP_TO = Query(
    _never_backwards(sqlite.insert(event_relay_table).values(_VALUES)),
    postgres=_never_backwards(postgresql.insert(event_relay_table).values(_VALUES)),
)

BEFORE = sa.bindparam("before", type_=UTCDateTime())
# Every user's events older than `before`.
PRUNE = Query(sa.delete(task_event_table).where(events.at < BEFORE))
# The same, but only those the relay has published: a user it has published nothing of has no
# row, and `seq <= NULL` deletes nothing.
PRUNE_PUBLISHED = Query(
    sa.delete(task_event_table).where(
        events.at < BEFORE,
        events.seq
        <= sa.select(relayed.published_seq).where(relayed.user_id == events.user_id).scalar_subquery(),
    )
)

# PostgreSQL: take the relay's session-level lock if no other session holds it (`key`: its name).
TRY_RELAY_LOCK = Query(
    sa.select(
        sa.func.pg_try_advisory_lock(sa.func.hashtextextended(sa.bindparam("key", type_=sa.String), 0)).label(
            "held"
        )
    )
)

# Firing due reminders (every user's; see `service.fire_due`).
tasks = task_table.c
REMINDER_DUE = "reminder.due"
# The channel migration 0012's trigger announces a user's new events on (the payload: their id).
EVENTS_CHANNEL = "todo_api_events"
# Each term of the index of reminders still to fire (migration 0014) as it is written there,
# `completed` as a literal rather than a parameter, so that both planners read that index.
TO_FIRE = (
    tasks.remind_at <= sa.bindparam("now", type_=UTCDateTime()),
    tasks.remind_at.is_not(None),
    tasks.remind_at.is_distinct_from(tasks.reminder_fired_for),
    tasks.reminder_acknowledged_at.is_(None),
    tasks.status != sa.literal_column(f"'{TaskStatus.COMPLETED.value}'"),
)
# The earliest due first, so that a backlog (the service was down) drains in order.
DUE = (
    sa.select(tasks.id)
    .where(*TO_FIRE)
    .order_by(tasks.remind_at)
    .limit(sa.bindparam("limit", type_=sa.Integer))
    # Its own FROM, never correlated with the UPDATE around it.
    .correlate(None)
)
# Marking a reminder fired leaves updated_at as it was: no `task.updated` event, no new ETag.
MARK_FIRED = {"reminder_fired_for": tasks.remind_at}


def _fire_on_postgres() -> sa.Select[Any]:
    """Claim, mark, number, write and announce a batch of due reminders in one statement.

    FOR UPDATE SKIP LOCKED makes the claim exclusive: a reminder another instance's batch holds
    is skipped, and one it has marked since this statement began is re-read locked and fails the
    condition; so each fires once however many instances run. The users' counters are bumped
    in user id order, so two batches never wait for each other's counters in a circle.
    """
    due = DUE.with_for_update(skip_locked=True).cte("due")
    snapshot = (
        # The task as migration 0012's trigger keeps it (its whole row less the folded columns).
        sa.func.to_jsonb(task_table.table_valued())
        .op("-")(sa.literal_column("'title_folded'"))
        .op("-")(sa.literal_column("'description_folded'"))
        .op("-")(sa.literal_column("'tag_keys'"))
    )
    fired = (
        sa.update(task_table)
        .where(tasks.id == due.c.id)
        .values(MARK_FIRED)
        .returning(tasks.id, tasks.user_id, tasks.remind_at, sa.cast(snapshot, sa.Text).label("task"))
        .cte("fired")
    )
    per_user = (
        sa.select(fired.c.user_id, sa.func.count().label("fired"))
        .group_by(fired.c.user_id)
        .order_by(fired.c.user_id)
    )
    bump = postgresql.insert(event_sequence_table).from_select(["user_id", "last_seq"], per_user)
    bumped = (
        bump.on_conflict_do_update(
            index_elements=[counters.user_id], set_={"last_seq": counters.last_seq + bump.excluded.last_seq}
        )
        # Delivered when the transaction commits, and only then, as the triggers' are.
        .returning(
            counters.user_id,
            counters.last_seq,
            sa.func.pg_notify(sa.literal_column(f"'{EVENTS_CHANNEL}'"), counters.user_id).label("notified"),
        )
        .cte("bumped")
    )
    # A user's reminders of this batch take the numbers up to their bumped counter, in order.
    number = (
        bumped.c.last_seq
        - sa.func.count().over(partition_by=fired.c.user_id)
        + sa.func.row_number().over(partition_by=fired.c.user_id, order_by=(fired.c.remind_at, fired.c.id))
    )
    written = (
        sa.insert(task_event_table)
        .from_select(
            ["user_id", "seq", "event_id", "type", "task_id", "task", "at"],
            sa.select(
                fired.c.user_id,
                number,
                sa.cast(sa.func.gen_random_uuid(), sa.Text),
                sa.literal_column(f"'{REMINDER_DUE}'"),
                fired.c.id,
                fired.c.task,
                sa.func.clock_timestamp(),
            ).join_from(fired, bumped, fired.c.user_id == bumped.c.user_id),
        )
        .returning(events.user_id, events.task_id)
        .cte("written")
    )
    return sa.select(written.c.user_id, written.c.task_id)


# Rows: one per reminder fired, (user_id, task_id). SQLite's one writer makes its statement
# exclusive; the trigger of migration 0014 writes each event as the row is marked.
FIRE_DUE = Query(
    sa.update(task_table)
    .where(tasks.id.in_(DUE))
    .values(MARK_FIRED)
    .returning(tasks.user_id, tasks.id.label("task_id")),
    postgres=_fire_on_postgres(),
)
