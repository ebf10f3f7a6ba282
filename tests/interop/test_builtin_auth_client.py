"""Better Auth's own client (`createAuthClient`, the pinned package, in Node) against a
running `todo-api serve` with BUILTIN_AUTH=true: every call it makes, answered as Better Auth
answers it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from tests.interop.conftest import PASSWORD, SECRET, ServiceFactory
from tests.interop.issuer_driver import BetterAuthIssuer, run_node_script
from tests.interop.service_driver import TodoService

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def builtin_service(installed_issuer: BetterAuthIssuer, module_services: ServiceFactory) -> TodoService:
    return module_services({"BUILTIN_AUTH": "true", "BETTER_AUTH_SECRET": SECRET})


def run_client(issuer: BetterAuthIssuer, service: TodoService) -> dict[str, Any]:
    env = {
        "API_URL": service.base_url,
        "EMAIL": f"builtin-{uuid.uuid4().hex[:8]}@example.com",
        "PASSWORD": PASSWORD,
    }
    return run_node_script("builtin-client.mjs", env, issuer.issuer_dir)


@pytest.fixture(scope="module")
def report(installed_issuer: BetterAuthIssuer, builtin_service: TodoService) -> dict[str, Any]:
    """What the client's calls returned, one run for the module's tests."""
    return run_client(installed_issuer, builtin_service)


def milliseconds(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def test_better_auths_client_signs_up_in_and_out_against_the_service(report: dict[str, Any]) -> None:
    user_id = report["signUp"]["userId"]
    assert report["duplicate"] == {
        "status": 422,
        "code": "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
        "message": "User already exists. Use another email.",
    }
    assert report["shortPassword"] == {
        "status": 400,
        "code": "PASSWORD_TOO_SHORT",
        "message": "Password too short",
    }
    refused = {"status": 401, "code": "INVALID_EMAIL_OR_PASSWORD", "message": "Invalid email or password"}
    assert report["wrongPassword"] == report["unknownEmail"] == refused
    assert report["signIn"]["userId"] == user_id
    assert report["signIn"]["redirect"] is False
    session = report["session"]
    assert (session["userId"], session["token"]) == (user_id, report["signIn"]["token"])
    # The client parsed each date into exactly the instant the service wrote.
    assert session["datesAreDates"] is True
    raw = report["raw"]
    assert session["dates"] == {
        "expiresAt": milliseconds(raw["session"]["expiresAt"]),
        "sessionCreatedAt": milliseconds(raw["session"]["createdAt"]),
        "userCreatedAt": milliseconds(raw["user"]["createdAt"]),
    }
    assert report["signOut"] == {"success": True}
    assert report["afterSignOut"] is None
    assert report["cookiesLeft"] == []


def test_the_jwt_client_gets_a_token_jose_verifies_against_the_services_jwks(report: dict[str, Any]) -> None:
    user_id = report["signIn"]["userId"]
    jwt = report["jwt"]
    assert "error" not in jwt, jwt
    [key] = report["jwks"]["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert jwt["header"] == {"alg": "EdDSA", "kid": key["kid"]}
    payload = jwt["payload"]
    assert (payload["sub"], payload["id"], payload["email"]) == (user_id, user_id, report["session"]["email"])
    assert payload["exp"] - payload["iat"] == 15 * 60
    # No BETTER_AUTH_URL: in development the issuer is where `todo-api serve` answers by default.
    assert payload["iss"] == payload["aud"] == "http://localhost:8000"
    assert jwt["tasksStatus"] == 200
    assert report["tokenAfterSignOut"] == {"status": 401, "code": "UNAUTHORIZED", "message": "Unauthorized"}
