"""What wakes a user's open streams when their events may have moved, on this instance.

Streams never hold a database connection while they wait: each waits on a wake-up of its own
and then reads the outbox after the last event it sent. Wake-ups come from

- PostgreSQL's NOTIFY, which the outbox's triggers send at commit (db/notifications.py), so a
  change made through any instance reaches every instance's streams (an instance LISTENs only
  while it has open streams: one serving none is sent no notifications);
- a look at the subscribed users' latest event numbers every EVENTS_POLL_INTERVAL: on SQLite
  (writes from any process on the file), and on PostgreSQL while the listening connection is
  away (and once when it comes back, for what it may have missed).

A wake-up that finds nothing new costs one read; a missed one is impossible as long as a
stream subscribes before it first reads, and clears its wake-up before each read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

from todo_api.db.connection import UNAVAILABLE_ERRORS, Database
from todo_api.db.notifications import Listener
from todo_api.events import service
from todo_api.events.errors import ServerStopping, TooManyStreams
from todo_api.events.statements import EVENTS_CHANNEL
from todo_api.models import utc_now

if TYPE_CHECKING:
    from todo_api.config import Settings
    from todo_api.database_url import DatabaseTarget

logger = logging.getLogger(__name__)

# How often old events are pruned, from a while after start-up.
FIRST_PRUNE_AFTER = 60.0
PRUNE_INTERVAL = 3600.0


class EventFeed:
    """This instance's open streams, by user, and what wakes them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._streams: dict[str, set[asyncio.Event]] = {}
        self._listener: Listener | None = None
        # The latest event number each subscribed user had when last looked at (polling).
        self._seen: dict[str, int] = {}
        # Set when the server is stopping: every stream ends (its client reconnects elsewhere).
        self.closing = False

    @contextlib.asynccontextmanager
    async def running(self, database: Database) -> AsyncIterator[None]:
        """Wake streams (and prune old events) while the context is open."""
        tasks = [asyncio.create_task(self._poll(database)), asyncio.create_task(self._prune(database))]
        target = self._listen_target()
        if target is not None:
            self._listener = Listener(
                target,
                self.settings,
                channel=EVENTS_CHANNEL,
                on_message=self.wake,
                on_connected=self.wake_all,
            )
            tasks.append(asyncio.create_task(self._listener.run()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._listener = None
            self.wake_all()

    def _listen_target(self) -> DatabaseTarget | None:
        url = self.settings.events_listen_url or self.settings.database_url
        return None if url.target.is_sqlite else url.target

    @property
    def listening(self) -> bool:
        """Whether notifications arrive now (PostgreSQL, its listening connection open)."""
        return self._listener is not None and self._listener.listening

    def subscribe(self, user_id: str) -> Subscription:
        """A wake-up for a new stream of the user's, set whenever their events may have moved;
        TooManyStreams past EVENTS_MAX_STREAMS_PER_USER. Closed by the stream when it ends."""
        if self.closing:
            raise ServerStopping()
        streams = self._streams.setdefault(user_id, set())
        if len(streams) >= self.settings.events_max_streams_per_user:
            raise TooManyStreams(self.settings.events_max_streams_per_user)
        subscription = Subscription(self, user_id)
        streams.add(subscription.wakeup)
        if self._listener is not None:
            self._listener.want(True)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        streams = self._streams.get(subscription.user_id)
        if streams is None:
            return
        streams.discard(subscription.wakeup)
        if not streams:
            del self._streams[subscription.user_id]
            self._seen.pop(subscription.user_id, None)
            if not self._streams and self._listener is not None:
                self._listener.want(False)

    def wake(self, user_id: str) -> None:
        for wakeup in self._streams.get(user_id, ()):
            wakeup.set()

    def close_streams(self) -> None:
        """End every stream, now and from now on: the server is stopping."""
        self.closing = True
        self.wake_all()

    def wake_all(self) -> None:
        for user_id in list(self._streams):
            self.wake(user_id)

    @property
    def open_streams(self) -> int:
        return sum(len(streams) for streams in self._streams.values())

    async def _poll(self, database: Database) -> None:
        while True:
            await asyncio.sleep(self.settings.events_poll_interval)
            if self.listening or not self._streams:
                continue
            try:
                latest = await service.positions(database, user_ids=list(self._streams))
            except UNAVAILABLE_ERRORS:
                continue  # the streams' own reads report the outage; try again next time
            for user_id, seq in latest.items():
                if self._seen.get(user_id) != seq:
                    self._seen[user_id] = seq
                    self.wake(user_id)

    async def _prune(self, database: Database) -> None:
        retention = timedelta(days=self.settings.events_retention_days)
        # Not at start-up: every worker starts at once, and a short-lived one has no need.
        await asyncio.sleep(FIRST_PRUNE_AFTER)
        while True:
            try:
                # While a relay is configured, what it has yet to publish stays, however old.
                keep_unpublished = self.settings.events_relay != "off"
                await service.prune(database, before=utc_now() - retention, keep_unpublished=keep_unpublished)
            except UNAVAILABLE_ERRORS as error:
                logger.warning(
                    "old events not pruned",
                    extra={"event": "events_prune_failed", "error": type(error).__name__},
                )
            await asyncio.sleep(PRUNE_INTERVAL)


class Subscription:
    """One stream's place among its user's: `wakeup` is set when their events may have moved."""

    __slots__ = ("__weakref__", "_feed", "user_id", "wakeup")

    def __init__(self, feed: EventFeed, user_id: str) -> None:
        self._feed = feed
        self.user_id = user_id
        self.wakeup = asyncio.Event()

    @property
    def ended(self) -> bool:
        """Whether the stream must end (the server is stopping)."""
        return self._feed.closing

    def close(self) -> None:
        """Give the place back (again is harmless)."""
        self._feed.unsubscribe(self)
