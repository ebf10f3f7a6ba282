"""What sign-up and sign-in refuse before any work (no password hashed, nothing written): control
characters in `name` and `image`, a `name` over 256 characters, an `image` over 2,048, and an
e-mail over 254 characters, refused before its pattern runs."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.accounts.conftest import PASSWORD, count_rows, sign_up
from todo_api.accounts.schemas import EMAIL
from todo_api.models import account_table, user_table

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ALICE = {"name": "Alice", "email": "alice@example.com", "password": PASSWORD}
DOMAIN = "@example.com"
# What any malformed e-mail gets: sign-up's schema error, sign-in's INVALID_EMAIL (as Better Auth).
BAD_SIGN_UP_EMAIL = (400, {"message": "[body.email] Invalid email address", "code": "VALIDATION_ERROR"})
BAD_SIGN_IN_EMAIL = (400, {"message": "Invalid email", "code": "INVALID_EMAIL"})


def email_of_length(length: int) -> str:
    """A well-formed e-mail address of exactly `length` characters."""
    return "a" * (length - len(DOMAIN)) + DOMAIN


def answer(response: httpx.Response) -> tuple[int, object]:
    return response.status_code, response.json()


def refused(code: str, message: str) -> tuple[int, object]:
    return 400, {"message": message, "code": code}


async def nothing_written(database_url: str) -> bool:
    return await count_rows(database_url, user_table) == await count_rows(database_url, account_table) == 0


@pytest.mark.parametrize("character", ["\x00", "\x08", "\n", "\x1f", "\x7f", "\x85"])
@pytest.mark.parametrize("field", ["name", "image"])
@pytest.mark.parametrize("as_form", [False, True], ids=["json", "form"])
async def test_a_control_character_in_the_name_or_image_is_a_validation_error(
    auth_client: httpx.AsyncClient, database_url: str, character: str, field: str, as_form: bool
) -> None:
    body = ALICE | {field: f"Ali{character}ce"}
    if as_form:
        response = await auth_client.post(
            "/api/auth/sign-up/email", content=urlencode(body).encode(), headers=FORM
        )
    else:
        response = await auth_client.post("/api/auth/sign-up/email", json=body)

    assert answer(response) == refused(
        "VALIDATION_ERROR", f"[body.{field}] Invalid string: must not contain control characters"
    )
    assert await nothing_written(database_url)


@pytest.mark.parametrize(("field", "most"), [("name", 256), ("image", 2048)])
async def test_a_name_or_image_one_character_too_long_is_refused_and_the_longest_accepted(
    auth_client: httpx.AsyncClient, database_url: str, field: str, most: int
) -> None:
    too_long = await sign_up(auth_client, **{field: "x" * (most + 1)})
    nothing_after_refusal = await nothing_written(database_url)
    longest = await sign_up(auth_client, email="bob@example.com", **{field: "x" * most})
    session = await auth_client.get(
        "/api/auth/get-session", headers={"Authorization": f"Bearer {longest.json()['token']}"}
    )

    assert answer(too_long) == refused(
        "VALIDATION_ERROR", f"[body.{field}] Too big: expected string to have <={most} characters"
    )
    assert nothing_after_refusal
    assert longest.status_code == 200
    assert longest.json()["user"][field] == "x" * most
    assert session.json()["user"][field] == "x" * most


async def test_a_names_length_is_counted_as_javascript_counts_it(
    auth_client: httpx.AsyncClient, database_url: str
) -> None:
    # 129 emoji are 258 UTF-16 code units: what `name.length` is in the browser and in zod.
    response = await sign_up(auth_client, name="😀" * 129)

    assert answer(response) == refused(
        "VALIDATION_ERROR", "[body.name] Too big: expected string to have <=256 characters"
    )
    assert await nothing_written(database_url)


async def test_an_email_over_254_characters_is_refused_and_254_accepted(
    auth_client: httpx.AsyncClient,
) -> None:
    longest, too_long = email_of_length(254), email_of_length(255)

    refused_sign_up = await sign_up(auth_client, email=too_long)
    signed_up = await sign_up(auth_client, email=longest)
    refused_sign_in = await auth_client.post(
        "/api/auth/sign-in/email", json={"email": too_long, "password": PASSWORD}
    )
    signed_in = await auth_client.post(
        "/api/auth/sign-in/email", json={"email": longest, "password": PASSWORD}
    )

    assert answer(refused_sign_up) == BAD_SIGN_UP_EMAIL
    assert signed_up.status_code == 200
    assert signed_up.json()["user"]["email"] == longest
    assert answer(refused_sign_in) == BAD_SIGN_IN_EMAIL
    assert signed_in.status_code == 200


async def test_a_megabyte_email_of_valid_form_is_refused_by_its_length(
    auth_client: httpx.AsyncClient, database_url: str
) -> None:
    # The pattern accepts this address, so only the length check, which runs first, refuses it.
    huge = email_of_length(1_000_000)
    assert EMAIL.fullmatch(huge)

    sign_up_answer = await sign_up(auth_client, email=huge)
    sign_in_answer = await auth_client.post(
        "/api/auth/sign-in/email", json={"email": huge, "password": PASSWORD}
    )

    assert answer(sign_up_answer) == BAD_SIGN_UP_EMAIL
    assert answer(sign_in_answer) == BAD_SIGN_IN_EMAIL
    assert await nothing_written(database_url)
