"""GET /api/events: each user's changes as they commit, what they missed since their last event,
and nothing of anyone else's; over a real socket, as a browser reads it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import eventually, serving_app
from tests.events.conftest import Auth, opened, served
from tests.events.test_outbox import _age_event
from todo_api.events import service
from todo_api.models import utc_now


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    """The app (its lifespan running), a client for it, and the base URL it is served at."""
    async with serving_app(database_url, events_heartbeat=30) as (app, client), served(app) as url:
        yield app, client, url


async def create(client: httpx.AsyncClient, auth: Auth, user: str, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/tasks", json={"title": "a task"} | body, headers=auth(user))
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def test_changes_reach_an_open_stream_in_order(
    live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth
) -> None:
    _, client, url = live
    async with opened(url, auth("alice")) as stream:
        ready = await stream.next()
        created = await create(client, auth, "alice", title="Buy milk")
        task_url = f"/api/tasks/{created['id']}"
        await client.patch(f"{task_url}/complete", headers=auth("alice"))
        await client.delete(task_url, headers=auth("alice"))
        frames = await stream.events(3)

    assert (ready.name, ready.id, ready.data) == ("ready", "0", {"seq": 0})
    assert [(frame.id, frame.name) for frame in frames] == [
        ("1", "task.created"),
        ("2", "task.completed"),
        ("3", "task.deleted"),
    ]
    assert frames[0].data["task"]["title"] == "Buy milk"
    assert frames[1].data["task"]["completed"] is True
    assert frames[2].data["task"] is None
    assert {frame.data["task_id"] for frame in frames} == {created["id"]}
    assert [frame.data["seq"] for frame in frames] == [1, 2, 3]


async def test_a_stream_shows_nothing_of_another_users_changes(
    live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth
) -> None:
    _, client, url = live
    async with opened(url, auth("alice")) as alice, opened(url, auth("bob")) as bob:
        await alice.next(), await bob.next()
        await create(client, auth, "bob", title="Bob's secret")
        await create(client, auth, "alice", title="Alice's")
        alices = await alice.next()
        bobs = await bob.next()

    # Alice's next event is her own task, though Bob's was made first.
    assert (alices.name, alices.data["task"]["title"], alices.data["user_id"]) == (
        "task.created",
        "Alice's",
        "alice",
    )
    assert (bobs.data["task"]["title"], bobs.data["user_id"]) == ("Bob's secret", "bob")


async def test_a_client_that_reconnects_gets_what_it_missed(
    live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth
) -> None:
    _, client, url = live
    async with opened(url, auth("alice")) as stream:
        await stream.next()
        await create(client, auth, "alice", title="one")
        first = await stream.next()
    # Gone: two changes happen meanwhile.
    await create(client, auth, "alice", title="two")
    await create(client, auth, "alice", title="three")

    async with opened(url, auth("alice") | {"Last-Event-ID": first.id or ""}) as stream:
        ready = await stream.next()
        missed = await stream.events(2)
        await create(client, auth, "alice", title="four")
        live_one = await stream.next()

    assert ready.data == {"seq": 1}
    assert [(frame.id, frame.data["task"]["title"]) for frame in missed] == [("2", "two"), ("3", "three")]
    assert (live_one.id, live_one.data["task"]["title"]) == ("4", "four")


async def test_a_list_s_sync_token_opens_the_stream_where_the_list_was_read(
    live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth
) -> None:
    _, client, url = live
    await create(client, auth, "alice", title="listed")
    listed = await client.get("/api/tasks", headers=auth("alice"))
    await create(client, auth, "alice", title="made after the list")

    token = listed.headers["x-sync-token"]
    async with opened(url, auth("alice"), {"last_event_id": token}) as stream:
        ready = await stream.next()
        after_the_list = await stream.next()

    assert ready.data == {"seq": 1}
    assert after_the_list.data["task"]["title"] == "made after the list"


@pytest.mark.parametrize("given", ["pruned", "from the future"])
async def test_a_position_that_cannot_be_resumed_is_a_reset(
    live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth, database_url: str, given: str
) -> None:
    app, client, url = live
    for title in ("old", "older", "kept"):
        await create(client, auth, "alice", title=title)
    if given == "pruned":
        for seq in (1, 2):
            await _age_event(database_url, seq=seq, days=30)
        await service.prune(
            app.state.todo_api.database, before=utc_now() - timedelta(days=7), keep_unpublished=False
        )
    last_seen = "1" if given == "pruned" else "99"

    async with opened(url, auth("alice") | {"Last-Event-ID": last_seen}) as stream:
        reset = await stream.next()
        await create(client, auth, "alice", title="after the reset")
        following = await stream.next()

    assert (reset.name, reset.id, reset.data["seq"]) == ("reset", "3", 3)
    assert "fetch your tasks again" in reset.data["detail"]
    assert (following.id, following.data["task"]["title"]) == ("4", "after the reset")


async def test_a_silent_stream_gets_heartbeats(database_url: str, auth: Auth) -> None:
    async with (
        serving_app(database_url, events_heartbeat=0.05) as (app, _),
        served(app) as url,
        opened(url, auth("alice")) as stream,
    ):
        await stream.next()
        heartbeat = await stream.next(comments=True)

    assert (heartbeat.name, heartbeat.data) == (":", "keep-alive")


@pytest.mark.parametrize("given", ["x", "-1", "1.5", "٣", "99999999999999999999", "null"])
async def test_a_position_that_is_not_a_whole_number_is_a_reset_or_a_400(
    live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth, given: str
) -> None:
    _, client, url = live
    await create(client, auth, "alice", title="kept")
    # An EventSource sends back whatever id it was given: one not of ours means start over
    # (refused, the browser would give up); the query parameter is the client's own, and typed.
    async with opened(url, auth("alice") | {"Last-Event-ID": given.encode()}) as stream:
        reset = await stream.next()
    query = await client.get("/api/events", headers=auth("alice"), params={"last_event_id": given})

    assert (reset.name, reset.data["seq"]) == ("reset", 1)
    assert query.status_code == 400
    assert "whole number" in query.json()["detail"]


async def test_streams_per_user_are_limited(database_url: str, auth: Auth) -> None:
    async with (
        serving_app(database_url, events_max_streams_per_user=2) as (app, _),
        served(app) as url,
        opened(url, auth("alice")) as first,
        opened(url, auth("alice")) as second,
        httpx.AsyncClient(base_url=url) as client,
    ):
        await first.next(), await second.next()
        third = await client.get("/api/events", headers=auth("alice"))
        bobs = await client.get("/api/tasks", headers=auth("bob"))
        async with opened(url, auth("bob")) as other_user:
            others = await other_user.next()

    assert third.status_code == 429
    assert "at most 2" in third.json()["detail"].lower()
    assert third.headers["retry-after"] == "5"
    assert bobs.status_code == 200
    assert others.name == "ready"


async def test_a_closed_stream_frees_its_place(database_url: str, auth: Auth) -> None:
    async with (
        serving_app(database_url, events_max_streams_per_user=1) as (app, _),
        served(app) as url,
    ):
        feed = app.state.todo_api_events

        async def freed() -> bool:
            return bool(feed.open_streams == 0)

        for _ in range(3):
            async with opened(url, auth("alice")) as stream:
                assert (await stream.next()).name == "ready"
            await eventually(freed, "freed")


async def test_without_a_token_the_stream_is_a_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/events")

    assert response.status_code == 401


async def test_a_stream_ends_after_its_lifetime_and_resumes_where_it_left_off(
    database_url: str, auth: Auth
) -> None:
    async with (
        serving_app(database_url, events_stream_lifetime=0.5) as (app, client),
        served(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as browser,
    ):
        await create(client, auth, "alice", title="before")
        async with browser.stream(
            "GET", "/api/events", headers=auth("alice") | {"Last-Event-ID": "0"}
        ) as first:
            text = (await first.aread()).decode()
        await create(client, auth, "alice", title="between")
        async with opened(url, auth("alice") | {"Last-Event-ID": "1"}) as again:
            await again.next()
            between = await again.next()

    assert text.startswith("retry: 1000")
    assert "id: 1\nevent: task.created" in text
    assert (between.id, between.data["task"]["title"]) == ("2", "between")
