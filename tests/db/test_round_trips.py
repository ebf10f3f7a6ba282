"""Round trips to PostgreSQL per task and conversation request, counted on the wire by the
benchmark's proxy (`bench.delay.DelayProxy`, here without delay), which the `latency` workload
reports with.

Behind a database a region away, every round trip is felt by the user; one per request is the
floor. The counts are of a warm connection: asyncpg prepares each statement once per connection,
which costs one more round trip the first time only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from bench.delay import DelayProxy
from sqlalchemy.engine import make_url

from tests.conftest import serving, serving_app
from tests.conversations.conftest import app_database
from todo_api.conversations import service

Auth = Callable[[str], dict[str, str]]
Request = Callable[[httpx.AsyncClient, dict[str, str], str], Awaitable[httpx.Response]]


@pytest.fixture
async def counter(postgres_url: str) -> AsyncIterator[tuple[DelayProxy, str]]:
    url = make_url(postgres_url)
    proxy = DelayProxy(url.host or "127.0.0.1", url.port or 5432, rtt_ms=0)
    proxy.start()
    try:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    finally:
        proxy.stop()


def _new_key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _matching(task: httpx.Response) -> dict[str, str]:
    return {"If-Match": task.headers["etag"]}


# (name, request, status, round trips). Each request acts on a task made just before it.
CASES: list[tuple[str, Request, int, int]] = [
    ("list", lambda c, h, url: c.get("/api/tasks", headers=h), 200, 1),
    ("list, filtered", lambda c, h, url: c.get("/api/tasks?status=pending", headers=h), 200, 1),
    # On the connections that plan each run, whose setting is made once, when each is opened.
    ("list, searched", lambda c, h, url: c.get("/api/tasks?search=new", headers=h), 200, 1),
    # A full page: the total comes from a count in the same statement.
    ("list, a full page", lambda c, h, url: c.get("/api/tasks?limit=1&offset=1", headers=h), 200, 1),
    ("create", lambda c, h, url: c.post("/api/tasks", json={"title": "new"}, headers=h), 201, 1),
    ("get", lambda c, h, url: c.get(url, headers=h), 200, 1),
    ("put", lambda c, h, url: c.put(url, json={"title": "put"}, headers=h), 200, 1),
    ("patch", lambda c, h, url: c.patch(url, json={"description": "d"}, headers=h), 200, 1),
    ("toggle", lambda c, h, url: c.patch(f"{url}/complete", headers=h), 200, 1),
    (
        "set completed",
        lambda c, h, url: c.patch(f"{url}/complete", json={"completed": True}, headers=h),
        200,
        1,
    ),
    ("delete", lambda c, h, url: c.delete(url, headers=h), 204, 1),
    ("get, not found", lambda c, h, url: c.get(f"{url}0", headers=h), 404, 1),
    ("put, not found", lambda c, h, url: c.put(f"{url}0", json={"title": "x"}, headers=h), 404, 1),
    ("toggle, not found", lambda c, h, url: c.patch(f"{url}0/complete", headers=h), 404, 1),
    ("delete, not found", lambda c, h, url: c.delete(f"{url}0", headers=h), 404, 1),
    # With an Idempotency-Key, in one transaction: BEGIN, the key's lock and lookup, the insert,
    # the key's record, COMMIT.
    (
        "create, with an Idempotency-Key",
        lambda c, h, url: c.post("/api/tasks", json={"title": "new"}, headers=h | _new_key()),
        201,
        5,
    ),
    # A retry with a key whose answer is stored: BEGIN, the lookup, COMMIT.
    (
        "create, replayed",
        lambda c, h, url: c.post("/api/tasks", json={"title": "new"}, headers=h | {"Idempotency-Key": "k"}),
        201,
        3,
    ),
]
CONDITIONAL: list[tuple[str, str, int]] = [
    ("put", "PUT", 200),
    ("toggle", "PATCH", 200),
    ("delete", "DELETE", 204),
]


async def _count(proxy: DelayProxy, request: Callable[[], Awaitable[httpx.Response]]) -> tuple[int, int]:
    before = proxy.round_trips
    response = await request()
    return response.status_code, proxy.round_trips - before


@pytest.mark.parametrize(
    ("request_", "status", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
async def test_each_task_request_is_one_round_trip(
    counter: tuple[DelayProxy, str],
    auth: Auth,
    request_: Request,
    status: int,
    expected: int,
) -> None:
    proxy, url = counter
    headers = auth("alice")
    # Pool size 1: the warm-up prepares the statement on the very connection measured after.
    async with serving(url, db_pool_size=1, db_max_overflow=0) as client:
        for _ in range(2):
            task = await client.post("/api/tasks", json={"title": "t"}, headers=headers)
            await request_(client, headers, f"/api/tasks/{task.json()['id']}")
        task = await client.post("/api/tasks", json={"title": "t"}, headers=headers)
        measured = await _count(proxy, lambda: request_(client, headers, f"/api/tasks/{task.json()['id']}"))

    assert measured == (status, expected)


@pytest.mark.parametrize(("name", "method", "status"), CONDITIONAL, ids=[case[0] for case in CONDITIONAL])
async def test_a_conditional_write_that_matches_is_one_round_trip(
    counter: tuple[DelayProxy, str], auth: Auth, name: str, method: str, status: int
) -> None:
    proxy, url = counter
    headers = auth("alice")
    suffix = "/complete" if name == "toggle" else ""
    body = {"json": {"title": "if-match"}} if method == "PUT" else {}
    async with serving(url, db_pool_size=1, db_max_overflow=0) as client:

        async def conditional() -> httpx.Response:
            task = await client.post("/api/tasks", json={"title": "t"}, headers=headers)
            path = f"/api/tasks/{task.json()['id']}{suffix}"
            return await client.request(method, path, headers=headers | _matching(task), **body)

        for _ in range(2):
            await conditional()
        task = await client.post("/api/tasks", json={"title": "t"}, headers=headers)
        path = f"/api/tasks/{task.json()['id']}{suffix}"
        measured = await _count(
            proxy, lambda: client.request(method, path, headers=headers | _matching(task), **body)
        )

    assert measured == (status, 1)


# (name, path after /api/conversations, method, status). Each acts on a conversation of three
# turns made just before it, through the service (the chat endpoint will make them).
CONVERSATION_CASES: list[tuple[str, str, str, int]] = [
    ("list", "", "GET", 200),
    ("list, a full page", "?limit=1&offset=1", "GET", 200),
    ("get with its messages", "/{id}", "GET", 200),
    ("get, a page of older messages", "/{id}?limit=2&before=5", "GET", 200),
    ("delete", "/{id}", "DELETE", 204),
    ("get, not found", "/{id}0", "GET", 404),
    ("delete, not found", "/{id}0", "DELETE", 404),
]


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [case[1:] for case in CONVERSATION_CASES],
    ids=[case[0] for case in CONVERSATION_CASES],
)
async def test_each_conversation_request_is_one_round_trip(
    counter: tuple[DelayProxy, str], auth: Auth, path: str, method: str, status: int
) -> None:
    proxy, url = counter
    headers = auth("alice")
    async with serving_app(url, db_pool_size=1, db_max_overflow=0) as (app, client):
        database = app_database(app)

        async def conversation() -> str:
            started = await service.start_conversation(database, user_id="alice", content="q")
            conversation_id = started["conversation_id"]
            for _ in range(2):
                await service.add_assistant_message(
                    database, user_id="alice", conversation_id=conversation_id, content="a"
                )
                await service.add_user_message(
                    database, user_id="alice", conversation_id=conversation_id, content="q"
                )
            return "/api/conversations" + path.format(id=conversation_id)

        for _ in range(2):
            await client.request(method, await conversation(), headers=headers)
        target = await conversation()
        measured = await _count(proxy, lambda: client.request(method, target, headers=headers))

    assert measured == (status, 1)
