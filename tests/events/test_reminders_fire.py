"""Reminders fire: a due reminder writes one `reminder.due` event, once, however many instances
fire at once; one not yet due, acknowledged, or of a completed or deleted task never does."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from bench.delay import DelayProxy
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from tests.conftest import answered_within, asyncpg_dsn, eventually, serving_app
from tests.events.conftest import Auth, database_of
from todo_api.db.connection import Connection, Database
from todo_api.events import service
from todo_api.events.reminders import ReminderScheduler, retry_delay
from todo_api.events.schemas import EventPublic, dump_event
from todo_api.events.statements import EVENTS_CHANNEL, FIRE_DUE
from todo_api.models import utc_now

# Reminders are set an hour after the test starts: not due until a test fires "later".
SOON = timedelta(hours=1)
LATER = timedelta(hours=2)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def create(client: httpx.AsyncClient, auth: Auth, user: str = "alice", **body: Any) -> dict[str, Any]:
    response = await client.post("/api/tasks", json={"title": "Call Ann"} | body, headers=auth(user))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def fire(app: FastAPI, now: datetime, limit: int = 100) -> int:
    return await service.fire_due(database_of(app), now=now, limit=limit)


async def events_of(app: FastAPI, user: str = "alice") -> list[dict[str, Any]]:
    """The user's events as clients are sent them."""
    rows = await service.events_after(database_of(app), user_id=user, after=0, limit=10_000)
    return [orjson.loads(dump_event(row, now=utc_now())) for row in rows]


async def fired_of(app: FastAPI, user: str = "alice") -> list[dict[str, Any]]:
    return [event for event in await events_of(app, user) if event["type"] == "reminder.due"]


async def test_a_due_reminder_fires_once_with_the_reminders_fields(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    start = utc_now()
    due = (start + SOON + timedelta(minutes=30)).replace(microsecond=0)
    task = await create(
        client, auth, due_date=rfc3339(due), remind_before_minutes=30, timezone="Europe/Berlin"
    )

    first, again = await fire(app, start + LATER), await fire(app, start + LATER)

    assert (first, again) == (1, 0)
    events = await events_of(app)
    assert [(event["seq"], event["type"]) for event in events] == [(1, "task.created"), (2, "reminder.due")]
    event = events[1]
    assert event["reminder"] == {
        "task_id": task["id"],
        "title": "Call Ann",
        "due_at": task["due_date"],
        "remind_at": task["remind_at"],
        "user_id": "alice",
    }
    assert (event["task_id"], event["user_id"]) == (task["id"], "alice")
    assert {**event["task"], "overdue": None} == {**task, "overdue": None}
    assert events[0]["reminder"] is None
    EventPublic.model_validate(event)


async def test_a_reminder_without_a_due_date_fires_with_none(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    start = utc_now()
    task = await create(client, auth, remind_at=rfc3339(start + SOON))

    assert await fire(app, start + LATER) == 1

    [event] = await fired_of(app)
    assert (event["reminder"]["due_at"], event["reminder"]["remind_at"]) == (None, task["remind_at"])


async def test_a_reminder_not_yet_due_does_not_fire(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    start = utc_now()
    await create(client, auth, remind_at=rfc3339(start + SOON))

    assert await fire(app, start) == 0
    assert await fire(app, start + SOON - timedelta(seconds=1)) == 0
    assert await fired_of(app) == []
    assert await fire(app, start + SOON) == 1


async def test_reminders_of_completed_deleted_or_acknowledged_tasks_do_not_fire(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    start = utc_now()
    remind = {"remind_at": rfc3339(start + SOON)}
    completed, deleted, acknowledged, pending = [
        await create(client, auth, title=title, **remind) for title in ("done", "gone", "seen", "due")
    ]
    await client.patch(f"/api/tasks/{completed['id']}/complete", headers=auth("alice"))
    await client.delete(f"/api/tasks/{deleted['id']}", headers=auth("alice"))
    acked = await client.post(f"/api/tasks/{acknowledged['id']}/reminders/ack", headers=auth("alice"))
    assert acked.status_code == 200, acked.text

    assert await fire(app, start + LATER) == 1

    assert [event["task_id"] for event in await fired_of(app)] == [pending["id"]]


async def test_a_moved_reminder_fires_again_and_only_then(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    start = utc_now()
    task = await create(client, auth, remind_at=rfc3339(start + SOON))
    assert await fire(app, start + LATER) == 1
    # Edited without moving the reminder: it has fired for that instant already.
    await client.patch(f"/api/tasks/{task['id']}", json={"title": "Call Ann back"}, headers=auth("alice"))
    assert await fire(app, start + LATER) == 0

    moved = await client.patch(
        f"/api/tasks/{task['id']}", json={"remind_at": rfc3339(start + LATER)}, headers=auth("alice")
    )

    assert await fire(app, start + LATER) == 1
    assert await fire(app, start + LATER) == 0
    fired = await fired_of(app)
    assert [event["reminder"]["remind_at"] for event in fired] == [
        task["remind_at"],
        moved.json()["remind_at"],
    ]
    assert fired[1]["reminder"]["title"] == "Call Ann back"


async def test_firing_is_no_change_of_the_task(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    start = utc_now()
    task = await create(client, auth, remind_at=rfc3339(start + SOON))
    before = await client.get(f"/api/tasks/{task['id']}", headers=auth("alice"))

    assert await fire(app, start + LATER) == 1

    after = await client.get(f"/api/tasks/{task['id']}", headers=auth("alice"))
    # No task.updated event, the same version (ETag) and the same answer.
    assert [event["type"] for event in await events_of(app)] == ["task.created", "reminder.due"]
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json() == before.json()


async def test_a_recurring_tasks_next_occurrence_fires_for_its_own_reminder(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    start = utc_now()
    due = (start + SOON).replace(microsecond=0)
    task = await create(
        client, auth, due_date=rfc3339(due), remind_before_minutes=10, recurrence_pattern="daily"
    )
    assert await fire(app, start + LATER) == 1
    completed = await client.patch(f"/api/tasks/{task['id']}/complete", headers=auth("alice"))
    next_id = completed.json()["next_task_id"]

    assert await fire(app, start + LATER) == 0
    assert await fire(app, start + LATER + timedelta(days=1)) == 1

    assert [event["task_id"] for event in await fired_of(app)] == [task["id"], next_id]


async def test_a_backlog_fires_in_batches_earliest_first_each_user_numbered_on(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    start = utc_now()
    for user, minutes in [("alice", 3), ("bob", 1), ("alice", 2), ("bob", 4), ("alice", 5)]:
        await create(
            client,
            auth,
            user,
            title=f"{user} {minutes}",
            remind_at=rfc3339(start + timedelta(minutes=minutes)),
        )

    batches = [await fire(app, start + LATER, limit=2) for _ in range(4)]

    assert batches == [2, 2, 1, 0]
    alice, bob = await events_of(app, "alice"), await events_of(app, "bob")
    assert [event["seq"] for event in alice] == [1, 2, 3, 4, 5, 6]
    assert [event["seq"] for event in bob] == [1, 2, 3, 4]
    assert [event["reminder"]["title"] for event in alice[3:]] == ["alice 2", "alice 3", "alice 5"]
    assert [event["reminder"]["title"] for event in bob[2:]] == ["bob 1", "bob 4"]


async def test_two_instances_firing_at_once_fire_each_reminder_once(database_url: str, auth: Auth) -> None:
    users = [f"user-{number}" for number in range(5)]
    start = utc_now()
    async with serving_app(database_url) as (one, client), serving_app(database_url) as (two, _):
        created = await asyncio.gather(
            *(
                create(
                    client,
                    auth,
                    user,
                    title=f"{user} {index}",
                    remind_at=rfc3339(start + timedelta(seconds=index)),
                )
                for user in users
                for index in range(40)
            )
        )

        # Several batches at a time from each instance, small enough to interleave many times;
        # bounded, so that a claim that fired the same reminders again and again would end.
        async def drain(app: FastAPI) -> None:
            for _ in range(len(created)):
                if not await fire(app, start + LATER, limit=7):
                    return

        await asyncio.gather(*(drain(app) for app in (one, two) for _ in range(4)))

        fired: Counter[int] = Counter()
        for user in users:
            events = await events_of(one, user)
            # Each user's events numbered 1, 2, 3, ... with no gap or repeat.
            assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
            fired.update(event["task_id"] for event in events if event["type"] == "reminder.due")
    assert len(created) == 200
    assert fired == Counter({task["id"]: 1 for task in created})


async def test_fired_reminders_are_announced_to_their_users(
    postgres_url: str, served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    start = utc_now()
    for user in ("alice", "bob"):
        await create(client, auth, user, remind_at=rfc3339(start + SOON))
    heard: list[str] = []
    listener = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        await listener.add_listener(EVENTS_CHANNEL, lambda *args: heard.append(args[3]))

        assert await fire(app, start + LATER) == 2

        async def both_heard() -> bool:
            return sorted(set(heard)) == ["alice", "bob"]

        await eventually(both_heard, "announced")
    finally:
        await listener.close()


async def test_a_batch_of_many_users_reminders_is_one_round_trip(postgres_url: str, auth: Auth) -> None:
    url = make_url(postgres_url)
    proxy = DelayProxy(url.host or "127.0.0.1", url.port or 5432, rtt_ms=0)
    proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    start = utc_now()
    try:
        # Pool size 1: the first batch prepares the statement on the connection measured after.
        async with serving_app(proxied, db_pool_size=1, db_max_overflow=0) as (app, client):
            for round_ in (1, 2):
                for user in ("alice", "bob", "carol"):
                    for _ in range(3):
                        await create(client, auth, user, remind_at=rfc3339(start + round_ * SOON))
                before = proxy.round_trips
                fired = await fire(app, start + round_ * SOON)
                measured = proxy.round_trips - before
    finally:
        proxy.stop()

    assert (fired, measured) == (9, 1)


async def test_the_claim_reads_the_index_of_reminders_to_fire(postgres_url: str, served_app: Any) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        # A small table is read whole when that is cheaper; with that ruled out, the plan shows
        # whether the claim's condition lets PostgreSQL use the partial index at all.
        await connection.execute("SET enable_seqscan = off")
        plan = "\n".join(
            row[0] for row in await connection.fetch("EXPLAIN " + FIRE_DUE.postgres.sql, utc_now(), 100)
        )
    finally:
        await connection.close()

    assert "ix_task_reminder_to_fire" in plan


def test_sqlites_claim_reads_the_index_of_reminders_to_fire(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's plan")
    import sqlite3  # noqa: PLC0415

    statement = FIRE_DUE.sqlite
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        plan = connection.execute(
            "EXPLAIN QUERY PLAN " + statement.compiled.sql,
            statement.arguments({"now": utc_now(), "limit": 100}),
        ).fetchall()

    assert any("ix_task_reminder_to_fire" in str(row[-1]) for row in plan), plan


async def test_the_apps_scheduler_fires_due_reminders_on_its_own(database_url: str, auth: Auth) -> None:
    async with serving_app(database_url, reminders_enabled=True, reminder_interval=0.05) as (app, client):
        task = await create(client, auth, remind_at=rfc3339(utc_now() - timedelta(minutes=5)))

        async def fired() -> bool:
            return [event["task_id"] for event in await fired_of(app)] == [task["id"]]

        await eventually(fired, "fired")


class FailingFirst(Database):
    """The app's database, whose first `failures` units of work fail as a lost server would."""

    def __init__(self, database: Database, failures: int) -> None:
        self.database = database
        self.failures = failures

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        return self.database.transaction()

    @asynccontextmanager
    async def autocommit(self, *, plan_per_call: bool = False) -> AsyncIterator[Connection]:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionResetError("SELECT secret FROM somewhere")
        async with self.database.autocommit() as connection:
            yield connection

    async def ping(self) -> None:
        await self.database.ping()

    async def close(self) -> None:
        await self.database.close()


async def test_the_scheduler_outlives_database_errors_and_says_so_in_one_line(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth, caplog: pytest.LogCaptureFixture
) -> None:
    app, client = served_app
    task = await create(client, auth, remind_at=rfc3339(utc_now() - timedelta(minutes=5)))
    failing = FailingFirst(database_of(app), failures=2)
    scheduler = ReminderScheduler(failing, interval=0.01)
    caplog.set_level(logging.WARNING, logger="todo_api.events.reminders")

    scheduler.start()
    try:

        async def fired() -> bool:
            return [event["task_id"] for event in await fired_of(app)] == [task["id"]]

        await eventually(fired, "fired after the errors")
    finally:
        await answered_within(scheduler.stop(), 5)

    warnings = [record for record in caplog.records if record.name == "todo_api.events.reminders"]
    assert [record.getMessage() for record in warnings] == [
        "due reminders could not be fired; trying again in 0.02 s",
        "due reminders could not be fired; trying again in 0.04 s",
    ]
    assert {record.__dict__["error"] for record in warnings} == {"ConnectionResetError"}
    assert all("SELECT" not in str(record.__dict__) for record in warnings)


async def test_stopping_the_scheduler_does_not_wait_for_its_next_tick(
    served_app: tuple[FastAPI, Any],
) -> None:
    app, _ = served_app
    scheduler = ReminderScheduler(database_of(app), interval=3600)
    scheduler.start()
    await asyncio.sleep(0)

    await answered_within(scheduler.stop(), 5)


def test_a_long_outage_waits_at_most_a_minute_between_attempts() -> None:
    assert [retry_delay(5, failures) for failures in (0, 1, 2, 3, 4, 10_000)] == [5, 10, 20, 40, 60, 60]
    assert retry_delay(120, 3) == 120


async def test_a_tick_fires_a_backlog_larger_than_a_batch(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    start = utc_now()
    for minutes in range(5):
        await create(client, auth, remind_at=rfc3339(start + timedelta(minutes=minutes)))
    scheduler = ReminderScheduler(database_of(app), interval=5, batch=2, clock=lambda: start + LATER)

    assert (await scheduler.tick(), await scheduler.tick()) == (5, 0)
    assert len(await fired_of(app)) == 5
