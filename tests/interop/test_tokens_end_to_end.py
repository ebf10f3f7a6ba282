"""Real Better Auth tokens against the real service: both ways a Next.js app can get one.

`jwt-plugin`: the service knows only BETTER_AUTH_URL and reads Better Auth's JWKS.
`hs256-bridge`: the service knows only BETTER_AUTH_SECRET; the token comes from a route
signing with `jose`, as docs/frontend.md tells frontend teams to write it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import jwt
import pytest

from tests.interop.conftest import BetterAuthUser
from tests.interop.issuer_driver import BetterAuthIssuer
from tests.interop.service_driver import TodoService

pytestmark = pytest.mark.interop


@dataclass(frozen=True)
class TokenFlow:
    """A service set up for one kind of token, and how a signed-in user gets that token."""

    service: TodoService
    token_for: Callable[[httpx.Client], str]
    other_kind_for: Callable[[httpx.Client], str]


@pytest.fixture(scope="module", params=["jwt-plugin", "hs256-bridge"])
def flow(request: pytest.FixtureRequest, issuer: BetterAuthIssuer) -> TokenFlow:
    if request.param == "jwt-plugin":
        return TokenFlow(request.getfixturevalue("jwks_service"), issuer.jwt, issuer.hs256_token)
    return TokenFlow(request.getfixturevalue("hs256_service"), issuer.hs256_token, issuer.jwt)


def test_tokens_name_the_better_auth_user(
    flow: TokenFlow, issuer: BetterAuthIssuer, alice: BetterAuthUser
) -> None:
    claims = jwt.decode(flow.token_for(alice.session), options={"verify_signature": False})

    assert claims["sub"] == alice.id
    assert claims["iss"] == claims["aud"] == issuer.base_url


def test_each_user_can_create_read_update_complete_and_delete_tasks(
    flow: TokenFlow, alice: BetterAuthUser, bob: BetterAuthUser
) -> None:
    for user in (alice, bob):
        with flow.service.client(flow.token_for(user.session)) as api:
            created = api.post("/api/tasks", json={"title": f"{user.email}'s task", "description": "d"})
            assert created.status_code == 201, created.text
            task = created.json()
            assert task["user_id"] == user.id
            assert task["completed"] is False

            fetched = api.get(created.headers["Location"])
            listed = api.get("/api/tasks")
            listed_by_path = api.get(f"/api/{user.id}/tasks")
            updated = api.put(f"/api/tasks/{task['id']}", json={"title": "renamed"})
            patched = api.patch(f"/api/{user.id}/tasks/{task['id']}", json={"description": None})
            completed = api.patch(f"/api/tasks/{task['id']}/complete")
            deleted = api.delete(f"/api/tasks/{task['id']}")
            gone = api.get(f"/api/tasks/{task['id']}")
            empty = api.get("/api/tasks")

        assert fetched.json() == task
        assert listed.json() == listed_by_path.json() == [task]
        assert listed.headers["X-Total-Count"] == "1"
        assert updated.json()["title"] == "renamed"
        assert patched.json()["description"] is None
        assert (completed.json()["completed"], completed.json()["status"]) == (True, "completed")
        assert deleted.status_code == 204
        assert gone.status_code == 404
        assert empty.json() == []


def test_each_user_sees_only_their_own_tasks(
    flow: TokenFlow, alice: BetterAuthUser, bob: BetterAuthUser
) -> None:
    with (
        flow.service.client(flow.token_for(alice.session)) as as_alice,
        flow.service.client(flow.token_for(bob.session)) as as_bob,
    ):
        alices = as_alice.post("/api/tasks", json={"title": "alice's"}).json()
        bobs = as_bob.post("/api/tasks", json={"title": "bob's"}).json()

        alice_list = as_alice.get("/api/tasks").json()
        bob_list = as_bob.get("/api/tasks").json()
        bob_reads_alices = as_bob.get(f"/api/tasks/{alices['id']}")
        bob_deletes_alices = as_bob.delete(f"/api/tasks/{alices['id']}")
        bob_lists_alices_path = as_bob.get(f"/api/{alice.id}/tasks")
        alices_after = as_alice.get(f"/api/tasks/{alices['id']}")

    assert alice_list == [alices]
    assert bob_list == [bobs]
    assert (bob_reads_alices.status_code, bob_reads_alices.json()) == (404, {"detail": "Task not found"})
    assert bob_deletes_alices.status_code == 404
    assert bob_lists_alices_path.status_code == 403
    assert alices_after.json() == alices


def test_better_auth_session_token_is_refused_with_401(
    flow: TokenFlow, issuer: BetterAuthIssuer, alice: BetterAuthUser
) -> None:
    session_token = issuer.session_token(alice.session)

    with flow.service.client(session_token) as api:
        response = api.get("/api/tasks")

    assert session_token.count(".") != 2  # an opaque id, not a JWT
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token: malformed token"}
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_token_of_the_kind_the_service_is_not_set_up_for_is_refused(
    flow: TokenFlow, alice: BetterAuthUser
) -> None:
    with flow.service.client(flow.other_kind_for(alice.session)) as api:
        response = api.get("/api/tasks")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token: algorithm not allowed"}


def test_hs256_token_signed_with_another_secret_is_refused(
    hs256_service: TodoService, issuer: BetterAuthIssuer, alice: BetterAuthUser
) -> None:
    genuine = jwt.decode(issuer.hs256_token(alice.session), options={"verify_signature": False})
    forged = jwt.encode(genuine, "another-secret-of-at-least-32-characters", algorithm="HS256")

    with hs256_service.client(forged) as api:
        response = api.get("/api/tasks")

    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token: invalid signature"})


def test_trailing_slash_is_not_found_rather_than_redirected(flow: TokenFlow, alice: BetterAuthUser) -> None:
    with flow.service.client(flow.token_for(alice.session)) as api:
        response = api.post("/api/tasks/", json={"title": "lost"})
        listed = api.get("/api/tasks")

    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    assert listed.json() == []


def test_json_body_sent_as_text_is_refused_with_415(flow: TokenFlow, alice: BetterAuthUser) -> None:
    with flow.service.client(flow.token_for(alice.session)) as api:
        # What fetch(url, {method: "POST", body: JSON.stringify(task)}) sends: text/plain.
        response = api.post(
            "/api/tasks",
            content=b'{"title": "typed"}',
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )
        listed = api.get("/api/tasks")

    assert response.status_code == 415
    assert response.json() == {"detail": "Content-Type must be application/json"}
    assert listed.json() == []
