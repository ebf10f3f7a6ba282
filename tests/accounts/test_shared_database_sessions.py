"""Shared-database mode (BUILTIN_AUTH off, a Node Better Auth on the same database): its
sessions are accepted on the task routes, as bearer and as cookie, while they live in the
`session` table. Here the sessions are made by the built-in sign-in, which writes the same
rows; tests/interop/test_shared_database.py does it with the real Node Better Auth."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from tests.accounts.conftest import cookie_pairs, sign_up
from tests.conftest import serving, serving_app
from todo_api.models import session_table
from todo_api.state import AppState

SHARED = {"builtin_auth": False, "better_auth_shared_database": True}
APP_ORIGIN = "https://app.example"


async def signed_up_elsewhere(database_url: str) -> httpx.Response:
    """A sign-up on another server writing the same tables (the role Node Better Auth plays)."""
    async with serving(database_url, builtin_auth=True) as client:
        return await sign_up(client)


async def test_a_shared_database_session_is_accepted_as_bearer_and_cookie(database_url: str) -> None:
    signed_up = await signed_up_elsewhere(database_url)
    token, signed = signed_up.json()["token"], signed_up.headers["set-auth-token"]

    async with serving(database_url, **SHARED) as client:
        answers = [
            await client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"}),
            await client.get("/api/tasks", headers={"Authorization": f"Bearer {signed}"}),
            await client.get("/api/tasks", headers={"Cookie": cookie_pairs(signed_up)}),
        ]
        created = await client.post(
            "/api/tasks",
            json={"title": "shared"},
            headers={"Cookie": cookie_pairs(signed_up), "Origin": "http://testserver"},
        )
        sign_in_served = await client.post("/api/auth/sign-in/email", json={})

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert created.json()["user_id"] == signed_up.json()["user"]["id"]
    assert sign_in_served.status_code == 404


async def test_a_shared_database_session_ends_when_its_row_goes(database_url: str) -> None:
    signed_up = await signed_up_elsewhere(database_url)

    async with serving_app(database_url, **SHARED) as (app, client):
        before = await client.get("/api/tasks", headers={"Cookie": cookie_pairs(signed_up)})
        state: AppState = app.state.todo_api
        async with state.database.autocommit() as connection:
            await connection.fetch(sa.delete(session_table))
        after = await client.get("/api/tasks", headers={"Cookie": cookie_pairs(signed_up)})

    assert (before.status_code, after.status_code) == (200, 401)


async def test_without_a_shared_database_a_session_cookie_is_not_read(database_url: str) -> None:
    signed_up = await signed_up_elsewhere(database_url)

    async with serving(database_url, builtin_auth=False) as client:
        response = await client.get("/api/tasks", headers={"Cookie": cookie_pairs(signed_up)})

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


@pytest.mark.parametrize(
    ("modes", "credentials"),
    [(SHARED, "true"), ({"builtin_auth": True}, "true"), ({"builtin_auth": False}, None)],
)
async def test_cors_allows_credentials_exactly_when_session_cookies_are_accepted(
    database_url: str, modes: dict[str, bool], credentials: str | None
) -> None:
    preflight = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"}
    async with serving(database_url, cors_origins=[APP_ORIGIN], **modes) as client:
        allowed = await client.options("/api/tasks", headers=preflight)
        other = await client.options("/api/tasks", headers=preflight | {"Origin": "https://evil.example"})

    assert allowed.headers.get("access-control-allow-credentials") == credentials
    assert allowed.headers.get("access-control-allow-origin") == APP_ORIGIN
    assert "access-control-allow-origin" not in other.headers
