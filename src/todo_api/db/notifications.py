"""PostgreSQL notifications (LISTEN): a connection of their own, kept open and reopened.

A notification is delivered only to sessions that are listening when it is sent, so a
listener that was away may have missed some: `on_connected` runs after every (re)connection,
for the caller to catch up from its own records. A transaction-mode pooler (PgBouncer, Neon's
`-pooler` host) hands each transaction a different server connection and so drops LISTEN:
this connection must go to the database directly (EVENTS_LISTEN_URL).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import asyncpg

from todo_api.db.engine import connect_session

if TYPE_CHECKING:
    from todo_api.config import Settings
    from todo_api.database_url import DatabaseTarget

logger = logging.getLogger(__name__)

LISTENER_NAME = " (listening)"
# How often a quiet connection is checked (a half-open TCP connection notices nothing).
PING_INTERVAL = 30.0
# Reconnection waits double from the first to the last (with jitter).
FIRST_RETRY, LAST_RETRY = 0.5, 15.0


class Listener:
    """Hands the payload of each notification on `channel` to `on_message`, for as long as
    `run` runs; `connected` says whether notifications arrive now."""

    def __init__(
        self,
        target: DatabaseTarget,
        settings: Settings,
        *,
        channel: str,
        on_message: Callable[[str], None],
        on_connected: Callable[[], None],
    ) -> None:
        self._target = target
        self._settings = settings
        self._channel = channel
        self._on_message = on_message
        self._on_connected = on_connected
        self.connected = False
        # Whether notifications arrive now: LISTEN is on (only while they are wanted).
        self.listening = False
        self._got_through = False
        self._wanted = asyncio.Event()
        self._changed = asyncio.Event()

    def want(self, wanted: bool) -> None:
        """Listen (connecting first, if need be) while `wanted`; UNLISTEN when not, so that a
        process with no use for notifications (no open stream) is sent none."""
        if wanted != self._wanted.is_set():
            if wanted:
                self._wanted.set()
            else:
                self._wanted.clear()
            self._changed.set()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting whenever the connection is lost."""
        retry = FIRST_RETRY
        reported = False
        while True:
            # The first connection is made when notifications are first wanted.
            await self._wanted.wait()
            self._got_through = False
            try:
                await self._listen_once()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                failure = type(error).__name__
            finally:
                self.connected = self.listening = False
            if self._got_through:
                retry, reported = FIRST_RETRY, False
            if not reported:
                # One line per outage, naming the kind of failure and never the URL.
                logger.warning(
                    "event notifications lost; reconnecting", extra={"event": "listen_lost", "error": failure}
                )
                reported = True
            await asyncio.sleep(retry * random.uniform(0.5, 1.0))  # noqa: S311  # jitter, not a secret
            retry = min(retry * 2, LAST_RETRY)

    async def _listen_once(self) -> None:
        connection = await self._connect()
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        try:
            self.connected = self._got_through = True
            while not lost.is_set():
                self._changed.clear()
                if self._wanted.is_set() and not self.listening:
                    await connection.add_listener(self._channel, self._received)
                    self.listening = True
                    # Anything sent before LISTEN took effect was missed: look again.
                    self._on_connected()
                elif not self._wanted.is_set() and self.listening:
                    await connection.remove_listener(self._channel, self._received)
                    self.listening = False
                waits = {asyncio.ensure_future(self._changed.wait()), asyncio.ensure_future(lost.wait())}
                try:
                    done, _ = await asyncio.wait(
                        waits, timeout=PING_INTERVAL, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for wait in waits:
                        wait.cancel()
                if not done:
                    await connection.execute("SELECT 1", timeout=self._settings.db_command_timeout)
            raise ConnectionResetError("the listening connection was closed")
        finally:
            if not connection.is_closed():
                await connection.close(timeout=self._settings.db_command_timeout)

    async def _connect(self) -> asyncpg.Connection:
        return await connect_session(self._settings, naming=LISTENER_NAME, target=self._target)

    def _received(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_message(payload)
