"""The relay: publishes the outbox to a broker for other services, in order per user, at least once.

One pass reads the events not yet published (each user's after the number recorded in
`event_relay`), in (user, number) order, publishes them as one batch, and only once the broker
has acknowledged the batch records each user's last number. A crash or a failure between the
two publishes the batch again: consumers deduplicate on the CloudEvent `id`. A user's events
commit in the order of their numbers (migration 0012), so a pass never misses one that commits
later with a lower number.

One instance relays at a time, which spares the duplicates two relays would publish (not the
order: each publishes a user's events after the last one acknowledged, so their first copies
stay in order). On PostgreSQL the relaying instance holds a session-level advisory lock on a
connection of its own, which also LISTENs for the outbox's NOTIFY; the others try again every
few seconds and one takes over when that connection goes. Every relay also polls every second,
so a lost notification only delays.

The relay never stops the app: a broker or database away is retried with capped exponential
back-off and jitter, logged once per outage, and cancelling the relay (shutdown) ends it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from todo_api.db.connection import PostgresConnection
from todo_api.events import service
from todo_api.events.schemas import cloud_event
from todo_api.events.statements import TRY_RELAY_LOCK
from todo_api.events.transports import OutgoingEvent, RedisStreamTransport, Transport
from todo_api.models import utc_now

if TYPE_CHECKING:
    import asyncpg

    from todo_api.config import Settings
    from todo_api.db.connection import Database

logger = logging.getLogger(__name__)

# The channel migration 0012's trigger notifies, with the user's id, when their events commit.
CHANNEL = "todo_api_events"
# The advisory lock's name: one relaying instance per database.
LOCK_NAME = "todo_api.events.relay"
BATCH_SIZE = 500
POLL_INTERVAL = 1.0
# How often an instance that does not relay tries to, and the relaying one checks it still may.
LOCK_INTERVAL = 5.0
# A broker that does not answer within this many seconds has failed the attempt.
BROKER_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential back-off with jitter: attempt n waits between half and all of
    `first` * 2**n seconds, at most `longest`, so instances that lost the same broker do not
    come back to it in step."""

    first: float = 0.5
    longest: float = 30.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.longest, self.first * 2 ** min(attempt, 32))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311  # jitter, not a secret


class RelayLock(Protocol):
    """Who relays: acquired by one instance at a time."""

    woken: asyncio.Event

    async def acquire(self) -> bool:
        """Try to become the relaying instance; True if this one now is."""
        ...

    async def held(self) -> bool:
        """Whether this instance still is (its lock's connection is alive)."""
        ...

    def release(self) -> None:
        """Stop being it, at once, without waiting on the network."""
        ...


class PostgresLock:
    """A session-level advisory lock on a connection of the relay's own, which LISTENs for the
    outbox's notifications while it holds the lock. The server releases the lock when the
    connection ends, whatever ends it."""

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]]) -> None:
        self._connect = connect
        self._connection: asyncpg.Connection | None = None
        self.woken = asyncio.Event()

    async def acquire(self) -> bool:
        if self._connection is None or self._connection.is_closed():
            self._connection = await self._connect()
        row = await PostgresConnection(self._connection).fetch_one(TRY_RELAY_LOCK, {"key": LOCK_NAME})
        if row is None or not row["held"]:
            return False
        await self._connection.add_listener(CHANNEL, self._notified)
        self.woken.set()  # what committed while no one listened
        return True

    async def held(self) -> bool:
        if self._connection is None or self._connection.is_closed():
            return False
        try:
            await self._connection.fetchval("SELECT 1")
        except Exception:
            self.release()
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            self._connection.terminate()
            self._connection = None

    def _notified(self, *_: object) -> None:
        self.woken.set()


class FileLock:
    """SQLite: an exclusive lock on a file beside the database, so of the workers serving one
    database file one relays. Where the OS has no `flock` (Windows) every worker relays."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self.woken = asyncio.Event()

    async def acquire(self) -> bool:
        try:
            import fcntl  # noqa: PLC0415
        except ImportError:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def held(self) -> bool:
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases its lock
            self._fd = None


class Unlocked:
    """Every instance relays: behind a transaction-mode pooler, where a session-level lock would
    stay with whichever server connection took it, held for ever. Two relays publish duplicates,
    never out of order."""

    def __init__(self) -> None:
        self.woken = asyncio.Event()

    async def acquire(self) -> bool:
        return True

    async def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


class _Outage:
    """One warning when something the relay needs goes away, one info line when it is back."""

    def __init__(self, what: str) -> None:
        self._what = what
        self.ongoing = False

    def failed(self, error: BaseException) -> None:
        if not self.ongoing:
            self.ongoing = True
            logger.warning(
                "events relay: %s unavailable (%s); retrying with back-off",
                self._what,
                type(error).__name__,
                extra={"event": "events_relay_unavailable", "error": type(error).__name__},
            )

    def recovered(self) -> None:
        if self.ongoing:
            self.ongoing = False
            logger.info("events relay: %s available again", self._what, extra={"event": "events_relay_back"})


class Relay:
    """Publishes the outbox through `transport` while `lock` says this instance relays."""

    def __init__(
        self,
        database: Database,
        transport: Transport,
        lock: RelayLock,
        *,
        source: str,
        batch_size: int = BATCH_SIZE,
        poll_interval: float = POLL_INTERVAL,
        lock_interval: float = LOCK_INTERVAL,
        backoff: Backoff = Backoff(),
    ) -> None:
        self._database = database
        self._transport = transport
        self._lock = lock
        self._source = source
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._lock_interval = lock_interval
        self._backoff = backoff
        self._broker_outage = _Outage(transport.name)
        self._database_outage = _Outage("the database")
        self.relaying = False

    async def run(self) -> None:
        """Relay until cancelled; never raises anything else."""
        try:
            while True:
                try:
                    acquired = await self._lock.acquire()
                    self._database_outage.recovered()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._lock.release()
                    self._database_outage.failed(exc)
                    acquired = False
                if acquired:
                    self.relaying = True
                    logger.info("events relay: publishing to %s", self._transport.name)
                    try:
                        await self._relay_while_held()
                    finally:
                        self.relaying = False
                        self._lock.release()
                await asyncio.sleep(self._lock_interval)
        finally:
            self._lock.release()
            await self._transport.close()

    async def _relay_while_held(self) -> None:
        failures = 0
        checked_at = time.monotonic()
        while True:
            self._lock.woken.clear()
            published = await self._pass()
            if published is None:
                await asyncio.sleep(self._backoff.delay(failures))
                failures += 1
            else:
                failures = 0
            if time.monotonic() - checked_at >= self._lock_interval:
                if not await self._lock.held():
                    logger.warning(
                        "events relay: lost the relay lock (its database connection ended)",
                        extra={"event": "events_relay_lock_lost"},
                    )
                    return
                checked_at = time.monotonic()
            if published is not None and published < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_interval):
                        await self._lock.woken.wait()

    async def _pass(self) -> int | None:
        """Publish what is waiting: how many events, or None if the broker or database failed."""
        try:
            rows = await service.unpublished(self._database, limit=self._batch_size)
        except Exception as exc:
            self._database_outage.failed(exc)
            return None
        self._database_outage.recovered()
        if not rows:
            return 0
        now = utc_now()
        batch = [
            OutgoingEvent(
                id=row["event_id"], key=row["user_id"], body=cloud_event(row, source=self._source, now=now)
            )
            for row in rows
        ]
        try:
            await self._transport.publish(batch)
        except Exception as exc:
            self._broker_outage.failed(exc)
            return None
        self._broker_outage.recovered()
        # Rows come in (user, number) order: the last of each user's is their new position.
        positions = {row["user_id"]: row["seq"] for row in rows}
        try:
            await service.mark_published(self._database, positions)
        except Exception as exc:
            # Published but not recorded: published again on the next pass (at least once).
            self._database_outage.failed(exc)
            return None
        return len(rows)


def build_relay(settings: Settings, database: Database) -> Relay | None:
    """The relay EVENTS_RELAY configures, or None when it is off."""
    url = settings.events_relay_url
    if settings.events_relay != "redis" or url is None:
        return None
    transport = RedisStreamTransport(
        url,
        stream=settings.events_relay_stream,
        maxlen=settings.events_relay_maxlen,
        timeout=BROKER_TIMEOUT,
    )
    return Relay(database, transport, relay_lock(settings), source=settings.events_relay_source)


def relay_lock(settings: Settings) -> RelayLock:
    """The lock that makes one instance relay, for the configured database."""
    target = settings.database_url.target
    if target.is_sqlite:
        path = target.url.database
        if path in (None, "", ":memory:"):
            return Unlocked()  # a database no other process can open
        return FileLock(Path(f"{path}.relay-lock"))
    if not settings.db_prepared_statements:
        return Unlocked()
    from todo_api.db.engine import connect_session  # noqa: PLC0415

    return PostgresLock(lambda: connect_session(settings, naming=" (events relay)"))


@contextlib.asynccontextmanager
async def running_relay(settings: Settings, database: Database) -> AsyncIterator[Relay | None]:
    """The configured relay, running in the background while the block runs; cancelled after it."""
    relay = build_relay(settings, database)
    if relay is None:
        yield None
        return
    task = asyncio.create_task(relay.run(), name="events relay")
    try:
        yield relay
    finally:
        task.cancel()
        # Bounded: a relay that is slow to cancel must not hold up shutdown.
        await asyncio.wait({task}, timeout=BROKER_TIMEOUT)
