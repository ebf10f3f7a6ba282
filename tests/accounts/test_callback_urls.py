"""callbackURL is checked as Better Auth's origin check checks it, before any work: a path on
this site of plain characters only, or a URL on a trusted origin that can be sent as a header.
Anything a browser could read as another site, and anything that cannot be a `Location`, is
Better Auth's 403 INVALID_CALLBACK_URL, and no session (or user) is written."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.accounts.conftest import PASSWORD, count_rows, sign_up
from todo_api.models import session_table, user_table

ALICE = {"email": "alice@example.com", "password": PASSWORD}
REFUSED = {"message": "Invalid callbackURL", "code": "INVALID_CALLBACK_URL"}

# Browsers drop tabs and newlines from a URL and read `\` as `/`, so each of these takes
# `window.location.href = url` (what Better Auth's client does with it) to evil.example.
ANOTHER_SITE = [
    "/\t/evil.example/phish",
    "/\t\\evil.example",
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "/%5C%5Cevil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
]
# None of these can be sent as a header value (not Latin-1, or a control character).
NOT_A_HEADER = [
    "/€",
    "/\n/x",
    "/\x00",
    "/a\r\nSet-Cookie: x=y",
    "http://testserver/\r\nSet-Cookie: x=y",
    "http://testserver/€",
]


async def sign_in(client: httpx.AsyncClient, callback_url: str) -> httpx.Response:
    return await client.post("/api/auth/sign-in/email", json=ALICE | {"callbackURL": callback_url})


def assert_refused(response: httpx.Response) -> None:
    assert (response.status_code, response.json()) == (403, REFUSED)
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("callback_url", ANOTHER_SITE)
async def test_a_callback_url_a_browser_reads_as_another_site_is_refused_before_a_session_is_written(
    auth_client: httpx.AsyncClient, database_url: str, callback_url: str
) -> None:
    await sign_up(auth_client)
    sessions = await count_rows(database_url, session_table)

    response = await sign_in(auth_client, callback_url)

    assert_refused(response)
    assert await count_rows(database_url, session_table) == sessions


@pytest.mark.parametrize("callback_url", NOT_A_HEADER)
async def test_a_callback_url_that_cannot_be_a_header_is_refused_before_a_session_is_written(
    auth_client: httpx.AsyncClient, database_url: str, callback_url: str
) -> None:
    await sign_up(auth_client)
    sessions = await count_rows(database_url, session_table)

    response = await sign_in(auth_client, callback_url)

    assert_refused(response)
    assert await count_rows(database_url, session_table) == sessions


@pytest.mark.parametrize("callback_url", ["http://[", "https://[::1/x", "http://[evil.example]/"])
async def test_a_callback_url_python_cannot_parse_is_refused_not_a_500(
    auth_client: httpx.AsyncClient, database_url: str, callback_url: str
) -> None:
    await sign_up(auth_client)
    sessions = await count_rows(database_url, session_table)

    response = await sign_in(auth_client, callback_url)

    assert_refused(response)
    assert await count_rows(database_url, session_table) == sessions


@pytest.mark.parametrize("callback_url", ["/\t/evil.example/phish", "/%2F%2Fevil.example", "/\x00"])
async def test_sign_up_with_an_unsafe_callback_url_writes_nothing(
    auth_client: httpx.AsyncClient, database_url: str, callback_url: str
) -> None:
    response = await sign_up(auth_client, callbackURL=callback_url)

    assert_refused(response)
    assert await count_rows(database_url, user_table) == 0
    assert await count_rows(database_url, session_table) == 0


async def test_a_forms_callback_url_is_checked_alike(
    auth_client: httpx.AsyncClient, database_url: str
) -> None:
    await sign_up(auth_client)
    sessions = await count_rows(database_url, session_table)

    response = await auth_client.post(
        "/api/auth/sign-in/email",
        content=urlencode(ALICE | {"callbackURL": "/\t/evil.example/phish"}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert_refused(response)
    assert await count_rows(database_url, session_table) == sessions


@pytest.mark.parametrize(
    "callback_url",
    [
        "/",
        "/dashboard",
        "/tasks/42?filter=open&sort=created%20at",
        "/a-b_c.d+e@f",
        "http://testserver/welcome",
    ],
)
async def test_a_plain_path_or_a_trusted_url_is_still_the_redirect(
    auth_client: httpx.AsyncClient, callback_url: str
) -> None:
    # The guard against refusing too much: these were, and stay, answered as redirects.
    await sign_up(auth_client)

    response = await sign_in(auth_client, callback_url)

    assert response.status_code == 200
    assert (response.json()["redirect"], response.json()["url"]) == (True, callback_url)
    assert response.headers["location"] == callback_url


async def test_an_empty_callback_url_is_no_redirect(auth_client: httpx.AsyncClient) -> None:
    # Better Auth: `redirect: !!callbackURL`, `url: callbackURL`, and a Location only when truthy.
    await sign_up(auth_client)

    response = await sign_in(auth_client, "")

    assert response.status_code == 200
    assert (response.json()["redirect"], response.json()["url"]) == (False, "")
    assert "location" not in response.headers


@pytest.mark.parametrize("callback_url", ["/welcome", "http://testserver/welcome"])
async def test_sign_up_takes_a_plain_path_or_a_trusted_url(
    auth_client: httpx.AsyncClient, database_url: str, callback_url: str
) -> None:
    response = await sign_up(auth_client, callbackURL=callback_url)

    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == "alice@example.com"
    assert await count_rows(database_url, user_table) == 1
