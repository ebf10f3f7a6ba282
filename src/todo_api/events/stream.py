"""One user's events stream: what they missed since the position they give, then each event
as it commits, in order, as Server-Sent Events."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator

import orjson

from todo_api.db.connection import UNAVAILABLE_ERRORS, Database
from todo_api.events import service
from todo_api.events.feed import Subscription
from todo_api.events.schemas import event_frame
from todo_api.models import utc_now

# Events read from the outbox at a time.
BATCH = 500
# How long a browser's EventSource waits before it reconnects (the `retry:` field), in ms.
RECONNECT_MILLISECONDS = 1000
HEARTBEAT = b": keep-alive\n\n"
# Seconds between reads of the outbox while the database is away.
RETRY_SECONDS = 1.0
RESET_DETAIL = "Events since that position are no longer kept: fetch your tasks again"


def position_frame(name: str, seq: int, detail: str | None = None) -> bytes:
    """A frame that moves the client's position to `seq` without an event of the outbox:
    `ready` (the stream is live from there) or `reset` (start over from there)."""
    data = {"seq": seq} | ({"detail": detail} if detail else {})
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, name.encode(), orjson.dumps(data))


async def events_stream(
    subscription: Subscription, database: Database, *, after: int | None, heartbeat: float, lifetime: float
) -> AsyncIterator[bytes]:
    """Frames for one client until it leaves: `after` is the last event it has (None: none, so
    from now on); a `reset` when the events after it are no longer kept. The subscription is
    closed when the frames end, or when they are dropped unread (a client gone before the
    first), whichever comes first."""
    try:
        # Read before the answer starts (a database away is then a 503, not a broken stream),
        # and after subscribing, so nothing committed after this read goes unseen.
        position = await service.position(database, user_id=subscription.user_id)
    except BaseException:
        subscription.close()
        raise
    frames = _frames(
        subscription, database, after=after, heartbeat=heartbeat, lifetime=lifetime, position=position
    )
    weakref.finalize(frames, subscription.close)
    return frames


async def _frames(
    subscription: Subscription,
    database: Database,
    *,
    after: int | None,
    heartbeat: float,
    lifetime: float,
    position: service.Position,
) -> AsyncIterator[bytes]:
    user_id, wakeup = subscription.user_id, subscription.wakeup
    loop = asyncio.get_running_loop()
    # A stream ends after `lifetime` (its client reconnects where it left off), so connections
    # move to new instances and none is held for ever.
    ends_at = loop.time() + lifetime
    try:
        yield b"retry: %d\n\n" % RECONNECT_MILLISECONDS
        if after is None:
            after = position.last
            yield position_frame("ready", after)
        elif not position.can_resume(after):
            after = position.last
            yield position_frame("reset", after, RESET_DETAIL)
        else:
            yield position_frame("ready", after)
        while not subscription.ended and (left := ends_at - loop.time()) > 0:
            wakeup.clear()
            try:
                batch = await service.events_after(database, user_id=user_id, after=after, limit=BATCH)
            except UNAVAILABLE_ERRORS:
                # The database is away: the stream stays open (heartbeats go on) and reads again
                # after a while; the client misses nothing, as the outbox keeps it all.
                wakeup.set()
                yield HEARTBEAT
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if batch and batch[0]["seq"] != after + 1:
                # Pruned while the client was connected (or it lagged a whole retention window).
                after = (await service.position(database, user_id=user_id)).last
                yield position_frame("reset", after, RESET_DETAIL)
                continue
            now = utc_now()
            for event in batch:
                yield event_frame(event, now=now)
                after = event["seq"]
            if len(batch) == BATCH:
                continue
            try:
                await asyncio.wait_for(wakeup.wait(), min(heartbeat, left))
            except TimeoutError:
                if left > heartbeat:
                    yield HEARTBEAT
    finally:
        subscription.close()
