"""The reminder scheduler: in every instance, a task that fires the due reminders every
REMINDER_INTERVAL seconds, started and stopped by the app's lifespan.

Every instance runs one, and they need no coordination: each batch claims its reminders
exclusively (`service.fire_due`), so a reminder fires once however many run, and a reminder
that came due while none ran (the service was down) fires at the next tick after one starts.
A database that fails is logged, one line per failed tick, and tried again after a wait that
doubles up to a limit; nothing ends the scheduler but `stop`, which never waits long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from todo_api.db.connection import Database
from todo_api.events.service import fire_due
from todo_api.models import utc_now

logger = logging.getLogger(__name__)

# Reminders claimed by one statement: a tick runs batches until one comes back short.
BATCH = 100
# The longest wait between attempts while the database keeps failing (or the interval, if longer).
LONGEST_BACKOFF = 60.0
# How long `stop` waits for a tick it cancelled to unwind (a statement being cancelled).
STOP_TIMEOUT = 5.0


class ReminderScheduler:
    """Fires due reminders on `database` every `interval` seconds, from `start` to `stop`."""

    def __init__(
        self,
        database: Database,
        *,
        interval: float,
        batch: int = BATCH,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._database = database
        self._interval = interval
        self._batch = batch
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start firing, from now on (the first tick runs at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="reminder scheduler")

    async def stop(self) -> None:
        """Stop, cancelling a tick in progress (its batch commits whole or not at all)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # Bounded: shutdown never waits on a statement slow to cancel.
        await asyncio.wait({task}, timeout=STOP_TIMEOUT)
        if task.done():
            with contextlib.suppress(asyncio.CancelledError):
                task.result()

    async def tick(self) -> int:
        """Fire every reminder due now, a batch at a time; how many fired."""
        now = self._clock()
        fired = 0
        while True:
            count = await fire_due(self._database, now=now, limit=self._batch)
            fired += count
            if count < self._batch:
                return fired
            # On SQLite a batch runs on the event loop itself: let requests in between batches.
            await asyncio.sleep(0)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self.tick()
                failures = 0
            except Exception as error:
                failures += 1
                delay = retry_delay(self._interval, failures)
                # The error's type and code only: a driver's message may quote a statement or a value.
                logger.warning(
                    "due reminders could not be fired; trying again in %g s",
                    delay,
                    extra={
                        "event": "reminders_not_fired",
                        "error": type(error).__name__,
                        "code": _code(error),
                    },
                )
            await asyncio.sleep(retry_delay(self._interval, failures))


def retry_delay(interval: float, failures: int) -> float:
    """The wait before the next tick: the interval, doubled for each failure in a row up to
    LONGEST_BACKOFF (or the interval, if that is longer)."""
    if failures == 0:
        return interval
    return min(interval * 2.0 ** min(failures, 32), max(LONGEST_BACKOFF, interval))


def _code(error: Exception) -> str | None:
    """PostgreSQL's SQLSTATE (42P01: a table is missing) or SQLite's error name (SQLITE_BUSY)."""
    code = getattr(error, "sqlstate", None) or getattr(error, "sqlite_errorname", None)
    return code if isinstance(code, str) else None
