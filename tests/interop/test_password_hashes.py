"""Hashes made here verify in the real Better Auth (its own verifyPassword, in Node)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.interop.issuer_driver import BetterAuthIssuer
from todo_api.accounts.passwords import hash_password

pytestmark = pytest.mark.interop

# Full-width letters and a ligature (NFKC changes them), accents, and the longest allowed.
PASSWORDS = [
    "placeholder-password-123",
    "\uff30\uff41\uff53\uff53-\ufb01-placeholder",
    "\u00fcn\u00efc\u00f6d\u00e9-placeholder-\u00df",
    "x" * 128,
]


def better_auth_verifies(issuer: BetterAuthIssuer, pairs: list[dict[str, str]]) -> list[bool]:
    result = subprocess.run(
        ["node", "verify-passwords.mjs"],
        cwd=issuer.issuer_dir,
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    verdicts: list[bool] = json.loads(result.stdout)
    return verdicts


async def test_better_auth_verifies_our_hashes_and_refuses_wrong_passwords(
    installed_issuer: BetterAuthIssuer,
) -> None:
    hashes = [await hash_password(password) for password in PASSWORDS]
    right = [
        {"hash": stored, "password": password} for stored, password in zip(hashes, PASSWORDS, strict=True)
    ]
    wrong = [
        {"hash": stored, "password": password + "!"}
        for stored, password in zip(hashes, PASSWORDS, strict=True)
    ]

    assert better_auth_verifies(installed_issuer, right + wrong) == [True] * len(PASSWORDS) + [False] * len(
        PASSWORDS
    )
