"""The events feature's work beside the requests, for as long as the app runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from todo_api.db.connection import Database
from todo_api.events.feed import EventFeed
from todo_api.events.relay import running_relay
from todo_api.events.reminders import ReminderScheduler

if TYPE_CHECKING:
    from todo_api.config import Settings


@contextlib.asynccontextmanager
async def running(feed: EventFeed, settings: Settings, database: Database) -> AsyncIterator[None]:
    """Wake the streams, prune old events, fire due reminders (REMINDERS_ENABLED) and relay the
    outbox (EVENTS_RELAY) while the block runs; stop all of it when it ends."""
    reminders = ReminderScheduler(database, interval=settings.reminder_interval)
    if settings.reminders_enabled:
        reminders.start()
    try:
        async with feed.running(database), running_relay(settings, database):
            yield
    finally:
        await reminders.stop()
