"""A Node Better Auth (jwt() plugin) and the service's built-in sign-in on one PostgreSQL
database share the signing key: each one's tokens are accepted by the other, whichever made
the key, and the service's tokens verify with jose against the Node server's JWKS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.interop.conftest import PASSWORD, SECRET, Databases, ServiceFactory, sign_up
from tests.interop.issuer_driver import BetterAuthIssuer, free_port, run_node_script
from tests.interop.service_driver import TodoService

pytestmark = pytest.mark.interop


@pytest.fixture
def shared_url(databases: Databases) -> Iterator[str]:
    # Requested before start_service, so the services stop before it is dropped.
    with databases.fresh() as url:
        yield url


def builtin_settings(base_url: str, **extra: str) -> dict[str, str]:
    # The same secret and URL as the Node server: one app, two implementations.
    return {"BUILTIN_AUTH": "true", "BETTER_AUTH_SECRET": SECRET, "BETTER_AUTH_URL": base_url} | extra


def kids(jwks: dict[str, Any]) -> list[str]:
    return [key["kid"] for key in jwks["keys"]]


def service_jwt(service: TodoService, email: str) -> tuple[str, str]:
    """Sign up on the service; the user's id and a JWT from its /token."""
    with service.client() as client:
        signed_up = client.post(
            "/api/auth/sign-up/email", json={"name": "S", "email": email, "password": PASSWORD}
        )
        assert signed_up.status_code == 200, signed_up.text
        session = {"Authorization": f"Bearer {signed_up.json()['token']}"}
        token = client.get("/api/auth/token", headers=session)
    assert token.status_code == 200, token.text
    return signed_up.json()["user"]["id"], token.json()["token"]


def check_tokens_cross(issuer: BetterAuthIssuer, service: TodoService, kid: str) -> None:
    """Node's token works on the task API; the service's verifies with jose at Node's JWKS."""
    alice = sign_up(issuer, "alice")
    try:
        node_token = issuer.jwt(alice.session)
    finally:
        alice.session.close()
    with service.client(node_token) as api:
        created = api.post("/api/tasks", json={"title": "signed by Node"})
    assert created.status_code == 201, created.text
    assert created.json()["user_id"] == alice.id

    user_id, token = service_jwt(service, f"service-{kid[:6].lower()}@example.com")
    env = {"JWKS_URL": f"{issuer.base_url}/api/auth/jwks", "TOKEN": token, "ISSUER": issuer.base_url}
    verified = run_node_script("verify-jwt.mjs", env, issuer.issuer_dir)
    assert "error" not in verified, verified
    assert verified["header"] == {"alg": "EdDSA", "kid": kid}
    assert verified["payload"]["sub"] == user_id


def test_the_service_uses_the_key_node_better_auth_made(
    shared_url: str, installed_issuer: BetterAuthIssuer, start_service: ServiceFactory
) -> None:
    with BetterAuthIssuer(installed_issuer.issuer_dir) as issuer:
        issuer.start(shared_url, port=free_port(), secret=SECRET)
        [kid] = kids(issuer.jwks())
        service = start_service(
            builtin_settings(issuer.base_url, BETTER_AUTH_SHARED_DATABASE="true"), database_url=shared_url
        )

        assert kids(httpx.get(f"{service.base_url}/api/auth/jwks").json()) == [kid]
        check_tokens_cross(issuer, service, kid)
        assert kids(issuer.jwks()) == [kid]


def test_node_better_auth_uses_the_key_the_service_made(
    shared_url: str, installed_issuer: BetterAuthIssuer, start_service: ServiceFactory
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    service = start_service(builtin_settings(base_url), database_url=shared_url)
    [kid] = kids(httpx.get(f"{service.base_url}/api/auth/jwks").json())
    with BetterAuthIssuer(installed_issuer.issuer_dir) as issuer:
        # Node finds the service's key and signs with it: it decrypted what the service stored.
        issuer.start(shared_url, port=port, secret=SECRET)

        assert kids(issuer.jwks()) == [kid]
        check_tokens_cross(issuer, service, kid)
