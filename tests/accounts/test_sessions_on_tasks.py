"""The built-in sign-in's session tokens on the task routes: a bearer like a JWT, for as long as
the session lives."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.accounts.conftest import sign_up
from tests.conftest import SECRET, serving
from todo_api.tokens import create_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_session_token_names_its_user_on_the_task_routes(auth_client: httpx.AsyncClient) -> None:
    signed_up = await sign_up(auth_client)
    user_id, token = signed_up.json()["user"]["id"], signed_up.json()["token"]
    signed = signed_up.headers["set-auth-token"]

    created = await auth_client.post("/api/tasks", json={"title": "by session"}, headers=bearer(token))
    for presented in (token, signed, quote(signed, safe="")):
        listed = await auth_client.get("/api/tasks", headers=bearer(presented))
        assert [task["id"] for task in listed.json()] == [created.json()["id"]]
    own_path = await auth_client.get(f"/api/{user_id}/tasks", headers=bearer(signed))
    other_path = await auth_client.get("/api/someone-else/tasks", headers=bearer(token))

    assert created.status_code == 201
    assert created.json()["user_id"] == user_id
    assert own_path.status_code == 200
    assert other_path.status_code == 403


async def test_a_session_token_stops_working_at_sign_out(auth_client: httpx.AsyncClient) -> None:
    token = (await sign_up(auth_client)).json()["token"]
    before = await auth_client.get("/api/tasks", headers=bearer(token))

    signed_out = await auth_client.post("/api/auth/sign-out", headers=bearer(token))
    after = await auth_client.get("/api/tasks", headers=bearer(token))

    assert before.status_code == 200
    assert signed_out.status_code == 200
    assert after.status_code == 401
    assert after.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("presented", ["a" * 32, "a" * 32 + ".bm90LW91ci1zaWduYXR1cmU=", "no-such-session"])
async def test_an_unknown_or_forged_session_token_is_a_401(
    auth_client: httpx.AsyncClient, presented: str
) -> None:
    await sign_up(auth_client)

    response = await auth_client.get("/api/tasks", headers=bearer(presented))

    assert response.status_code == 401


async def test_jwts_still_work_beside_session_tokens(auth_client: httpx.AsyncClient) -> None:
    response = await auth_client.get("/api/tasks", headers=bearer(create_token("alice", SECRET)))

    assert response.status_code == 200


async def test_without_the_builtin_sign_in_a_session_token_is_no_bearer(
    auth_client: httpx.AsyncClient, database_url: str
) -> None:
    token = (await sign_up(auth_client)).json()["token"]
    async with serving(database_url, builtin_auth=False) as client:
        response = await client.get("/api/tasks", headers=bearer(token))

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token: malformed token"}
