"""Resource limits and response hardening (OWASP API4, API8): each fails if its guard is removed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from tests.conftest import PRODUCTION_SECRET, TokenFactory, make_settings
from tests.test_http_errors import break_database
from todo_api.hardening import MAX_BODY_BYTES, MAX_HEADER_BYTES, HardeningMiddleware
from todo_api.main import create_app
from todo_api.origins import INVALID_ORIGIN, trusted_origins, untrusted_origin

Auth = Callable[[str], dict[str, str]]


@asynccontextmanager
async def client_for(database_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app built with these setting overrides."""
    app = create_app(make_settings(database_url, **overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


API_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def security_headers(response: httpx.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in API_HEADERS}


async def test_api_responses_carry_security_headers(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get("/api/tasks", headers=auth("alice"))

    assert response.status_code == 200
    assert security_headers(response) == API_HEADERS
    assert "strict-transport-security" not in response.headers
    assert "server" not in response.headers


ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "no token": (401, {"method": "GET", "url": "/api/tasks"}),
    "someone else's path": (403, {"method": "GET", "url": "/api/bob/tasks"}),
    "missing task": (404, {"method": "GET", "url": "/api/tasks/999"}),
    "wrong method": (405, {"method": "PATCH", "url": "/api/tasks"}),
    "oversized headers (answered before routing)": (
        431,
        {"method": "GET", "url": "/api/tasks", "headers": {"X-Padding": "p" * 64 * 1024}},
    ),
    "non-JSON body (answered before routing)": (
        415,
        {"method": "POST", "url": "/api/tasks", "content": b"x"},
    ),
    "declared body over 1 MiB (answered before routing)": (
        413,
        {"method": "POST", "url": "/api/tasks", "json": {"title": "x" * (1024 * 1024)}},
    ),
    "invalid body": (422, {"method": "POST", "url": "/api/tasks", "json": {"title": ""}}),
}


@pytest.mark.parametrize("name", list(ERRORS))
async def test_errors_are_hardened_too(client: httpx.AsyncClient, auth: Auth, name: str) -> None:
    status, request = ERRORS[name]
    headers = ({} if status == 401 else auth("alice")) | request.get("headers", {})

    response = await client.request(**(request | {"headers": headers}))

    assert response.status_code == status
    assert security_headers(response) == API_HEADERS


async def test_a_generic_500_is_hardened_too(app: FastAPI, client: httpx.AsyncClient, auth: Auth) -> None:
    break_database(app)

    response = await client.get("/api/tasks", headers=auth("alice"))

    assert response.status_code == 500
    assert security_headers(response) == API_HEADERS


REFUSED_BEFORE_ROUTING: dict[str, tuple[int, dict[str, Any], bytes]] = {
    "oversized headers": (
        431,
        {"method": "GET", "url": "/api/tasks", "headers": {"X-Padding": "p" * 64 * 1024}},
        b'{"detail": "Request headers too large"}',
    ),
    "non-JSON body": (
        415,
        {"method": "POST", "url": "/api/tasks", "content": b"x"},
        b'{"detail": "Content-Type must be application/json"}',
    ),
    "declared body over 1 MiB": (
        413,
        {"method": "POST", "url": "/api/tasks", "json": {"title": "x" * (1024 * 1024)}},
        b'{"detail": "Request body too large (limit 1 MiB)"}',
    ),
}


@pytest.mark.parametrize("name", list(REFUSED_BEFORE_ROUTING))
async def test_a_refusal_before_routing_is_json_with_its_length_and_closes_the_connection(
    client: httpx.AsyncClient, auth: Auth, name: str
) -> None:
    status, request, body = REFUSED_BEFORE_ROUTING[name]
    headers = auth("alice") | {"X-Request-ID": "refused-1"} | request.get("headers", {})

    response = await client.request(**(request | {"headers": headers}))

    assert response.status_code == status
    assert response.content == body
    # Exactly these headers, in this order and spelling, as the client receives them.
    assert response.headers.raw == [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        (b"vary", b"Origin"),
        (b"x-request-id", b"refused-1"),
    ]


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("no handler expected this")


@pytest.mark.parametrize(
    ("client_address", "logged_client"),
    [(("203.0.113.7", 4711), "203.0.113.7"), (None, None)],
    ids=["with a client address", "without one (a Unix socket)"],
)
async def test_an_unhandled_error_is_a_generic_500_logged_with_the_callers_address(
    caplog: pytest.LogCaptureFixture,
    client_address: tuple[str, int] | None,
    logged_client: str | None,
) -> None:
    # ASGI leaves `client` out when the server knows no peer address.
    scope: Scope = {"type": "http", "method": "GET", "path": "/api/tasks", "headers": []}
    if client_address is not None:
        scope["client"] = client_address
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    with caplog.at_level(logging.ERROR):
        await HardeningMiddleware(failing_app, hsts=False)(scope, receive, send)

    body = b'{"detail": "Internal Server Error"}'
    assert sent == [
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
                (b"x-frame-options", b"DENY"),
                (b"referrer-policy", b"no-referrer"),
                (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]
    (record,) = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert record.event == "unhandled_error"  # type: ignore[attr-defined]
    assert record.path == "/api/tasks"  # type: ignore[attr-defined]
    assert record.client == logged_client  # type: ignore[attr-defined]
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "no handler expected this"


def csp_directives(policy: str) -> dict[str, list[str]]:
    directives = [directive.split() for directive in policy.split(";") if directive.strip()]
    return {name: sources for name, *sources in directives}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_csp_allows_only_local_assets_and_its_own_script(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    inline_scripts = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline_scripts
    ]

    directives = csp_directives(response.headers["content-security-policy"])

    assert directives["default-src"] == ["'self'"]
    # This page's own inline scripts, by hash, and nothing else: no 'unsafe-inline', no hosts.
    assert directives["script-src"] == ["'self'", *hashes]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert all(not source.startswith(("http", "*")) for sources in directives.values() for source in sources)


async def test_hsts_only_in_production(database_url: str, make_token: TokenFactory) -> None:
    token = make_token("alice", secret=PRODUCTION_SECRET)
    async with client_for(
        database_url, environment="production", better_auth_secret=PRODUCTION_SECRET
    ) as client:
        response = await client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200

    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_cors_allows_only_configured_origins(database_url: str) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    async with client_for(database_url, cors_origins=["http://localhost:3000"], builtin_auth=False) as client:
        allowed = await client.options("/api/tasks", headers={"Origin": "http://localhost:3000", **preflight})
        denied = await client.options("/api/tasks", headers={"Origin": "https://evil.example", **preflight})
        simple = await client.get("/api/tasks", headers={"Origin": "https://evil.example"})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    assert denied.status_code == 403
    assert "CORS_ORIGINS" in denied.json()["detail"]
    assert "access-control-allow-origin" not in denied.headers
    assert "access-control-allow-origin" not in simple.headers


async def test_without_cors_origins_production_allows_no_other_origin(
    database_url: str, make_token: TokenFactory
) -> None:
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    token = make_token("alice", secret=PRODUCTION_SECRET)
    async with client_for(
        database_url, environment="production", better_auth_secret=PRODUCTION_SECRET
    ) as client:
        asked = await client.options("/api/tasks", headers={"Origin": "http://localhost:3000", **preflight})
        simple = await client.get(
            "/api/tasks", headers={"Origin": "http://localhost:3000", "Authorization": f"Bearer {token}"}
        )

    assert asked.status_code == 403
    assert not any(name.startswith("access-control-") for name in asked.headers)
    assert simple.status_code == 200
    assert not any(name.startswith("access-control-") for name in simple.headers)


async def test_without_cors_origins_development_allows_the_example_apps_origin_only(
    database_url: str,
) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    async with client_for(database_url) as client:
        example = await client.options("/api/tasks", headers={"Origin": "http://localhost:3000", **preflight})
        other = await client.options("/api/tasks", headers={"Origin": "http://localhost:3001", **preflight})

    assert example.status_code == 200
    assert example.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert other.status_code == 403
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("cors_origins", [[], ["http://localhost:3000"]], ids=["default", "configured"])
async def test_a_refused_preflight_is_answered_and_logged_with_a_hint(
    database_url: str, caplog: pytest.LogCaptureFixture, cors_origins: list[str]
) -> None:
    preflight = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
    async with client_for(database_url, cors_origins=cors_origins) as client:
        with caplog.at_level(logging.WARNING, logger="todo_api.cors"):
            refused = await client.options("/api/auth/sign-up/email", headers=preflight)

    assert refused.status_code == 403
    hint = "add http://localhost:5173 to CORS_ORIGINS"
    assert hint in refused.json()["detail"]
    (record,) = [record for record in caplog.records if record.name == "todo_api.cors"]
    assert record.event == "cors_refused"  # type: ignore[attr-defined]
    assert hint in record.hint  # type: ignore[attr-defined]


async def test_an_options_request_that_is_no_preflight_is_the_routers(database_url: str) -> None:
    async with client_for(database_url, cors_origins=["http://localhost:3000"]) as client:
        plain = await client.options("/api/tasks")

    assert plain.status_code == 405


async def test_cors_exposes_pagination_and_version_headers(database_url: str, auth: Auth) -> None:
    async with client_for(database_url, cors_origins=["http://localhost:3000"]) as client:
        response = await client.get(
            "/api/tasks", headers={"Origin": "http://localhost:3000", **auth("alice")}
        )

    exposed = response.headers["access-control-expose-headers"].lower()
    for header in ("x-total-count", "link", "location", "etag", "retry-after", "x-sync-token"):
        assert header in exposed


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_non_json_bodies_are_415(
    client: httpx.AsyncClient, auth: Auth, content_type: str | None
) -> None:
    headers = auth("alice") | ({"Content-Type": content_type} if content_type else {})

    response = await client.post("/api/tasks", content=b'{"title": "x"}', headers=headers)

    assert response.status_code == 415
    assert response.json() == {"detail": "Content-Type must be application/json"}
    assert (await client.get("/api/tasks", headers=auth("alice"))).json() == []


WRITES_WITH_A_BODY = [
    ("PUT", "", b'{"title": "changed", "completed": true}'),
    ("PATCH", "", b'{"title": "changed"}'),
    ("PATCH", "/complete", b'{"completed": true}'),
]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.parametrize("write", WRITES_WITH_A_BODY, ids=lambda write: f"{write[0]} {write[1] or '/'}")
async def test_non_json_bodies_are_415_on_every_write_and_change_nothing(
    client: httpx.AsyncClient, auth: Auth, write: tuple[str, str, bytes], content_type: str | None
) -> None:
    # text/plain is what a page elsewhere can send cross-site without a preflight.
    method, suffix, body = write
    created = await client.post("/api/tasks", json={"title": "mine"}, headers=auth("alice"))
    task = created.json()
    headers = auth("alice") | ({"Content-Type": content_type} if content_type else {})

    response = await client.request(method, f"/api/tasks/{task['id']}{suffix}", content=body, headers=headers)

    assert response.status_code == 415
    assert response.json() == {"detail": "Content-Type must be application/json"}
    assert (await client.get(f"/api/tasks/{task['id']}", headers=auth("alice"))).json() == task


async def test_json_with_charset_or_suffix_is_accepted(client: httpx.AsyncClient, auth: Auth) -> None:
    for content_type in (
        "application/json; charset=utf-8",
        "application/json; charset=utf-8; profile=task",
        "application/merge-patch+json",
    ):
        response = await client.post(
            "/api/tasks", content=b'{"title": "x"}', headers=auth("alice") | {"Content-Type": content_type}
        )
        assert response.status_code == 201


async def test_oversized_headers_are_431(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get("/api/tasks", headers=auth("alice") | {"X-Padding": "p" * 64 * 1024})

    assert response.status_code == 431
    assert "detail" in response.json()


async def test_wrong_method_is_405_naming_the_allowed_ones(client: httpx.AsyncClient, auth: Auth) -> None:
    collection = await client.request("PATCH", "/api/tasks", headers=auth("alice"))
    item = await client.request("POST", "/api/alice/tasks/1", headers=auth("alice"))

    assert collection.status_code == 405
    assert "detail" in collection.json()
    assert collection.headers["allow"] == "GET, POST"
    assert item.headers["allow"] == "DELETE, GET, PATCH, PUT"


async def test_list_limit_is_capped(client: httpx.AsyncClient, auth: Auth) -> None:
    assert (await client.get("/api/tasks", params={"limit": 1001}, headers=auth("alice"))).status_code == 400


async def test_task_quota_per_user(database_url: str, auth: Auth) -> None:
    async with client_for(database_url, max_tasks_per_user=3) as client:
        created = [
            await client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth("alice")) for i in range(4)
        ]
        other_user = await client.post("/api/tasks", json={"title": "mine"}, headers=auth("bob"))
        await client.delete(f"/api/tasks/{created[0].json()['id']}", headers=auth("alice"))
        after_delete = await client.post("/api/tasks", json={"title": "again"}, headers=auth("alice"))
        total = (await client.get("/api/tasks", headers=auth("alice"))).headers["x-total-count"]

    assert [r.status_code for r in created] == [201, 201, 201, 409]
    assert created[3].json() == {"detail": "Task limit reached: a user may keep at most 3 tasks"}
    assert other_user.status_code == 201
    assert after_delete.status_code == 201
    assert total == "3"


async def test_task_quota_holds_under_concurrent_creates_on_either_database(
    database_url: str, auth: Auth
) -> None:
    # Each create is one autocommit statement that checks and inserts: on SQLite the write
    # lock, on PostgreSQL the user's quota row, keeps concurrent creates from all passing.
    async with client_for(database_url, max_tasks_per_user=5, rate_limit_enabled=False) as client:
        responses = await asyncio.gather(
            *(client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth("alice")) for i in range(40))
        )
        total = (await client.get("/api/tasks", headers=auth("alice"))).headers["x-total-count"]

    assert sorted(r.status_code for r in responses) == [201] * 5 + [409] * 35
    assert total == "5"


async def test_writes_are_rate_limited_per_user_with_retry_after(database_url: str, auth: Auth) -> None:
    async with client_for(database_url, rate_limit_writes="3/minute") as client:
        writes = [
            await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice")) for _ in range(4)
        ]
        read = await client.get("/api/tasks", headers=auth("alice"))
        other_user = await client.post("/api/tasks", json={"title": "x"}, headers=auth("bob"))

    assert [r.status_code for r in writes] == [201, 201, 201, 429]
    # A sliding window frees room only as this window's requests fade, up to two windows away.
    assert 1 <= int(writes[3].headers["retry-after"]) <= 120
    assert writes[3].json()["detail"].startswith("Too many requests")
    assert read.status_code == 200
    assert other_user.status_code == 201
    assert read.headers["x-total-count"] == "3"


async def test_reads_are_rate_limited_per_user(database_url: str, auth: Auth) -> None:
    async with client_for(database_url, rate_limit_reads="2/minute") as client:
        statuses = [
            (await client.get("/api/alice/tasks", headers=auth("alice"))).status_code for _ in range(3)
        ]

    assert statuses == [200, 200, 429]


async def test_someone_elses_path_is_403_before_the_rate_limit_is_charged(
    database_url: str, auth: Auth
) -> None:
    async with client_for(database_url, rate_limit_reads="1/minute") as client:
        refused = [(await client.get("/api/bob/tasks", headers=auth("alice"))).status_code for _ in range(3)]
        own = await client.get("/api/alice/tasks", headers=auth("alice"))

    assert refused == [403, 403, 403]
    assert own.status_code == 200


REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.mark.skipif(not REDIS_URL, reason="set TEST_REDIS_URL=redis://127.0.0.1:6379 to test shared limits")
async def test_limits_are_shared_across_instances_through_redis(database_url: str, auth: Auth) -> None:
    user = f"user-{uuid.uuid4().hex}"  # a fresh key, since the Redis store outlives the test
    settings = {"rate_limit_writes": "4/minute", "redis_url": REDIS_URL}
    async with client_for(database_url, **settings) as first, client_for(database_url, **settings) as second:
        statuses = []
        for client in (first, second, first, second, first, second):
            response = await client.post("/api/tasks", json={"title": "x"}, headers=auth(user))
            statuses.append(response.status_code)

    assert statuses == [201, 201, 201, 201, 429, 429]


async def test_unreachable_rate_limit_store_fails_open(
    database_url: str, auth: Auth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with client_for(
        database_url, rate_limit_writes="1/minute", redis_url="redis://127.0.0.1:1"
    ) as client:
        statuses = [
            (await client.post("/api/tasks", json={"title": "x"}, headers=auth("a"))).status_code
            for _ in range(2)
        ]

    assert statuses == [201, 201]
    warnings = [r for r in caplog.records if getattr(r, "event", None) == "rate_limit_unavailable"]
    assert len(warnings) == 2
    assert all(record.levelno == logging.WARNING for record in warnings)


async def test_rate_limits_can_be_disabled(database_url: str, auth: Auth) -> None:
    async with client_for(database_url, rate_limit_writes="1/minute", rate_limit_enabled=False) as client:
        statuses = [
            (await client.post("/api/tasks", json={"title": "x"}, headers=auth("a"))).status_code
            for _ in range(3)
        ]

    assert statuses == [201, 201, 201]


@pytest.mark.parametrize("name", ["Authorization", "Content-Length", "Content-Type", "Host"])
async def test_a_header_that_must_appear_once_appearing_twice_is_a_400(
    client: httpx.AsyncClient, make_token: Callable[..., str], name: str
) -> None:
    body = b'{"title": "one reading of one request"}'
    values = {
        "Authorization": [f"Bearer {make_token('alice')}", f"Bearer {make_token('mallory')}"],
        "Content-Length": [str(len(body)), str(len(body))],
        "Content-Type": ["application/json", "text/plain"],
        "Host": ["testserver", "elsewhere.example"],
    }
    single = {
        "Authorization": f"Bearer {make_token('alice')}",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Host": "testserver",
    }
    headers = [(key, value) for key, value in single.items() if key != name]
    headers += [(name, value) for value in values[name]]

    response = await client.post("/api/tasks", content=body, headers=headers)
    listed = await client.get("/api/tasks", headers={"Authorization": single["Authorization"]})

    assert response.status_code == 400
    assert response.json() == {"detail": f"More than one {name} header"}
    assert listed.json() == []


async def run_hardened(
    app: Any, scope: Scope, *, hsts: bool = False, body: list[bytes] | None = None
) -> list[Message]:
    """What HardeningMiddleware around `app` sends for `scope` (whose body arrives in `body`)."""
    chunks = list(body or [b""])
    sent: list[Message] = []

    async def receive() -> Message:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    await HardeningMiddleware(app, hsts=hsts)(scope, receive, send)
    return sent


def http_scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "GET") -> Scope:
    return {"type": "http", "method": method, "path": path, "headers": headers, "client": ("127.0.0.1", 1)}


def answering(headers: list[tuple[bytes, bytes]] | None, status: int = 200) -> Any:
    """An app that answers every request with `status` and these headers (none at all: None)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {"type": "http.response.start", "status": status}
        if headers is not None:
            start["headers"] = headers
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    return app


# A response that sets its own caching, framing and content policy, with names as it spells them.
OWN_HEADERS = [
    (b"Cache-Control", b"public, max-age=60"),
    (b"Content-Security-Policy", b"default-src 'self'"),
    (b"X-Frame-Options", b"SAMEORIGIN"),
]


@pytest.mark.parametrize("path", ["/api/tasks", "/api/auth/get-session", "/mcp"])
async def test_an_api_response_may_never_be_cached_but_keeps_its_own_policies(path: str) -> None:
    sent = await run_hardened(answering(OWN_HEADERS), http_scope(path, []))

    assert sent[0]["headers"] == [
        (b"Content-Security-Policy", b"default-src 'self'"),
        (b"X-Frame-Options", b"SAMEORIGIN"),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


@pytest.mark.parametrize("path", ["/docs", "/health", "/mcp/elsewhere", "/apiary"])
async def test_a_response_outside_the_api_keeps_its_own_caching_and_policies(path: str) -> None:
    sent = await run_hardened(answering(OWN_HEADERS), http_scope(path, []))

    assert sent[0]["headers"] == [
        *OWN_HEADERS,
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


@pytest.mark.parametrize(("path", "is_api"), [("/api/tasks", True), ("/health", False)])
async def test_a_response_without_headers_gets_every_default_and_hsts_in_production(
    path: str, is_api: bool
) -> None:
    sent = await run_hardened(answering(None, status=204), http_scope(path, []), hsts=True)

    assert sent[0]["status"] == 204
    assert sent[0]["headers"] == [
        *([(b"cache-control", b"no-store")] if is_api else []),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    ]


async def test_an_error_after_the_answer_began_is_logged_once_and_left_to_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Once the status line is out no other answer fits: the server must cut the connection.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("failed mid-answer")

    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError, match="failed mid-answer"):
        await run_hardened(app, http_scope("/api/tasks", []))

    events = [getattr(record, "event", None) for record in caplog.records if record.levelno >= logging.ERROR]
    assert events == ["unhandled_error"]


def headers_of_size(total: int) -> list[tuple[bytes, bytes]]:
    """Request headers whose names and values add up to exactly `total` bytes."""
    return [
        (b"host", b"testserver"),
        (b"x-padding", b"p" * (total - len(b"host" + b"testserver" + b"x-padding"))),
    ]


async def test_request_headers_up_to_the_limit_pass_and_one_byte_more_is_a_431() -> None:
    at_limit = await run_hardened(answering([]), http_scope("/api/tasks", headers_of_size(MAX_HEADER_BYTES)))
    over = await run_hardened(answering([]), http_scope("/api/tasks", headers_of_size(MAX_HEADER_BYTES + 1)))

    assert at_limit[0]["status"] == 200
    assert over[0]["status"] == 431
    assert over[1]["body"] == b'{"detail": "Request headers too large"}'


def json_body_of_size(size: int) -> bytes:
    """A JSON task body of exactly `size` bytes (its title far too long to be valid)."""
    frame = b'{"title": ""}'
    return b'{"title": "' + b"x" * (size - len(frame)) + b'"}'


async def test_a_declared_body_up_to_1_mib_is_read_and_one_byte_more_is_a_413(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    headers = auth("alice") | {"Content-Type": "application/json"}

    at_limit = await client.post("/api/tasks", content=json_body_of_size(MAX_BODY_BYTES), headers=headers)
    over = await client.post("/api/tasks", content=json_body_of_size(MAX_BODY_BYTES + 1), headers=headers)

    # Read and judged by the app: a title that long is invalid, not a body too large.
    assert at_limit.status_code == 422
    assert over.status_code == 413
    assert over.json() == {"detail": "Request body too large (limit 1 MiB)"}


def in_chunks(body: bytes, size: int) -> Callable[[], AsyncIterator[bytes]]:
    """The body as an async stream of `size`-byte chunks: sent without a Content-Length."""

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    return stream


async def test_a_chunked_body_is_counted_across_its_chunks_up_to_1_mib(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    half = MAX_BODY_BYTES // 2 + 1  # no chunk alone is over the limit
    headers = auth("alice") | {"Content-Type": "application/json"}

    at_limit = await client.post(
        "/api/tasks", content=in_chunks(json_body_of_size(MAX_BODY_BYTES), half)(), headers=headers
    )
    over = await client.post(
        "/api/tasks", content=in_chunks(json_body_of_size(MAX_BODY_BYTES + 1), half)(), headers=headers
    )

    assert at_limit.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in at_limit.request.headers
    assert at_limit.status_code == 422
    assert over.status_code == 413
    assert over.json() == {"detail": "Request body too large (limit 1 MiB)"}
    assert (await client.get("/api/tasks", headers=auth("alice"))).json() == []


async def test_a_chunked_body_that_is_not_json_is_a_415(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.post(
        "/api/tasks",
        content=in_chunks(b'{"title": "x"}', 4)(),
        headers=auth("alice") | {"Content-Type": "text/plain"},
    )

    assert response.status_code == 415
    assert response.json() == {"detail": "Content-Type must be application/json"}


async def test_a_write_with_an_empty_body_needs_no_content_type(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    task = (await client.post("/api/tasks", json={"title": "mine"}, headers=auth("alice"))).json()

    toggled = await client.patch(
        f"/api/tasks/{task['id']}/complete", headers=auth("alice") | {"Content-Length": "0"}
    )

    assert toggled.request.headers["content-length"] == "0"
    assert "content-type" not in toggled.request.headers
    assert toggled.status_code == 200
    assert toggled.json()["completed"] is True


async def test_only_api_writes_must_be_json(client: httpx.AsyncClient, auth: Auth) -> None:
    text = {"Content-Type": "text/plain"}

    # Outside the API a body is the route's business (here: no such method); a read's body is ignored.
    elsewhere = await client.post("/health", content=b"hello", headers=text)
    read = await client.request("GET", "/api/tasks", content=b"hello", headers=auth("alice") | text)

    assert elsewhere.status_code == 405
    assert read.status_code == 200
    assert read.json() == []


async def test_a_repeated_header_that_may_repeat_is_no_400(client: httpx.AsyncClient, auth: Auth) -> None:
    headers = [*auth("alice").items(), ("Accept", "application/json"), ("Accept", "*/*")]

    response = await client.get("/api/tasks", headers=headers)

    assert response.status_code == 200


def origin_header(origin: bytes) -> Headers:
    return Headers(raw=[(b"origin", origin)])


def test_an_origin_is_trusted_whatever_its_case_but_not_a_lookalike_that_upper_case_would_match(
    database_url: str,
) -> None:
    settings = make_settings(database_url, cors_origins=["https://class.example"])
    trusted = trusted_origins(settings, "http://testserver/")

    assert untrusted_origin(origin_header(b"HTTPS://Class.Example"), trusted) is None
    # "claß" upper-cases to "CLASS", but it is another host.
    assert (
        untrusted_origin(origin_header("https://claß.example".encode("latin-1")), trusted) == INVALID_ORIGIN
    )


def test_a_wildcard_cors_origin_trusts_no_origin_for_cookies(database_url: str) -> None:
    settings = make_settings(database_url, cors_origins=["*"])
    trusted = trusted_origins(settings, "http://testserver/")

    assert untrusted_origin(origin_header(b"http://testserver"), trusted) is None
    for origin in (b"*", b"//*", b"https://evil.example"):
        assert untrusted_origin(origin_header(origin), trusted) == INVALID_ORIGIN, origin
