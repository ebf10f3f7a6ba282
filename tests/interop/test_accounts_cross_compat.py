"""A Node Better Auth and the service's built-in sign-in on one PostgreSQL database: each
signs in the users the other signed up, and reads the sessions the other started (both
sign with the same BETTER_AUTH_SECRET, as two deployments of one app would)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.interop.conftest import PASSWORD, SECRET, Databases, ServiceFactory
from tests.interop.issuer_driver import BetterAuthIssuer, free_port
from tests.interop.service_driver import TodoService

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def one_database(databases: Databases) -> Iterator[str]:
    with databases.fresh() as url:
        yield url


@pytest.fixture(scope="module")
def service(one_database: str, module_services: ServiceFactory) -> TodoService:
    """The service first: its migrations create Better Auth's tables, as Better Auth would."""
    return module_services({"BUILTIN_AUTH": "true", "BETTER_AUTH_SECRET": SECRET}, one_database)


@pytest.fixture(scope="module")
def node(
    service: TodoService, one_database: str, installed_issuer: BetterAuthIssuer
) -> Iterator[BetterAuthIssuer]:
    """Then Node Better Auth on the same database: its migrations find nothing to change."""
    with BetterAuthIssuer(installed_issuer.issuer_dir) as issuer:
        issuer.start(one_database, port=free_port(), secret=SECRET)
        yield issuer


def sign_up(base_url: str, email: str) -> httpx.Response:
    body = {"name": "Cross User", "email": email, "password": PASSWORD}
    return httpx.post(f"{base_url}/api/auth/sign-up/email", json=body, headers={"Origin": base_url})


def sign_in(base_url: str, email: str, password: str = PASSWORD) -> httpx.Response:
    body = {"email": email, "password": password}
    return httpx.post(f"{base_url}/api/auth/sign-in/email", json=body, headers={"Origin": base_url})


def session_of(base_url: str, cookie: str) -> httpx.Response:
    return httpx.get(f"{base_url}/api/auth/get-session", headers={"Cookie": cookie})


def session_cookie(response: httpx.Response) -> str:
    name = "better-auth.session_token"
    return f"{name}={response.cookies[name]}"


def new_email() -> str:
    # Mixed case: both sides store the address lower-cased and look it up so.
    return f"Cross-{uuid.uuid4().hex[:8]}@Example.com"


@pytest.mark.parametrize("direction", ["node to service", "service to node"])
def test_a_user_signed_up_on_one_signs_in_on_the_other(
    direction: str, node: BetterAuthIssuer, service: TodoService
) -> None:
    first, second = (node.base_url, service.base_url)[:: 1 if direction == "node to service" else -1]
    email = new_email()

    signed_up = sign_up(first, email)
    assert signed_up.status_code == 200, signed_up.text

    signed_in = sign_in(second, email.lower())
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user"]["id"] == signed_up.json()["user"]["id"]
    assert signed_in.json()["user"]["email"] == email.lower()
    wrong = sign_in(second, email, PASSWORD + "-wrong")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "INVALID_EMAIL_OR_PASSWORD")


@pytest.mark.parametrize("direction", ["node to service", "service to node"])
def test_a_session_started_on_one_is_read_and_ended_on_the_other(
    direction: str, node: BetterAuthIssuer, service: TodoService
) -> None:
    first, second = (node.base_url, service.base_url)[:: 1 if direction == "node to service" else -1]
    signed_up = sign_up(first, new_email())
    cookie = session_cookie(signed_up)

    found = session_of(second, cookie)
    assert found.status_code == 200
    assert found.json()["session"]["token"] == signed_up.json()["token"]
    assert found.json()["user"]["id"] == signed_up.json()["user"]["id"]

    signed_out = httpx.post(f"{second}/api/auth/sign-out", headers={"Cookie": cookie, "Origin": second})
    assert signed_out.json() == {"success": True}
    assert session_of(first, cookie).json() is None


def test_an_email_taken_on_one_is_taken_on_the_other(node: BetterAuthIssuer, service: TodoService) -> None:
    email = new_email()
    assert sign_up(node.base_url, email).status_code == 200

    again = sign_up(service.base_url, email)
    assert (again.status_code, again.json()["code"]) == (422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL")
