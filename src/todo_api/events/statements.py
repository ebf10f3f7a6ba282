"""The events feature's statements: reading a user's outbox after a position, the relay's
reading of what it has not published and advancing past it, and pruning.

The outbox is written by the task table's triggers (migration 0012), never by these.
"""

from __future__ import annotations

from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from todo_api.db.query import Query
from todo_api.models import (
    UTCDateTime,
    event_relay_table,
    event_sequence_table,
    event_ticket_table,
    task_event_table,
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
