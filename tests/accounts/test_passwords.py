"""Password hashes: Better Auth's own hashes verify here, ours have its exact shape, and the
work happens off the event loop."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from todo_api.accounts import passwords
from todo_api.accounts.passwords import hash_password, spend_a_verification, verify_password

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "better_auth_hashes.json").read_text("utf-8"))
BETTER_AUTH_HASHES = [(item["password"], item["hash"]) for item in FIXTURES["hashes"]]
HASH_SHAPE = re.compile(r"[0-9a-f]{32}:[0-9a-f]{128}")


@pytest.mark.parametrize(("password", "stored"), BETTER_AUTH_HASHES)
async def test_hashes_made_by_better_auth_verify(password: str, stored: str) -> None:
    assert await verify_password(stored, password)


@pytest.mark.parametrize(("password", "stored"), BETTER_AUTH_HASHES)
async def test_a_wrong_password_does_not_verify_against_better_auths_hash(password: str, stored: str) -> None:
    assert not await verify_password(stored, password + "x")


async def test_passwords_are_compared_after_nfkc_normalisation() -> None:
    # The fixture's full-width letters and ligature normalise to plain ASCII, as in Node.
    password, stored = BETTER_AUTH_HASHES[1]
    assert await verify_password(stored, unicodedata.normalize("NFKC", password))


async def test_a_new_hash_has_better_auths_shape_and_a_fresh_salt() -> None:
    first = await hash_password("placeholder-password-123")
    second = await hash_password("placeholder-password-123")

    assert HASH_SHAPE.fullmatch(first)
    assert first.split(":")[0] != second.split(":")[0]
    assert await verify_password(first, "placeholder-password-123")
    assert not await verify_password(first, "placeholder-password-124")


@pytest.mark.parametrize("stored", ["", "no-separator", ":abc", "abc:", "ünï:abc"])
async def test_a_malformed_hash_never_verifies(stored: str) -> None:
    assert not await verify_password(stored, "placeholder-password-123")


def one_derivation_on_this_thread() -> float:
    """The CPU seconds one scrypt derivation with the stored hashes' parameters costs here."""
    started = time.thread_time()
    hashlib.scrypt(
        b"placeholder-password-123",
        salt=passwords.DUMMY_SALT.encode(),
        n=passwords.SCRYPT_N,
        r=passwords.SCRYPT_R,
        p=passwords.SCRYPT_P,
        maxmem=passwords.MAX_MEMORY,
        dklen=passwords.KEY_LENGTH,
    )
    return time.thread_time() - started


async def loop_cpu_seconds(work: Awaitable[object]) -> float:
    """The CPU time the event loop's own thread spends while `work` runs."""
    started = time.thread_time()
    await work
    return time.thread_time() - started


async def test_scrypt_runs_off_the_event_loop() -> None:
    # The loop keeps turning while a hash is computed.
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    stored = await hash_password("placeholder-password-123")
    on_the_loop = {
        "hash": await loop_cpu_seconds(hash_password("placeholder-password-123")),
        "verify": await loop_cpu_seconds(verify_password(stored, "placeholder-password-123")),
        "spend": await loop_cpu_seconds(spend_a_verification("placeholder-password-123")),
    }
    ticker.cancel()

    # Each made a derivation, and the loop's own thread spent far less than one costs.
    half_a_derivation = one_derivation_on_this_thread() / 2
    assert all(seconds < half_a_derivation for seconds in on_the_loop.values()), (
        on_the_loop,
        half_a_derivation,
    )
    assert ticks > 3


async def cpu_seconds(work: Callable[[], Awaitable[object]]) -> float:
    """The least CPU time (all threads) `work` took in three runs."""
    costs = []
    for _ in range(3):
        started = time.process_time()
        await work()
        costs.append(time.process_time() - started)
    return min(costs)


async def test_an_unknown_account_costs_one_real_derivation() -> None:
    stored = await hash_password("placeholder-password-123")

    unknown = await cpu_seconds(lambda: spend_a_verification("placeholder-password-123"))
    wrong = await cpu_seconds(lambda: verify_password(stored, "placeholder-password-124"))

    # As long as a wrong password for an existing account: not less, and not twice as long.
    assert 0.5 * wrong < unknown < 1.5 * wrong


async def test_a_malformed_hash_costs_one_real_derivation() -> None:
    stored = await hash_password("placeholder-password-123")

    malformed = await cpu_seconds(lambda: verify_password("no-separator", "placeholder-password-123"))
    wrong = await cpu_seconds(lambda: verify_password(stored, "placeholder-password-124"))

    assert 0.5 * wrong < malformed < 1.5 * wrong
