"""Reading a user's events: what they missed since a position, or that they must start over;
what the relay has yet to publish, and marking it published; firing the reminders that are
due, every user's."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from todo_api.db.connection import Database
from todo_api.db.query import Row
from todo_api.events.statements import (
    ADD_TICKET,
    EVENTS_AFTER,
    FIRE_DUE,
    POSITION,
    POSITIONS,
    PRUNE,
    PRUNE_PUBLISHED,
    PRUNE_TICKETS,
    PUBLISHED_UP_TO,
    REDEEM_TICKET,
    UNPUBLISHED,
)
from todo_api.models import utc_now


@dataclass(frozen=True, slots=True)
class Position:
    """Where a user's events stand: the number of the latest (0 before the first) and of the
    oldest still kept (None when none is)."""

    last: int
    oldest: int | None

    def can_resume(self, after: int) -> bool:
        """Whether a client that has seen every event up to `after` can be sent the rest: the
        next one is still kept (or there is none yet), and `after` is not from the future (a
        number from another database, say)."""
        if after > self.last:
            return False
        return after == self.last or (self.oldest is not None and self.oldest <= after + 1)


async def position(database: Database, *, user_id: str) -> Position:
    async with database.autocommit() as connection:
        row = await connection.fetch_one(POSITION, {"owner": user_id})
    assert row is not None  # noqa: S101  # a SELECT without FROM has one row
    return Position(last=row["last_seq"] or 0, oldest=row["oldest"])


async def events_after(database: Database, *, user_id: str, after: int, limit: int) -> list[Row]:
    """The user's events numbered above `after`, oldest first, at most `limit`."""
    async with database.autocommit() as connection:
        return await connection.fetch(EVENTS_AFTER, {"owner": user_id, "after": after, "limit": limit})


async def positions(database: Database, *, user_ids: list[str]) -> dict[str, int]:
    """The number of the latest event of each of these users that has any."""
    values: dict[str, Any] = {"users": orjson.dumps(user_ids).decode()}
    async with database.autocommit() as connection:
        rows = await connection.fetch(POSITIONS, values)
    return {row["user_id"]: row["last_seq"] for row in rows}


async def prune(database: Database, *, before: datetime, keep_unpublished: bool) -> None:
    """Delete the events older than `before` (every user's); with `keep_unpublished` (while a
    relay is configured), not those the relay has yet to publish, however old; and expired
    tickets."""
    async with database.autocommit() as connection:
        await connection.fetch(PRUNE_PUBLISHED if keep_unpublished else PRUNE, {"before": before})
        await connection.fetch(PRUNE_TICKETS, {"now": utc_now()})


async def unpublished(database: Database, *, limit: int) -> list[Row]:
    """The events the relay has not published, each user's in order, users one after another."""
    async with database.autocommit() as connection:
        return await connection.fetch(UNPUBLISHED, {"limit": limit})


async def mark_published(database: Database, positions: dict[str, int]) -> None:
    """Record that each user's events up to their number here are published."""
    async with database.transaction() as connection:
        for user_id, seq in sorted(positions.items()):
            await connection.fetch(PUBLISHED_UP_TO, {"owner": user_id, "seq": seq})


# A ticket opens one stream, within this many seconds of being issued.
TICKET_LIFETIME = timedelta(seconds=60)


async def issue_ticket(database: Database, *, user_id: str) -> tuple[str, datetime]:
    """A new single-use ticket for the user's events stream, and when it expires."""
    ticket = secrets.token_urlsafe(32)
    expires_at = utc_now() + TICKET_LIFETIME
    values = {"digest": _digest(ticket), "owner": user_id, "expires_at": expires_at}
    async with database.autocommit() as connection:
        await connection.fetch(ADD_TICKET, values)
    return ticket, expires_at


async def redeem_ticket(database: Database, *, ticket: str) -> str | None:
    """The user a ticket was issued to, once: it is spent as it is read. None when it is
    unknown, spent or expired."""
    async with database.autocommit() as connection:
        row = await connection.fetch_one(REDEEM_TICKET, {"digest": _digest(ticket), "now": utc_now()})
    return None if row is None else str(row["user_id"])


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


async def fire_due(database: Database, *, now: datetime, limit: int) -> int:
    """Fire up to `limit` of the reminders due by `now` (the earliest first): each is marked
    fired and written as its owner's `reminder.due` event, all in one statement, which commits
    on its own. How many fired; fewer than `limit` when no more were due.

    Due: its instant has come, it has not fired for that instant, it is not acknowledged and
    its task is not completed (a deleted task has none). Any number of instances may call this
    at once: each reminder fires once (see `statements.FIRE_DUE`).
    """
    async with database.autocommit() as connection:
        rows = await connection.fetch(FIRE_DUE, {"now": now, "limit": limit})
    return len(rows)
