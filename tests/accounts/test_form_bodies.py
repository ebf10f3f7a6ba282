"""Sign-up and sign-in take an HTML form's body as Better Auth does (every value a string),
with the same cross-site form protections; every other route still refuses forms with 415."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from tests.accounts.conftest import PASSWORD, cookie_pairs, count_rows, sign_up
from tests.conftest import serving
from todo_api.models import user_table

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ALICE = {"name": "Alice", "email": "alice@example.com", "password": PASSWORD}


async def post_form(
    client: httpx.AsyncClient, path: str, fields: dict[str, str], **headers: str
) -> httpx.Response:
    return await client.post(path, content=urlencode(fields).encode(), headers=FORM | headers)


async def test_sign_up_and_sign_in_take_a_form(auth_client: httpx.AsyncClient) -> None:
    signed_up = await post_form(auth_client, "/api/auth/sign-up/email", ALICE | {"name": "Alice Ünal"})
    signed_in = await post_form(
        auth_client, "/api/auth/sign-in/email", {"email": "ALICE@example.com", "password": PASSWORD}
    )
    wrong = await post_form(
        auth_client, "/api/auth/sign-in/email", {"email": "alice@example.com", "password": "wrong-password"}
    )

    assert signed_up.status_code == 200
    assert signed_up.json()["user"]["name"] == "Alice Ünal"
    assert signed_in.status_code == 200
    assert signed_in.json()["user"]["id"] == signed_up.json()["user"]["id"]
    assert "better-auth.session_token=" in signed_in.headers["set-cookie"]
    assert (wrong.status_code, wrong.json()["code"]) == (401, "INVALID_EMAIL_OR_PASSWORD")


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        (b"", ""),  # a blank field is an empty string, not a missing one
        (b"%FF", "\ufffd"),  # bad UTF-8, encoded or not, becomes U+FFFD as URLSearchParams makes it
        (b"\xff", "\ufffd"),
    ],
)
async def test_a_forms_blank_or_badly_encoded_field_is_read_as_url_search_params_reads_it(
    auth_client: httpx.AsyncClient, name: bytes, stored: str
) -> None:
    body = b"name=" + name + b"&" + urlencode({"email": "alice@example.com", "password": PASSWORD}).encode()

    response = await auth_client.post("/api/auth/sign-up/email", content=body, headers=FORM)

    assert response.status_code == 200
    assert response.json()["user"]["name"] == stored


async def test_a_json_body_that_does_not_parse_is_refused_as_better_auth_refuses_it(
    auth_client: httpx.AsyncClient,
) -> None:
    response = await auth_client.post(
        "/api/auth/sign-up/email", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json() == {
        "message": "[body] Invalid input: expected object, received string",
        "code": "VALIDATION_ERROR",
    }


async def test_a_forms_remember_me_is_a_string_and_refused_as_better_auth_refuses_it(
    auth_client: httpx.AsyncClient,
) -> None:
    # better-call reads every form value as a string; zod's boolean() refuses "false".
    await sign_up(auth_client)

    response = await post_form(
        auth_client,
        "/api/auth/sign-in/email",
        {"email": "alice@example.com", "password": PASSWORD, "rememberMe": "false"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        (
            {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
            "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
        ),
        ({"Origin": "https://evil.example"}, "INVALID_ORIGIN"),
        ({"Referer": "https://evil.example/login"}, "INVALID_ORIGIN"),
        # Not a URL Python can split (an unclosed IPv6 bracket): refused, not a 500.
        ({"Origin": "http://["}, "INVALID_ORIGIN"),
        ({"Referer": "http://[evil.example/login"}, "INVALID_ORIGIN"),
    ],
)
@pytest.mark.parametrize("path", ["/api/auth/sign-up/email", "/api/auth/sign-in/email"])
async def test_a_cross_site_form_is_refused(
    auth_client: httpx.AsyncClient, headers: dict[str, str], code: str, path: str
) -> None:
    response = await post_form(auth_client, path, ALICE, **headers)

    assert response.status_code == 403
    assert response.json()["code"] == code
    assert "set-cookie" not in response.headers


SIGN_IN = {"email": "alice@example.com", "password": PASSWORD}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        # A cookie, or any Sec-Fetch header, means a browser: it must say where it comes from.
        ({"Cookie": "theme=dark"}, "MISSING_OR_NULL_ORIGIN"),
        ({"Cookie": "theme=dark", "Origin": "https://evil.example"}, "INVALID_ORIGIN"),
        ({"Sec-Fetch-Site": "same-origin"}, "MISSING_OR_NULL_ORIGIN"),
        ({"Sec-Fetch-Mode": "cors"}, "MISSING_OR_NULL_ORIGIN"),
        ({"Sec-Fetch-Dest": "empty"}, "MISSING_OR_NULL_ORIGIN"),
        ({"Sec-Fetch-Site": "same-site", "Origin": "https://evil.example"}, "INVALID_ORIGIN"),
    ],
)
async def test_a_browser_sign_in_without_a_trusted_origin_is_refused(
    auth_client: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    await sign_up(auth_client)

    response = await auth_client.post("/api/auth/sign-in/email", json=SIGN_IN, headers=headers)

    assert (response.status_code, response.json()["code"]) == (403, code)
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Cookie": "theme=dark", "Origin": "https://app.example"},
        # A form on this site, and the trusted app's fetch from another site.
        {
            "Sec-Fetch-Site": "same-origin",
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Dest": "document",
            "Origin": "http://testserver",
        },
        {
            "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Mode": "cors",
            "Sec-Fetch-Dest": "empty",
            "Origin": "https://app.example",
        },
        {"Referer": "http://testserver/login"},
    ],
)
async def test_a_browser_sign_in_from_a_trusted_origin_is_accepted(
    database_url: str, headers: dict[str, str]
) -> None:
    async with serving(database_url, builtin_auth=True, cors_origins=["https://app.example"]) as client:
        await sign_up(client)
        client.cookies.clear()
        response = await client.post("/api/auth/sign-in/email", json=SIGN_IN, headers=headers)

    assert response.status_code == 200
    assert response.headers["set-cookie"].startswith("better-auth.session_token=")


async def test_other_routes_still_refuse_forms_with_415(auth_client: httpx.AsyncClient) -> None:
    signed_up = await sign_up(auth_client)
    cookie = {"Cookie": cookie_pairs(signed_up), "Origin": "http://testserver"}
    bearer = {"Authorization": f"Bearer {signed_up.json()['token']}"}

    answers = [
        await post_form(auth_client, "/api/tasks", {"title": "by form"}, **bearer),
        await post_form(auth_client, "/api/tasks", {"title": "by form"}, **cookie),
        await post_form(auth_client, "/api/auth/sign-out", {"all": "true"}, **cookie),
        await post_form(auth_client, "/api/auth/sign-in/email/", ALICE),
    ]

    assert [answer.status_code for answer in answers] == [415] * 4
    assert answers[0].json() == {"detail": "Content-Type must be application/json"}


async def test_a_body_without_a_content_type_is_refused_before_it_is_read(
    auth_client: httpx.AsyncClient, database_url: str
) -> None:
    # Only JSON, or a form where a form is taken, is read: a body of no declared type is not.
    response = await auth_client.post("/api/auth/sign-up/email", content=json.dumps(ALICE).encode())

    assert response.status_code == 415
    assert await count_rows(database_url, user_table) == 0
