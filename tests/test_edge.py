"""The edge: the caller is admitted (401, 403, 429) before any body is read or judged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from tests.conftest import TokenFactory, serving_app
from todo_api.auth import CurrentUser
from todo_api.config import Settings
from todo_api.edge import ApiGate
from todo_api.http_errors import install_error_handlers
from todo_api.main import create_app

JSON = {"Content-Type": "application/json"}
MALFORMED_BODIES = [
    pytest.param(b"{not json", id="not-json"),
    pytest.param(b"[" * 5_000 + b"]" * 5_000, id="nested-5000-deep"),
    pytest.param(b'{"title": NaN}', id="nan"),
    pytest.param(b'{"title": "\\ud800"}', id="lone-surrogate"),
    pytest.param(b'{"title": "\xff"}', id="not-utf8"),
    pytest.param(b'{"title": 5}', id="invalid-field"),
]


@pytest.mark.parametrize("body", MALFORMED_BODIES)
async def test_no_credential_is_a_401_whatever_the_body(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/api/tasks", content=body, headers=JSON)

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.parametrize("body", MALFORMED_BODIES)
async def test_someone_elses_path_is_a_403_whatever_the_body(
    client: httpx.AsyncClient, make_token: TokenFactory, body: bytes
) -> None:
    alice = {"Authorization": f"Bearer {make_token('alice')}"}

    response = await client.post("/api/bob/tasks", content=body, headers=JSON | alice)

    assert response.status_code == 403


@pytest.mark.parametrize("body", MALFORMED_BODIES)
async def test_the_callers_own_malformed_body_is_a_400_or_422_never_a_500(
    client: httpx.AsyncClient, make_token: TokenFactory, body: bytes
) -> None:
    alice = {"Authorization": f"Bearer {make_token('alice')}"}

    for path in ("/api/tasks", "/api/alice/tasks"):
        response = await client.post(path, content=body, headers=JSON | alice)
        assert response.status_code in (400, 422), response.text
        assert response.json()["detail"]


async def test_a_refused_request_is_answered_without_reading_its_body(app: FastAPI) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body of a refused request was read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/tasks",
        "raw_path": b"/api/tasks",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"9"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)

    assert sent[0]["status"] == 401


async def test_authentication_runs_once_for_a_request_with_a_bad_body(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="todo_api.auth"):
        await client.post("/api/tasks", content=b"{not json", headers=JSON)

    assert [record.message for record in caplog.records if record.name == "todo_api.auth"] == [
        "authentication failed"
    ]


async def test_the_rate_limit_is_charged_before_the_body_is_judged(
    database_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    async with serving_app(database_url, rate_limit_enabled=True, rate_limit_writes="2/minute") as (
        _,
        client,
    ):
        statuses = [
            (await client.post("/api/tasks", content=b"{not json", headers=JSON | auth("alice"))).status_code
            for _ in range(3)
        ]

    assert statuses == [422, 422, 429]


async def test_paths_outside_the_collections_are_not_guarded(
    client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]]
) -> None:
    unknown = await client.get("/api/nothing/here/at/all")
    health = await client.get("/health")
    # A wrong method on a guarded path: the caller first, then the router's 405.
    anonymous_wrong_method = await client.request("PATCH", "/api/tasks")
    wrong_method = await client.request("PATCH", "/api/tasks", headers=auth("alice"))

    assert unknown.status_code == 404
    assert health.status_code == 200
    assert anonymous_wrong_method.status_code == 401
    assert wrong_method.status_code == 405


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/api/tasks", "", (True, None)),
        ("/api/tasks/7/complete", "", (True, None)),
        ("/api/alice/tasks", "", (True, "alice")),
        ("/api/alice/tasks/7", "", (True, "alice")),
        # The router matches the caller's own family first, whoever is called `tasks`.
        ("/api/tasks/tasks", "", (True, None)),
        ("/prefix/api/alice/tasks", "/prefix", (True, "alice")),
        # A server that gives the path without its root_path: nothing to take off.
        ("/api/alice/tasks", "/prefix", (True, "alice")),
        ("/api/auth/sign-in/email", "", (False, None)),
        ("/api/alice/elsewhere", "", (False, None)),
        ("/api", "", (False, None)),
        ("/mcp", "", (False, None)),
        ("/health", "", (False, None)),
    ],
)
def test_the_guarded_paths_are_the_collections_in_both_families(
    path: str, root_path: str, expected: tuple[bool, str | None]
) -> None:
    async def app(*_: Any) -> None:
        raise AssertionError("never called")

    gate = ApiGate(app, collections=["tasks"])

    assert gate.guarded({"type": "http", "path": path, "root_path": root_path}) == expected


async def test_a_route_outside_the_edge_that_asks_for_the_caller_refuses_everyone(
    make_token: TokenFactory,
) -> None:
    unguarded = FastAPI()
    install_error_handlers(unguarded, routes=[])

    @unguarded.get("/elsewhere")
    async def elsewhere(user: CurrentUser) -> str:
        return user.id

    transport = httpx.ASGITransport(app=unguarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/elsewhere", headers={"Authorization": f"Bearer {make_token('alice')}"})

    assert response.status_code == 401


async def test_the_edge_lets_a_servers_lifespan_messages_through(settings: Settings) -> None:
    # A lifespan scope has no method and no path: the edge must not look for them.
    app = create_app(settings)
    incoming: asyncio.Queue[Message] = asyncio.Queue()
    for message in ({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}):
        incoming.put_nowait(message)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, incoming.get, send)

    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


async def test_a_path_naming_another_user_is_logged_with_the_callers_id(
    client: httpx.AsyncClient, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="todo_api.edge"):
        response = await client.get(
            "/api/bob/tasks", headers={"Authorization": f"Bearer {make_token('alice')}"}
        )

    assert response.status_code == 403
    assert response.json() == {"detail": "The user id in the path does not match the token"}
    [record] = [record for record in caplog.records if record.name == "todo_api.edge"]
    assert (record.levelno, record.getMessage()) == (logging.WARNING, "path user does not match token")
    assert (record.event, record.reason, record.user_id) == (  # type: ignore[attr-defined]
        "authorization_failed",
        "user_id mismatch",
        "alice",
    )
