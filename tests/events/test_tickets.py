"""Tickets: how a browser's EventSource, which cannot send an Authorization header, opens its
stream without the token itself in a URL."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import rows, serving_app
from tests.events.conftest import Auth, opened, served


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    async with serving_app(database_url) as (app, client), served(app) as url:
        yield app, client, url


async def ticket_for(client: httpx.AsyncClient, auth: Auth, user: str) -> str:
    response = await client.post("/api/events/tickets", headers=auth(user))
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def test_a_ticket_opens_its_users_stream_once(
    live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth
) -> None:
    _, client, url = live
    ticket = await ticket_for(client, auth, "alice")

    async with opened(url, {}, {"ticket": ticket}) as stream:
        ready = await stream.next()
        await client.post("/api/tasks", json={"title": "seen through a ticket"}, headers=auth("alice"))
        created = await stream.next()
    # Over the socket: were the ticket still good, this would be a stream, not an answer.
    async with (
        httpx.AsyncClient(base_url=url) as browser,
        browser.stream("GET", "/api/events", params={"ticket": ticket}) as again,
    ):
        refusal = (again.status_code, await again.aread())

    assert ready.name == "ready"
    assert (created.data["user_id"], created.data["task"]["title"]) == ("alice", "seen through a ticket")
    assert refusal[0] == 401
    assert b"ticket" in refusal[1].lower()


async def test_a_ticket_expires(
    live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth, database_url: str
) -> None:
    _, client, _ = live
    ticket = await ticket_for(client, auth, "alice")
    statement = "UPDATE event_ticket SET expires_at = '2000-01-01 00:00:00.000000'"
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            connection.execute(statement)
    else:
        await rows(database_url, statement.replace("'2000", "TIMESTAMPTZ '2000"))

    response = await client.get("/api/events", params={"ticket": ticket})

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/api/tasks", "/api/conversations", "/api/events/tickets"])
async def test_a_ticket_opens_nothing_but_the_stream(
    live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth, path: str
) -> None:
    _, client, url = live
    ticket = await ticket_for(client, auth, "alice")

    for method in ("GET", "POST"):
        response = await client.request(method, path, params={"ticket": ticket})
        assert response.status_code == 401, (method, path)
    # Refused before it was looked at, so still unspent: it opens the stream.
    async with opened(url, {}, {"ticket": ticket}) as stream:
        assert (await stream.next()).name == "ready"


async def test_a_ticket_is_its_users_only(live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth) -> None:
    _, client, _ = live
    ticket = await ticket_for(client, auth, "alice")

    response = await client.get("/api/bob/events", params={"ticket": ticket})

    assert response.status_code == 403


async def test_unknown_tickets_are_refused_and_count_as_failures(database_url: str) -> None:
    async with serving_app(database_url, rate_limit_enabled=True, rate_limit_auth_failures="3/minute") as (
        _,
        client,
    ):
        answers = [await client.get("/api/events", params={"ticket": f"guess-{n}"}) for n in range(5)]

    assert [answer.status_code for answer in answers] == [401, 401, 401, 429, 429]
    # A ticket is a credential presented: RFC 6750's invalid_token challenge, and the reason.
    assert answers[0].headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert answers[0].json()["detail"] == "Invalid ticket: unknown, already used or expired"


async def test_only_a_digest_of_a_ticket_is_kept(
    live: tuple[FastAPI, httpx.AsyncClient, str], auth: Auth, database_url: str
) -> None:
    _, client, _ = live
    ticket = await ticket_for(client, auth, "alice")

    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            stored = [row[0] for row in connection.execute("SELECT digest FROM event_ticket")]
    else:
        stored = [row["digest"] for row in await rows(database_url, "SELECT digest FROM event_ticket")]

    assert len(stored) == 1
    assert ticket not in stored[0]


async def test_getting_a_ticket_needs_the_token(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/events/tickets")).status_code == 401
