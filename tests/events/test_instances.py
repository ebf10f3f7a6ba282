"""Several instances on one PostgreSQL database: a change made through any of them reaches every
subscriber on all of them, in order, once; and neither a lost listening connection nor the
database going away loses an event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import PATIENCE, eventually, rows, serving_app
from tests.events.conftest import Auth, EventReader, served
from tests.proxy import Proxy
from todo_api.db.engine import APPLICATION_NAME
from todo_api.db.notifications import LISTENER_NAME

USERS = [f"user-{n}" for n in range(20)]
SUBSCRIBERS = 200
# Streams per user on each instance: 200 subscribers over 20 users and 2 instances.
PER_USER_AND_INSTANCE = SUBSCRIBERS // len(USERS) // 2


@pytest.fixture
def postgres(postgres_url: str) -> str:
    return postgres_url


@contextlib.asynccontextmanager
async def instance(database_url: str, **overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """One instance of the service on the database: a client for it, and its served URL."""
    # One more stream than each user holds: the one that comes back may do so before its
    # instance has noticed the old one is gone.
    settings = {"events_max_streams_per_user": PER_USER_AND_INSTANCE + 1, "events_heartbeat": 5} | overrides
    async with serving_app(database_url, **settings) as (app, client), served(app) as url:
        yield client, url


@contextlib.asynccontextmanager
async def subscribed(
    http: httpx.AsyncClient, auth: Auth, user: str, last_event_id: str | None = None
) -> AsyncIterator[EventReader]:
    headers = auth(user) | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    async with http.stream("GET", "/api/events", headers=headers) as response:
        assert response.status_code == 200
        reader = EventReader(response)
        assert (await reader.next()).name == "ready"
        yield reader


async def test_every_subscriber_on_either_instance_gets_every_change_in_order_once(
    postgres: str, auth: Auth
) -> None:
    async with (
        instance(postgres) as (client_a, url_a),
        instance(postgres) as (client_b, url_b),
        contextlib.AsyncExitStack() as stack,
    ):
        limits = httpx.Limits(max_connections=SUBSCRIBERS, max_keepalive_connections=0)
        https = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=PATIENCE, limits=limits))
            for url in (url_a, url_b)
        ]
        readers = [
            (user, await stack.enter_async_context(subscribed(https[n // len(USERS) % 2], auth, user)))
            for n in range(SUBSCRIBERS)
            for user in [USERS[n % len(USERS)]]
        ]
        # Three changes per user, through both instances, all users at once.
        clients = (client_a, client_b)

        async def change(user: str, index: int) -> None:
            created = await clients[index % 2].post("/api/tasks", json={"title": user}, headers=auth(user))
            task_url = f"/api/tasks/{created.json()['id']}"
            await clients[(index + 1) % 2].patch(
                task_url, json={"title": f"{user} edited"}, headers=auth(user)
            )
            await clients[index % 2].delete(task_url, headers=auth(user))

        await asyncio.gather(*(change(user, index) for index, user in enumerate(USERS)))
        received = await asyncio.gather(*(reader.events(3) for _, reader in readers))

        # One subscriber is killed, misses two changes, and comes back with its last event's id.
        user, killed = readers[0]
        await killed.response.aclose()
        await clients[1].post("/api/tasks", json={"title": "missed 1"}, headers=auth(user))
        await clients[0].post("/api/tasks", json={"title": "missed 2"}, headers=auth(user))
        async with (
            httpx.AsyncClient(base_url=url_b, timeout=PATIENCE) as again,
            subscribed(again, auth, user, last_event_id=received[0][-1].id) as back,
        ):
            missed = await back.events(2)

    for (user, _), frames in zip(readers, received, strict=True):
        assert [(frame.id, frame.name) for frame in frames] == [
            ("1", "task.created"),
            ("2", "task.updated"),
            ("3", "task.deleted"),
        ], user
        assert {frame.data["user_id"] for frame in frames} == {user}
    assert [(frame.id, frame.data["task"]["title"]) for frame in missed] == [
        ("4", "missed 1"),
        ("5", "missed 2"),
    ]


async def listeners(database_url: str) -> list[int]:
    found = await rows(
        database_url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
        APPLICATION_NAME + LISTENER_NAME,
    )
    return [row["pid"] for row in found]


async def test_a_lost_listening_connection_loses_no_event(postgres: str, auth: Auth) -> None:
    async with (
        instance(postgres, events_poll_interval=0.1) as (client, url),
        httpx.AsyncClient(base_url=url, timeout=PATIENCE) as http,
        subscribed(http, auth, "alice") as stream,
    ):

        async def listening() -> bool:
            return len(await listeners(postgres)) == 1

        await eventually(listening, "listening")
        await rows(
            postgres,
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid",
            await listeners(postgres),
        )
        # Changes while the listener is away (or coming back) reach the stream all the same.
        for title in ("while away", "and after"):
            await client.post("/api/tasks", json={"title": title}, headers=auth("alice"))
        frames = await stream.events(2)
        await eventually(listening, "listening again")
        await client.post("/api/tasks", json={"title": "listened to"}, headers=auth("alice"))
        frames.append(await stream.next())

    assert [frame.data["task"]["title"] for frame in frames] == ["while away", "and after", "listened to"]


async def test_the_database_gone_for_four_seconds_under_twenty_writers_loses_no_event(
    postgres: str, auth: Auth
) -> None:
    host, port = "127.0.0.1", 5432
    proxy = Proxy(host, port)
    await proxy.start()
    proxied = postgres.replace(f"@{host}:{port}/", f"@127.0.0.1:{proxy.port}/")
    assert proxied != postgres
    acknowledged: list[int] = []
    stop = asyncio.Event()

    async def writer(client: httpx.AsyncClient, n: int) -> None:
        while not stop.is_set():
            try:
                response = await client.post("/api/tasks", json={"title": f"w{n}"}, headers=auth("alice"))
            except httpx.HTTPError:
                continue
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])
            else:
                assert response.status_code == 503, response.text
                await asyncio.sleep(0.05)

    async with (
        instance(proxied, db_connect_timeout=1, db_command_timeout=2, events_poll_interval=0.2) as (
            client,
            url,
        ),
        httpx.AsyncClient(base_url=url, timeout=PATIENCE) as http,
        subscribed(http, auth, "alice") as stream,
    ):
        writers = [asyncio.create_task(writer(client, n)) for n in range(20)]
        await eventually(lambda: _at_least(acknowledged, 20), "writing")
        await proxy.cut()
        await asyncio.sleep(4)  # the outage itself: the database is away this long
        await proxy.restore()
        before = len(acknowledged)
        await eventually(lambda: _at_least(acknowledged, before + 20), "writing again")
        stop.set()
        await asyncio.gather(*writers)
        seen: set[int] = set()
        while not set(acknowledged) <= seen:
            frame = await stream.next()
            if frame.name == "task.created":
                seen.add(frame.data["task_id"])
    await proxy.cut()

    assert set(acknowledged) <= seen
    stored = await rows(postgres, "SELECT task_id FROM task_event WHERE type = 'task.created'")
    assert {row["task_id"] for row in stored} == {
        row["id"] for row in await rows(postgres, "SELECT id FROM task")
    }


async def _at_least(items: list[int], count: int) -> bool:
    return len(items) >= count


async def test_an_instance_listens_only_once_it_has_a_stream(postgres: str, auth: Auth) -> None:
    async with instance(postgres) as (client, url):
        await client.post("/api/tasks", json={"title": "no stream yet"}, headers=auth("alice"))
        before = await listeners(postgres)
        async with (
            httpx.AsyncClient(base_url=url, timeout=PATIENCE) as http,
            subscribed(http, auth, "alice") as stream,
        ):

            async def listening() -> bool:
                return len(await listeners(postgres)) == 1

            await eventually(listening, "listening")
            await client.post("/api/tasks", json={"title": "streamed"}, headers=auth("alice"))
            created = await stream.next()

    # A worker serving no stream is sent no notifications (each write sends one).
    assert before == []
    assert created.data["task"]["title"] == "streamed"
