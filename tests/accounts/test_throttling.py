"""Sign-in and sign-up are throttled as Better Auth throttles them: 3 attempts in 10 seconds
per client address and path, then a 429 in Better Auth's shape, whatever the password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tests.accounts.conftest import PASSWORD, ForgetfulClient, sign_up
from tests.conftest import serving_app
from todo_api.ratelimit import RateLimiter

WRONG = {"email": "alice@example.com", "password": "wrong-password-123"}


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000), raise_app_exceptions=False)
    async with ForgetfulClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_a_fourth_sign_in_within_ten_seconds_is_a_429_even_with_the_right_password(
    database_url: str,
) -> None:
    async with serving_app(database_url, builtin_auth=True, rate_limit_enabled=True) as (app, client):
        await sign_up(client)
        async with client_at(app, "198.51.100.7") as attacker, client_at(app, "198.51.100.8") as neighbour:
            guesses = [await attacker.post("/api/auth/sign-in/email", json=WRONG) for _ in range(3)]
            refused = await attacker.post(
                "/api/auth/sign-in/email", json={"email": "alice@example.com", "password": PASSWORD}
            )
            elsewhere = await neighbour.post(
                "/api/auth/sign-in/email", json={"email": "alice@example.com", "password": PASSWORD}
            )

    assert [guess.status_code for guess in guesses] == [401, 401, 401]
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too many requests. Please try again later."}
    assert 1 <= int(refused.headers["x-retry-after"]) <= 10
    assert refused.headers["retry-after"] == refused.headers["x-retry-after"]
    assert "set-cookie" not in refused.headers
    assert elsewhere.status_code == 200


async def test_sign_up_is_throttled_and_counted_apart_from_sign_in(database_url: str) -> None:
    async with (
        serving_app(database_url, builtin_auth=True, rate_limit_enabled=True) as (app, _),
        client_at(app, "198.51.100.9") as client,
    ):
        sign_ups = [(await sign_up(client, email=f"user{n}@example.com")).status_code for n in range(4)]
        sign_in = await client.post("/api/auth/sign-in/email", json=WRONG)

    assert sign_ups == [200, 200, 200, 429]
    assert sign_in.status_code == 401


async def test_with_rate_limits_off_sign_in_is_not_throttled(database_url: str) -> None:
    async with serving_app(database_url, builtin_auth=True, rate_limit_enabled=False) as (_, client):
        answers = {(await client.post("/api/auth/sign-in/email", json=WRONG)).status_code for _ in range(10)}

    assert answers == {401}


async def test_three_attempts_keep_an_address_out_for_ten_seconds() -> None:
    # The app's limiter reads the wall clock; this one, built as the app builds it, reads a
    # clock the test moves, so "10 seconds" is checked without waiting for them.
    start = 1_800_000_000.0  # the start of a 10-second window
    now = start
    limiter = RateLimiter(
        reads="100/minute",
        writes="100/minute",
        auth_failures="100/minute",
        storage_url=None,
        clock=lambda: now,
    )
    path = "/api/auth/sign-in/email"
    attempts = [await limiter.sign_in_wait("198.51.100.7", path) for _ in range(3)]
    at_once = await limiter.sign_in_wait("198.51.100.7", path)
    now = start + 2
    two_seconds_later = await limiter.sign_in_wait("198.51.100.7", path)
    now = start + 9.9
    just_before_ten = await limiter.sign_in_wait("198.51.100.7", path)
    other_address = await limiter.sign_in_wait("198.51.100.8", path)
    now = start + 30
    long_after = await limiter.sign_in_wait("198.51.100.7", path)

    assert attempts == [None, None, None]
    assert at_once == 10
    assert two_seconds_later is not None
    assert just_before_ten is not None
    assert other_address is None
    assert long_after is None
