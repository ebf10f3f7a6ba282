"""Authentication as clients see it: only `Authorization: Bearer`, one 401 shape, logged."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from fastapi import Request
from fastapi.security import HTTPBearer

from tests.conftest import PRODUCTION_SECRET, SECRET, TokenFactory, serving, serving_app
from tests.keys import new_key
from todo_api.accounts.cookies import sign
from todo_api.auth import bearer_token


def assert_401(response: httpx.Response, *, token_sent: bool) -> None:
    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)
    expected = 'Bearer error="invalid_token"' if token_sent else "Bearer"
    assert response.headers["www-authenticate"] == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", "/api/alice/tasks"),
        ("GET", "/api/tasks/1"),
        ("PUT", "/api/tasks/1"),
        ("DELETE", "/api/alice/tasks/1"),
        ("PATCH", "/api/alice/tasks/1/complete"),
    ],
)
async def test_no_token_is_401(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)

    assert_401(response, token_sent=False)
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.parametrize(
    "header",
    ["Basic YWxpY2U6cGFzc3dvcmQ=", "Bearer", "Bearer ", "Token abc", "bearer", "JWT abc"],
)
async def test_anything_but_a_bearer_token_is_401(
    client: httpx.AsyncClient, header: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await client.get("/api/tasks", headers={"Authorization": header})

    assert_401(response, token_sent=False)
    assert response.json() == {"detail": "Authorization must be 'Bearer <token>'"}
    [failure] = [r for r in caplog.records if getattr(r, "event", None) == "authentication_failed"]
    assert failure.reason == "Authorization must be 'Bearer <token>'"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "bearer abc",
        "BEARER  a.b.c ",
        "Bearer",
        "Bearer ",
        "Bearer \t",
        "Basic abc",
        "Bearerabc",
        " Bearer abc",
        "Bearer a b",
        "Token abc",
        "Bearer\tabc",
    ],
)
async def test_the_bearer_token_is_read_as_fastapis_http_bearer_reads_it(header: str | None) -> None:
    headers = [] if header is None else [(b"authorization", header.encode())]
    request = Request({"type": "http", "headers": headers})
    credentials = await HTTPBearer(auto_error=False)(request)

    assert bearer_token(header) == (credentials.credentials if credentials is not None else None)


async def test_lowercase_bearer_scheme_is_accepted(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    response = await client.get("/api/tasks", headers={"Authorization": f"bearer {make_token('alice')}"})

    assert response.status_code == 200


async def test_token_in_query_string_or_cookie_is_ignored(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    token = make_token("alice")

    in_query = await client.get("/api/tasks", params={"token": token, "access_token": token})
    client.cookies.set("token", token)
    client.cookies.set("better-auth.session_token", token)
    in_cookie = await client.get("/api/tasks")

    assert_401(in_query, token_sent=False)
    assert_401(in_cookie, token_sent=False)


@pytest.mark.parametrize(
    ("mint", "reason"),
    [
        (lambda make: make("alice", ttl_seconds=-120), "Invalid token: token expired"),
        (lambda make: make("alice", secret="wrong-secret-" + "x" * 40), "Invalid token: invalid signature"),
        (lambda make: "not.a.jwt", "Invalid token: malformed token"),
        (lambda make: make(""), "Invalid token: empty subject"),
        (lambda make: make(123), "Invalid token: subject must be a string"),
        (
            lambda make: jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256"),
            "Invalid token: missing claim 'exp'",
        ),
    ],
)
async def test_invalid_tokens_are_401_with_a_reason(
    client: httpx.AsyncClient, make_token: TokenFactory, mint: Callable[[TokenFactory], str], reason: str
) -> None:
    response = await client.get("/api/tasks", headers={"Authorization": f"Bearer {mint(make_token)}"})

    assert_401(response, token_sent=True)
    assert response.json() == {"detail": reason}


async def test_failures_are_logged_without_the_token(
    client: httpx.AsyncClient, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    token = make_token("alice", ttl_seconds=-120)
    caplog.set_level(logging.INFO)

    await client.get("/api/tasks/7", headers={"Authorization": f"Bearer {token}"})

    failures = [r for r in caplog.records if getattr(r, "event", None) == "authentication_failed"]
    assert len(failures) == 1
    assert failures[0].reason == "Invalid token: token expired"  # type: ignore[attr-defined]
    assert failures[0].path == "/api/tasks/7"  # type: ignore[attr-defined]
    assert failures[0].client == "127.0.0.1"  # type: ignore[attr-defined]
    everything = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert token not in everything
    assert token.split(".")[2] not in everything
    assert SECRET not in everything


def unknown_session_token() -> str:
    """A Better Auth session token (no dots) that names no session."""
    return secrets.token_urlsafe(24)


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param(unknown_session_token, id="raw"),
        pytest.param(lambda: sign(unknown_session_token(), SECRET), id="signed"),
    ],
)
async def test_a_session_token_naming_no_live_session_is_a_401_that_says_only_invalid_token(
    database_url: str, caplog: pytest.LogCaptureFixture, presented: Callable[[], str]
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(database_url, builtin_auth=True) as client:
        response = await client.get("/api/tasks/7", headers={"Authorization": f"Bearer {presented()}"})

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token"}
    assert response.headers.get_list("www-authenticate") == ['Bearer error="invalid_token"']
    failures = [
        (record.getMessage(), record.levelno, vars(record).get("reason"), vars(record).get("path"))
        for record in caplog.records
        if getattr(record, "event", None) == "authentication_failed"
    ]
    assert failures == [
        ("authentication failed", logging.WARNING, "Invalid token: no live session", "/api/tasks/7")
    ]


LOGGED_FIELDS = ("event", "reason", "client", "path")


@pytest.mark.parametrize(
    ("origin", "reason"),
    [({}, "MISSING_OR_NULL_ORIGIN"), ({"Origin": "https://evil.example"}, "INVALID_ORIGIN")],
)
async def test_a_cookie_write_refused_for_its_origin_is_logged_with_the_reason(
    database_url: str, caplog: pytest.LogCaptureFixture, origin: dict[str, str], reason: str
) -> None:
    caplog.set_level(logging.INFO)
    # Signed with our secret, so only the origin can refuse it (its session is never looked up).
    cookie = {"Cookie": "better-auth.session_token=" + quote(sign(unknown_session_token(), SECRET), safe="")}
    async with serving(database_url, builtin_auth=True) as client:
        response = await client.post("/api/tasks", json={"title": "forged"}, headers=cookie | origin)

    assert response.status_code == 403
    refusals = [
        (record.getMessage(), record.levelno, *(vars(record).get(field) for field in LOGGED_FIELDS))
        for record in caplog.records
        if record.name == "todo_api.auth"
    ]
    assert refusals == [
        ("cross-site request refused", logging.WARNING, "csrf_refused", reason, "127.0.0.1", "/api/tasks")
    ]


async def test_path_user_mismatch_is_logged(
    client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    response = await client.get("/api/alice/tasks", headers=auth("bob"))

    assert response.status_code == 403
    [failure] = [r for r in caplog.records if getattr(r, "event", None) == "authorization_failed"]
    assert failure.levelno == logging.WARNING
    assert failure.reason == "user_id mismatch"  # type: ignore[attr-defined]
    # The caller, as the token proves it; the id in the path is only what they asked for.
    assert failure.user_id == "bob"  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if getattr(r, "event", None) == "authentication_failed"]


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).status_code == 200


async def test_eddsa_token_from_the_jwks_works_end_to_end(jwks_client: Any) -> None:
    client, key, _ = jwks_client
    token = key.sign("ba-user", iss="http://localhost:3000", aud="http://localhost:3000")
    headers = {"Authorization": f"Bearer {token}"}

    created = await client.post("/api/tasks", json={"title": "via JWKS"}, headers=headers)
    listed = await client.get("/api/ba-user/tasks", headers=headers)

    assert created.status_code == 201
    assert created.json()["user_id"] == "ba-user"
    assert [task["title"] for task in listed.json()] == ["via JWKS"]


async def test_jwks_only_app_refuses_hs256(jwks_client: Any, make_token: TokenFactory) -> None:
    client, _, _ = jwks_client
    token = make_token("alice", iss="http://localhost:3000", aud="http://localhost:3000")

    response = await client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})

    assert_401(response, token_sent=True)


async def test_unreachable_jwks_is_503_with_json_never_500(
    jwks_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, _, server = jwks_client
    server.status = 503
    stranger = new_key("EdDSA", kid="never-seen")
    token = stranger.sign("alice", iss="http://localhost:3000", aud="http://localhost:3000")
    caplog.set_level(logging.INFO)

    response = await client.get("/api/tasks/7", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.json() == {"detail": "Cannot verify the token right now, retry shortly"}
    logged = [
        (
            record.getMessage(),
            record.levelno,
            *(vars(record).get(field) for field in ("event", "client", "path")),
        )
        for record in caplog.records
        if record.name == "todo_api.auth"
    ]
    assert logged == [
        ("signing keys unavailable", logging.WARNING, "jwks_unavailable", "127.0.0.1", "/api/tasks/7")
    ]


@pytest.mark.parametrize("environment", ["production", "development"])
async def test_in_production_a_401_does_not_say_which_check_failed(
    database_url: str, make_token: TokenFactory, caplog: pytest.LogCaptureFixture, environment: str
) -> None:
    caplog.set_level(logging.WARNING)
    tokens = {
        "token expired": make_token("alice", ttl_seconds=-300, secret=PRODUCTION_SECRET),
        "invalid signature": make_token("alice", secret="another-secret-" + "x" * 40),
        "malformed token": "not.a.token",
    }
    async with serving(database_url, environment=environment, better_auth_secret=PRODUCTION_SECRET) as client:
        answers = {
            reason: (await client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})).json()
            for reason, token in tokens.items()
        }

    logged = [getattr(record, "reason", None) for record in caplog.records]
    for reason in tokens:
        shown = "Invalid token" if environment == "production" else f"Invalid token: {reason}"
        assert answers[reason] == {"detail": shown}
        assert f"Invalid token: {reason}" in logged


REDIS_URL = os.environ.get("TEST_REDIS_URL")
STORES = [
    pytest.param(None, id="in-process"),
    pytest.param(REDIS_URL, id="redis", marks=pytest.mark.skipif(not REDIS_URL, reason="set TEST_REDIS_URL")),
]


def fresh_address() -> str:
    # A documentation address of its own, since a Redis store outlives the test.
    return str(ipaddress.IPv6Address("2001:db8::") + uuid.uuid4().int % 2**64)


@pytest.mark.parametrize("redis_url", STORES)
async def test_failed_authentication_is_throttled_per_client_address(
    database_url: str, make_token: TokenFactory, redis_url: str | None
) -> None:
    budget = {"rate_limit_enabled": True, "rate_limit_auth_failures": "5/minute", "redis_url": redis_url}
    async with serving_app(database_url, **budget) as (app, _):

        def client_at(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://testserver")

        async with client_at(fresh_address()) as attacker, client_at(fresh_address()) as other:
            bad = {"Authorization": "Bearer " + make_token("alice", secret="not-the-secret-" + "x" * 32)}
            burst = [await attacker.get("/api/tasks", headers=bad) for _ in range(8)]
            # Another address's failure counts against its own budget, not the attacker's.
            failure_from_another_address = await other.get("/api/tasks", headers=bad)
            good = {"Authorization": f"Bearer {make_token('bob')}"}
            from_another_address = await other.get("/api/tasks", headers=good)
            from_the_same_address = await attacker.get("/api/tasks", headers=good)

    assert [response.status_code for response in burst] == [401] * 5 + [429] * 3
    # A sliding window's count fades over the next window too, so the wait is at most two.
    assert all(1 <= int(response.headers["retry-after"]) <= 120 for response in burst[5:])
    assert failure_from_another_address.status_code == 401
    assert from_another_address.status_code == 200
    # The token is still checked: a valid one is never refused for its address's failures.
    assert from_the_same_address.status_code == 200


async def test_an_events_stream_opened_with_neither_header_nor_ticket_is_401(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/events")

    assert_401(response, token_sent=False)
    assert response.json() == {"detail": "Not authenticated"}


async def test_a_request_with_an_authorization_header_is_proven_by_it_not_by_a_ticket(
    client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    # Alice's token on Bob's stream: refused for the path (403), the ticket never looked at.
    response = await client.get("/api/bob/events", params={"ticket": "no-such-ticket"}, headers=auth("alice"))

    assert response.status_code == 403
    assert not [r for r in caplog.records if getattr(r, "event", None) == "authentication_failed"]
