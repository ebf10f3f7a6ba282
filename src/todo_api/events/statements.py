"""The events feature's statements: reading a user's outbox after a position, and pruning it.

The outbox is written by the task table's triggers (migration 0012), never by these.
"""

from __future__ import annotations

import sqlalchemy as sa

from todo_api.db.query import Query
from todo_api.models import UTCDateTime, event_sequence_table, event_ticket_table, task_event_table

events = task_event_table.c
counters = event_sequence_table.c
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
PRUNE = Query(sa.delete(task_event_table).where(events.at < sa.bindparam("before", type_=UTCDateTime())))

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
