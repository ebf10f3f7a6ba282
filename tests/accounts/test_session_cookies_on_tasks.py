"""Better Auth's signed session cookie on the task routes: it names its user like a bearer
does, and a write it authenticates must come from a trusted origin (cross-site forgery)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from tests.accounts.conftest import cookie_pairs, sign_up
from tests.conftest import SECRET, serving_app
from todo_api.accounts.cookies import sign
from todo_api.models import session_table
from todo_api.state import AppState
from todo_api.tokens import create_token

TRUSTED = {"Origin": "http://testserver"}


def session_cookie(signed_up: httpx.Response) -> dict[str, str]:
    return {"Cookie": cookie_pairs(signed_up)}


async def test_a_session_cookie_names_its_user_on_the_task_routes(auth_client: httpx.AsyncClient) -> None:
    signed_up = await sign_up(auth_client)
    user_id = signed_up.json()["user"]["id"]

    created = await auth_client.post(
        "/api/tasks", json={"title": "by cookie"}, headers=session_cookie(signed_up) | TRUSTED
    )
    listed = await auth_client.get("/api/tasks", headers=session_cookie(signed_up))
    own_path = await auth_client.get(f"/api/{user_id}/tasks", headers=session_cookie(signed_up))

    assert created.status_code == 201
    assert created.json()["user_id"] == user_id
    assert [task["id"] for task in listed.json()] == [created.json()["id"]]
    assert own_path.status_code == 200


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "A write authenticated by a session cookie must send its Origin"),
        ({"Origin": "null"}, "A write authenticated by a session cookie must send its Origin"),
        (
            {"Origin": "https://evil.example"},
            "A write authenticated by a session cookie must come from a trusted origin",
        ),
        (
            {"Referer": "https://evil.example/page"},
            "A write authenticated by a session cookie must come from a trusted origin",
        ),
        (
            {"Origin": "http://testserver.evil.example"},
            "A write authenticated by a session cookie must come from a trusted origin",
        ),
        ({"Origin": "http://["}, "A write authenticated by a session cookie must come from a trusted origin"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_a_cookie_write_from_an_untrusted_origin_is_a_403(
    auth_client: httpx.AsyncClient, headers: dict[str, str], detail: str, method: str
) -> None:
    signed_up = await sign_up(auth_client)
    created = await auth_client.post(
        "/api/tasks", json={"title": "mine"}, headers=session_cookie(signed_up) | TRUSTED
    )
    path = "/api/tasks" if method == "POST" else f"/api/tasks/{created.json()['id']}"

    response = await auth_client.request(
        method, path, json={"title": "forged", "completed": True}, headers=session_cookie(signed_up) | headers
    )
    listed = await auth_client.get("/api/tasks", headers=session_cookie(signed_up))

    assert response.status_code == 403
    assert response.json() == {"detail": detail}
    assert [task["title"] for task in listed.json()] == ["mine"]


async def test_a_cookie_write_from_a_trusted_referer_or_cors_origin_is_accepted(database_url: str) -> None:
    async with serving_app(database_url, builtin_auth=True, cors_origins=["https://app.example"]) as (
        _,
        client,
    ):
        signed_up = await sign_up(client)
        client.cookies.clear()
        for headers in ({"Referer": "http://testserver/tasks"}, {"Origin": "https://app.example"}):
            created = await client.post(
                "/api/tasks", json={"title": "ok"}, headers=session_cookie(signed_up) | headers
            )
            assert created.status_code == 201


async def test_a_bearer_write_is_no_cross_site_request(auth_client: httpx.AsyncClient) -> None:
    # A page on another site cannot make a browser send an Authorization header.
    signed_up = await sign_up(auth_client)
    bearer = {"Authorization": f"Bearer {signed_up.json()['token']}", "Origin": "https://evil.example"}

    created = await auth_client.post(
        "/api/tasks", json={"title": "by bearer"}, headers=bearer | session_cookie(signed_up)
    )

    assert created.status_code == 201


async def test_the_authorization_header_wins_over_the_cookie(auth_client: httpx.AsyncClient) -> None:
    alice = await sign_up(auth_client)
    bob = await sign_up(auth_client, email="bob@example.com")
    as_bob = {"Authorization": f"Bearer {create_token(bob.json()['user']['id'], SECRET)}"}

    bob_with_alices_cookie = await auth_client.post(
        "/api/tasks", json={"title": "t"}, headers=as_bob | session_cookie(alice)
    )
    forged_bearer = await auth_client.get(
        "/api/tasks", headers={"Authorization": "Bearer forged"} | session_cookie(alice)
    )

    assert bob_with_alices_cookie.json()["user_id"] == bob.json()["user"]["id"]
    assert forged_bearer.status_code == 401


@pytest.mark.parametrize(
    "cookie",
    [
        "better-auth.session_token={token}",  # the raw token: a cookie must carry our signature
        "better-auth.session_token={token}.bm90LW91ci1zaWduYXR1cmUtbm90LW91ci1zaWduYXR1cmU=",
        "better-auth.session_token={forged}",
        # A signature of the right length and ending, but not ASCII (no base64 is).
        "better-auth.session_token={token}." + quote("é" * 43 + "="),
    ],
)
async def test_an_unsigned_or_forged_session_cookie_is_a_401(
    auth_client: httpx.AsyncClient, cookie: str
) -> None:
    token = (await sign_up(auth_client)).json()["token"]
    forged = sign(token, "another-secret-" + "x" * 32)

    response = await auth_client.get(
        "/api/tasks", headers={"Cookie": cookie.format(token=token, forged=forged)}
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid session cookie: no live session"}


async def test_a_session_cookie_stops_working_at_sign_out(auth_client: httpx.AsyncClient) -> None:
    signed_up = await sign_up(auth_client)
    before = await auth_client.get("/api/tasks", headers=session_cookie(signed_up))

    await auth_client.post("/api/auth/sign-out", headers=session_cookie(signed_up) | TRUSTED)
    after = await auth_client.get("/api/tasks", headers=session_cookie(signed_up))

    assert before.status_code == 200
    assert after.status_code == 401


async def test_an_expired_session_is_refused_as_cookie_and_bearer(database_url: str) -> None:
    async with serving_app(database_url, builtin_auth=True) as (app, client):
        signed_up = await sign_up(client)
        client.cookies.clear()
        state: AppState = app.state.todo_api
        async with state.database.autocommit() as connection:
            await connection.fetch(
                sa.update(session_table).values(expiresAt=datetime.now(UTC) - timedelta(seconds=1))
            )
        cookie = await client.get("/api/tasks", headers=session_cookie(signed_up))
        bearer = await client.get(
            "/api/tasks", headers={"Authorization": f"Bearer {signed_up.json()['token']}"}
        )

    assert (cookie.status_code, bearer.status_code) == (401, 401)


async def test_an_https_base_url_reads_only_the_secure_prefixed_cookie(database_url: str) -> None:
    async with serving_app(database_url, builtin_auth=True, better_auth_url="https://api.example") as (
        _,
        client,
    ):
        signed_up = await sign_up(client, headers={})
        client.cookies.clear()
        pairs = cookie_pairs(signed_up)
        plain = pairs.replace("__Secure-", "")
        secure = await client.get("/api/tasks", headers={"Cookie": pairs})
        unprefixed = await client.get("/api/tasks", headers={"Cookie": plain})

    assert pairs.startswith("__Secure-better-auth.session_token=")
    assert secure.status_code == 200
    assert unprefixed.status_code == 401
    assert unprefixed.json() == {"detail": "Not authenticated"}


async def test_a_refused_cookie_is_logged_without_its_value(
    auth_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    signed_up = await sign_up(auth_client)
    await auth_client.post("/api/auth/sign-out", headers=session_cookie(signed_up) | TRUSTED)
    caplog.clear()

    refused = await auth_client.get("/api/tasks", headers=session_cookie(signed_up))
    forged = await auth_client.post("/api/tasks", json={"title": "x"}, headers=session_cookie(signed_up))

    assert (refused.status_code, forged.status_code) == (401, 403)
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert "no live session" in logged
    assert "csrf_refused" in logged
    assert signed_up.json()["token"] not in logged


def cookie_for_no_session() -> dict[str, str]:
    """A session cookie with our signature whose session does not exist (the signature is all
    that can be checked without looking the session up)."""
    signed = quote(sign(secrets.token_urlsafe(24), SECRET), safe="")
    return {"Cookie": f"better-auth.session_token={signed}"}


UNTRUSTED = {"Origin": "https://evil.example"}
UNTRUSTED_DETAIL = {"detail": "A write authenticated by a session cookie must come from a trusted origin"}


async def test_the_origin_is_checked_before_the_session_is_looked_up() -> None:
    # On a database that cannot be reached, looking a session up is a 503; the origin check
    # needs no database, so a forged write is refused with a 403 before any lookup.
    unreachable = "postgresql://todo@127.0.0.1:1/todo"
    async with serving_app(unreachable, builtin_auth=True) as (_, client):
        read = await client.get("/api/tasks", headers=cookie_for_no_session())
        forged = await client.post(
            "/api/tasks", json={"title": "forged"}, headers=cookie_for_no_session() | UNTRUSTED
        )

    assert read.status_code == 503
    assert (forged.status_code, forged.json()) == (403, UNTRUSTED_DETAIL)


async def test_a_refused_cross_site_write_is_no_failed_authentication(database_url: str) -> None:
    # The write is refused for its origin, whatever its cookie: it never reaches the session
    # lookup, so it neither says whether the session exists nor counts against the address.
    budget = {"rate_limit_enabled": True, "rate_limit_auth_failures": "2/minute"}
    async with serving_app(database_url, builtin_auth=True, **budget) as (_, client):
        forged = [
            await client.post(
                "/api/tasks", json={"title": "forged"}, headers=cookie_for_no_session() | UNTRUSTED
            )
            for _ in range(3)
        ]
        read = await client.get("/api/tasks", headers=cookie_for_no_session())

    assert [(response.status_code, response.json()) for response in forged] == [(403, UNTRUSTED_DETAIL)] * 3
    assert read.status_code == 401
    assert read.json() == {"detail": "Invalid session cookie: no live session"}
