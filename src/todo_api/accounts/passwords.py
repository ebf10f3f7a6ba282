"""Password hashes in Better Auth's own format, so either side verifies the other's.

`hex(salt) + ":" + hex(scrypt(NFKC(password), salt, N=16384, r=16, p=1, dkLen=64))`, where
the salt scrypt is given is the hex text itself (its ASCII bytes), as `@better-auth/utils`
does. scrypt takes tens of milliseconds of CPU, so it runs in a worker thread, never on the
event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import unicodedata

SCRYPT_N = 16384
SCRYPT_R = 16
SCRYPT_P = 1
KEY_LENGTH = 64
SALT_BYTES = 16
# Node allows scrypt twice the memory N and r need; hashlib's default cap (32 MiB) is too low.
MAX_MEMORY = 128 * SCRYPT_N * SCRYPT_R * 2


def _derive(password: str, salt: str) -> bytes:
    return hashlib.scrypt(
        unicodedata.normalize("NFKC", password).encode(),
        salt=salt.encode("ascii"),
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=MAX_MEMORY,
        dklen=KEY_LENGTH,
    )


def _hash_now(password: str) -> str:
    salt = secrets.token_hex(SALT_BYTES)
    return f"{salt}:{_derive(password, salt).hex()}"


def _verify_now(stored: str, password: str) -> bool:
    salt, separator, key = stored.partition(":")
    if not salt or not separator or not key or not salt.isascii():
        # Still derive a key, so a malformed hash costs what a real one does.
        _derive(password, DUMMY_SALT)
        return False
    return hmac.compare_digest(_derive(password, salt).hex(), key.lower())


# Verified against for unknown e-mails, so they take as long as a wrong password.
DUMMY_SALT = "00000000000000000000000000000000"
DUMMY_HASH = DUMMY_SALT + ":" + "0" * (2 * KEY_LENGTH)


async def hash_password(password: str) -> str:
    """A new Better Auth scrypt hash of `password`, with a random salt."""
    return await asyncio.to_thread(_hash_now, password)


async def verify_password(stored: str, password: str) -> bool:
    """Whether `password` matches the Better Auth hash `stored` (compared in constant time)."""
    return await asyncio.to_thread(_verify_now, stored, password)


async def spend_a_verification(password: str) -> None:
    """Cost exactly what verifying a real hash costs, for an account that does not exist."""
    await verify_password(DUMMY_HASH, password)
