"""The relay to Redis Streams, against the real Redis (TEST_REDIS_URL): every event reaches the
stream as a CloudEvent, in order per user, once committed, from one instance at a time, and none
is lost while Redis goes away and comes back."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import coredis
import httpx
import orjson
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from tests.conftest import answered_within, eventually, make_settings, rows, serving_app
from tests.proxy import Proxy
from todo_api.db.connection import Database
from todo_api.db.engine import open_database
from todo_api.events import service
from todo_api.events.relay import Relay, relay_lock
from todo_api.events.schemas import dump_event
from todo_api.events.transports import OutgoingEvent, RedisStreamTransport
from todo_api.main import create_app
from todo_api.models import task_table, utc_now

REDIS_URL = os.environ.get("TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="set TEST_REDIS_URL=redis://127.0.0.1:6379")
RELAY_LOGGER = "todo_api.events.relay"
Auth = Callable[[str], dict[str, str]]


def redis_address() -> tuple[str, int]:
    assert REDIS_URL
    parts = urlsplit(REDIS_URL)
    return parts.hostname or "127.0.0.1", parts.port or 6379


@pytest.fixture
async def stream() -> AsyncIterator[str]:
    """A stream no other test or run uses, deleted after the test."""
    name = f"todo-api.test.{uuid.uuid4().hex}"
    yield name
    assert REDIS_URL
    client = coredis.Redis.from_url(REDIS_URL)
    try:
        await client.delete([name])
    finally:
        client.connection_pool.disconnect()


async def published(stream: str) -> list[dict[str, Any]]:
    """The stream's CloudEvents, in stream order (duplicates included)."""
    assert REDIS_URL
    client = coredis.Redis.from_url(REDIS_URL)
    try:
        entries = await client.xrange(stream)
    finally:
        client.connection_pool.disconnect()
    assert all(list(entry.field_values) == [b"data"] for entry in entries)
    return [orjson.loads(entry.field_values[b"data"]) for entry in entries]


def first_copies(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a consumer that deduplicates on `id` keeps: each event's first copy."""
    seen: set[str] = set()
    kept = []
    for event in events:
        if event["id"] not in seen:
            seen.add(event["id"])
            kept.append(event)
    return kept


def sequences(events: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Each user's event numbers, in the order the stream has them."""
    found: dict[str, list[int]] = {}
    for event in events:
        found.setdefault(event["userid"], []).append(event["data"]["seq"])
    return found


async def outbox(app: FastAPI, user: str) -> list[Any]:
    database: Database = app.state.todo_api.database
    return await service.events_after(database, user_id=user, after=0, limit=1000)


async def all_published(stream: str, expected: dict[str, int]) -> bool:
    """Whether every user's events up to their number in `expected` are on the stream."""
    found = sequences(first_copies(await published(stream)))
    return all(set(range(1, last + 1)) <= set(found.get(user, [])) for user, last in expected.items())


def relay_settings(redis_url: str, stream: str) -> dict[str, Any]:
    return {"events_relay": "redis", "events_relay_redis_url": redis_url, "events_relay_stream": stream}


async def create(client: httpx.AsyncClient, auth: Auth, user: str, title: str) -> None:
    response = await client.post("/api/tasks", json={"title": title}, headers=auth(user))
    assert response.status_code == 201, response.text


def relay_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == RELAY_LOGGER and record.levelno == level]


@needs_redis
async def test_events_reach_the_stream_as_cloud_events_in_order_per_user(
    database_url: str, stream: str, auth: Auth
) -> None:
    assert REDIS_URL
    async with serving_app(database_url, **relay_settings(REDIS_URL, stream)) as (app, client):
        for user, title in [("alice", "a1"), ("bob", "b1"), ("alice", "a2"), ("bob", "b2"), ("alice", "a3")]:
            await create(client, auth, user, title)
        task_id = (await outbox(app, "alice"))[0]["task_id"]
        done = await client.patch(f"/api/tasks/{task_id}/complete", headers=auth("alice"))
        assert done.status_code == 200
        await eventually(lambda: all_published(stream, {"alice": 4, "bob": 2}), "published")
        expected = {
            row["event_id"]: orjson.loads(dump_event(row, now=utc_now()))
            for user in ("alice", "bob")
            for row in await outbox(app, user)
        }

    events = await published(stream)
    assert sequences(first_copies(events)) == {"alice": [1, 2, 3, 4], "bob": [1, 2]}
    completed = next(event for event in events if event["type"] == "task.completed")
    assert set(completed) == {
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "userid",
        "sequence",
        "data",
    }
    assert completed["specversion"] == "1.0"
    assert completed["source"] == "/todo-api"
    assert completed["datacontenttype"] == "application/json"
    assert (completed["userid"], completed["subject"]) == ("alice", str(task_id))
    assert completed["sequence"] == "00000000000000000004"
    assert completed["time"] == completed["data"]["at"]
    assert completed["time"].endswith("Z")
    for event in events:
        assert event["data"] == expected[event["id"]]
        assert event["type"] == event["data"]["type"]


@needs_redis
async def test_nothing_is_published_before_its_commit(postgres_url: str, stream: str, auth: Auth) -> None:
    assert REDIS_URL
    async with serving_app(postgres_url, **relay_settings(REDIS_URL, stream)) as (app, client):
        database: Database = app.state.todo_api.database
        async with database.transaction() as connection:
            now = utc_now()
            await connection.fetch(
                sa.insert(task_table).values(
                    user_id="alice", title="uncommitted", created_at=now, updated_at=now
                )
            )
            # Bob's event, committed after Alice's was written, is published: the relay has read
            # the outbox since, and Alice's was not there to read.
            await create(client, auth, "bob", "committed")
            await eventually(lambda: all_published(stream, {"bob": 1}), "published")
            assert [event["userid"] for event in await published(stream)] == ["bob"]

        await eventually(lambda: all_published(stream, {"alice": 1, "bob": 1}), "published after its commit")


class Recording:
    """A transport that remembers what it published."""

    def __init__(self, inner: RedisStreamTransport) -> None:
        self.inner = inner
        self.name = inner.name
        self.ids: list[str] = []

    async def publish(self, batch: list[OutgoingEvent]) -> None:
        await self.inner.publish(batch)
        self.ids += [event.id for event in batch]

    async def close(self) -> None:
        await self.inner.close()


@needs_redis
async def test_one_instance_publishes_while_it_holds_the_lock_and_another_takes_over(
    postgres_url: str, stream: str, auth: Auth
) -> None:
    assert REDIS_URL
    settings = make_settings(postgres_url, **relay_settings(REDIS_URL, stream))
    database = await open_database(settings)
    transports = [
        Recording(RedisStreamTransport(REDIS_URL, stream=stream, maxlen=10_000, timeout=5)) for _ in range(2)
    ]
    relays = [
        Relay(database, transport, relay_lock(settings), source="/test", poll_interval=0.2, lock_interval=0.2)
        for transport in transports
    ]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        async with serving_app(postgres_url) as (_, client):
            # One change at a time, each published before the next: without the lock both relays
            # would poll, and each change would go to whichever came first.
            for number in range(1, 9):
                await create(client, auth, "alice", f"task {number}")
                await eventually(lambda n=number: all_published(stream, {"alice": n}), "published")
            [first] = [index for index, transport in enumerate(transports) if transport.ids]
            assert len(transports[first].ids) == 8
            assert relays[first].relaying
            assert not relays[1 - first].relaying

            # Its last batch recorded too, so the one in flight is not published again.
            async def recorded() -> bool:
                return await service.unpublished(database, limit=1) == []

            await eventually(recorded, "recorded as published")
            tasks[first].cancel()
            await asyncio.wait({tasks[first]})
            await create(client, auth, "alice", "after the first relay stopped")
            await eventually(lambda: all_published(stream, {"alice": 9}), "published by the other relay")

        assert len(transports[1 - first].ids) == 1
        events = await published(stream)
        assert len(events) == len(first_copies(events)) == 9
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        await database.close()


@needs_redis
async def test_redis_going_away_and_coming_back_loses_no_event(
    database_url: str, stream: str, auth: Auth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=RELAY_LOGGER)
    proxy = Proxy(*redis_address())
    await proxy.start()
    url = f"redis://127.0.0.1:{proxy.port}"
    try:
        async with serving_app(database_url, **relay_settings(url, stream)) as (_, client):
            await create(client, auth, "alice", "before")
            await create(client, auth, "bob", "before")
            await eventually(lambda: all_published(stream, {"alice": 1, "bob": 1}), "published")

            await proxy.cut()
            for user, title in [("alice", "a2"), ("bob", "b2"), ("alice", "a3"), ("alice", "a4")]:
                await create(client, auth, user, title)

            async def warned() -> bool:
                return bool(relay_records(caplog, logging.WARNING))

            await eventually(warned, "warned that Redis is away")
            await create(client, auth, "bob", "b3")
            await proxy.restore()
            await create(client, auth, "alice", "a5")
            await eventually(
                lambda: all_published(stream, {"alice": 5, "bob": 3}), "published after Redis came back"
            )
    finally:
        await proxy.cut()

    # A batch in flight when the connection dropped may have reached Redis without its answer
    # reaching the relay: published again, so consumers deduplicate on `id`, as here.
    assert sequences(first_copies(await published(stream))) == {"alice": [1, 2, 3, 4, 5], "bob": [1, 2, 3]}
    [warning] = relay_records(caplog, logging.WARNING)
    assert warning.getMessage().startswith(f"events relay: Redis at 127.0.0.1:{proxy.port} (stream {stream})")
    assert vars(warning)["event"] == "events_relay_unavailable"
    assert [record.getMessage() for record in relay_records(caplog, logging.INFO)][-1].endswith(
        "available again"
    )


@needs_redis
async def test_a_relay_started_while_redis_is_down_publishes_once_it_is_up(
    database_url: str, stream: str, auth: Auth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=RELAY_LOGGER)
    proxy = Proxy(*redis_address())
    await proxy.start()
    await proxy.cut()
    url = f"redis://127.0.0.1:{proxy.port}"
    try:
        async with serving_app(database_url, **relay_settings(url, stream)) as (_, client):
            await create(client, auth, "alice", "while Redis is down")

            async def warned() -> bool:
                return bool(relay_records(caplog, logging.WARNING))

            await eventually(warned, "warned that Redis is away")
            await proxy.restore()
            await eventually(lambda: all_published(stream, {"alice": 1}), "published once Redis is up")
    finally:
        await proxy.cut()


@needs_redis
async def test_a_silent_redis_never_holds_up_shutdown(database_url: str, stream: str, auth: Auth) -> None:
    proxy = Proxy(*redis_address())
    await proxy.black_hole()
    app = create_app(make_settings(database_url, **relay_settings(f"redis://127.0.0.1:{proxy.port}", stream)))
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await create(client, auth, "alice", "into the void")

        async def waiting_on_redis() -> bool:
            return proxy.swallowed > 0

        await eventually(waiting_on_redis, "publishing into the black hole")
    finally:
        # Well within the relay's own wait on Redis: the relay is cancelled, not waited for.
        await answered_within(lifespan.__aexit__(None, None, None), seconds=2.0)
        await proxy.cut()


@needs_redis
async def test_the_outage_warning_names_the_broker_and_never_its_password(
    database_url: str, stream: str, auth: Auth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Nothing listens on port 1.
    settings = relay_settings("redis://relay:hunter2-placeholder@127.0.0.1:1/0", stream)
    async with serving_app(database_url, **settings) as (_, client):
        await create(client, auth, "alice", "nowhere to go")

        async def warned() -> bool:
            return bool(relay_records(caplog, logging.WARNING))

        await eventually(warned, "warned")

    [warning] = relay_records(caplog, logging.WARNING)
    assert warning.getMessage().startswith("events relay: Redis at 127.0.0.1:1 (stream ")
    assert all("hunter2" not in f"{record.getMessage()} {vars(record)}" for record in caplog.records)


async def test_pruning_keeps_what_the_relay_has_not_published(database_url: str, auth: Auth) -> None:
    async with serving_app(database_url) as (app, client):
        database: Database = app.state.todo_api.database
        for user in ("alice", "alice", "bob"):
            await create(client, auth, user, "old")
        await service.mark_published(database, {"alice": 1})
        await _age_events(database_url, days=8)
        cutoff = utc_now() - timedelta(days=7)

        await service.prune(database, before=cutoff, keep_unpublished=True)
        kept = {user: [row["seq"] for row in await outbox(app, user)] for user in ("alice", "bob")}
        await service.prune(database, before=cutoff, keep_unpublished=False)
        left = [row["seq"] for user in ("alice", "bob") for row in await outbox(app, user)]

    assert kept == {"alice": [2], "bob": [1]}
    assert left == []


async def test_positions_only_move_forward(database_url: str, auth: Auth) -> None:
    async with serving_app(database_url) as (app, client):
        database: Database = app.state.todo_api.database
        for _ in range(3):
            await create(client, auth, "alice", "task")
        await service.mark_published(database, {"alice": 3})
        await service.mark_published(database, {"alice": 1})  # a slower relay, finishing late

        assert await service.unpublished(database, limit=10) == []


async def _age_events(database_url: str, *, days: int) -> None:
    if database_url.startswith("sqlite"):
        import sqlite3  # noqa: PLC0415

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            connection.execute("UPDATE task_event SET at = datetime(at, ?)", (f"-{days} days",))
        return
    await rows(database_url, "UPDATE task_event SET at = at - make_interval(days => $1)", days)
