"""Password hashes: Better Auth's own hashes verify here, ours have its exact shape, and the
work happens off the event loop."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any

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


async def test_scrypt_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []
    derive = passwords._derive

    def recording_derive(*args: Any) -> bytes:
        threads.append(threading.get_ident())
        return derive(*args)

    monkeypatch.setattr(passwords, "_derive", recording_derive)
    # The loop keeps turning while a hash is computed.
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    stored = await hash_password("placeholder-password-123")
    await verify_password(stored, "placeholder-password-123")
    await spend_a_verification("placeholder-password-123")
    ticker.cancel()

    assert len(threads) == 3
    assert loop_thread not in threads
    assert ticks > 3


async def test_an_unknown_account_costs_one_real_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    derive = passwords._derive

    def counting_derive(password: str, salt: str) -> bytes:
        calls.append((password, salt))
        return derive(password, salt)

    monkeypatch.setattr(passwords, "_derive", counting_derive)
    await spend_a_verification("placeholder-password-123")

    assert calls == [("placeholder-password-123", passwords.DUMMY_SALT)]
