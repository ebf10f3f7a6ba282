"""A stand-in for the service's reminder scheduler, which is not in this service yet.

While it runs, it does what the scheduler is to do: each reminder that has come due (its
`remind_at` passed, not acknowledged, the task not completed) is written once to the outbox as
its owner's `reminder.due` event, numbered after the user's other events and announced on the
channel the events streams listen to, in one transaction. The streams then send it as they send
any event, so a frontend is tested against the `reminder.due` contract itself. Once the service
fires reminders, a test lets it do so and drops this.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Self

import asyncpg

from tests.conftest import asyncpg_dsn

# Seconds between two looks for due reminders.
POLL_SECONDS = 0.1

# The due reminders that have no `reminder.due` event yet, with the task as an event keeps it
# (the columns the outbox's trigger keeps, migration 0012).
DUE = """
SELECT task.id, task.user_id,
       (to_jsonb(task) - 'title_folded' - 'description_folded' - 'tag_keys')::text AS snapshot
FROM task
WHERE task.remind_at <= now()
  AND task.reminder_acknowledged_at IS NULL
  AND task.status <> 'completed'
  AND NOT EXISTS (
      SELECT 1 FROM task_event AS fired
      WHERE fired.user_id = task.user_id AND fired.task_id = task.id AND fired.type = 'reminder.due'
  )
ORDER BY task.remind_at, task.id
"""
NEXT_SEQ = """
INSERT INTO event_sequence AS counter (user_id, last_seq) VALUES ($1, 1)
ON CONFLICT (user_id) DO UPDATE SET last_seq = counter.last_seq + 1
RETURNING last_seq
"""
WRITE_EVENT = """
INSERT INTO task_event (user_id, seq, event_id, type, task_id, task, at)
VALUES ($1, $2, gen_random_uuid()::text, 'reminder.due', $3, $4, clock_timestamp())
"""
ANNOUNCE = "SELECT pg_notify('todo_api_events', $1)"


class ReminderStandIn:
    """Fires the due reminders of the tasks in one PostgreSQL database, from a thread of its own."""

    def __init__(self, database_url: str) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.fired: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._failure: BaseException | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self._failure is not None and kind is None:
            raise RuntimeError("the reminder stand-in failed") from self._failure

    async def _run(self) -> None:
        connection = await asyncpg.connect(self.dsn)
        try:
            while not self._stop.is_set():
                await self._fire_due(connection)
                await asyncio.sleep(POLL_SECONDS)
        except BaseException as exc:
            self._failure = exc
        finally:
            await connection.close()

    async def _fire_due(self, connection: asyncpg.Connection) -> None:
        for task_id, user_id, snapshot in await connection.fetch(DUE):
            # The user's sequence row first, as the trigger takes it: their events stay in
            # commit order, and the NOTIFY goes out when this commits.
            async with connection.transaction():
                seq = await connection.fetchval(NEXT_SEQ, user_id)
                await connection.execute(WRITE_EVENT, user_id, seq, task_id, snapshot)
                await connection.execute(ANNOUNCE, user_id)
            self.fired.append(task_id)
