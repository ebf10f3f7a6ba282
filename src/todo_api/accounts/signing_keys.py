"""The jwt() plugin's signing keys: Ed25519 pairs in Better Auth's `jwks` table, the first one
made on first use, each stored exactly as Better Auth stores it, so a Node Better Auth on the
same database signs and publishes with the same keys.

- `publicKey`: the public JWK as JSON text (`{"crv":"Ed25519","x":…,"kty":"OKP"}`).
- `privateKey`: the private JWK's JSON, encrypted as Better Auth's symmetricEncrypt does it
  (key = SHA-256 of BETTER_AUTH_SECRET; XChaCha20-Poly1305 with a random 24-byte nonce put in
  front; all of it hex), then written as a JSON string (quotes included).

XChaCha20 comes from libsodium (PyNaCl): `cryptography` has only the 12-byte-nonce ChaCha20.
Signatures are made here rather than by PyJWT, so header and payload are serialized exactly
as jose does (no `typ`, claims in Better Auth's order, UTF-8 not escaped).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import nacl.bindings
import nacl.exceptions
import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from todo_api.db.connection import Database, is_database_unavailable
from todo_api.db.query import Query, Row
from todo_api.jwks import KeysUnavailable
from todo_api.models import jwks_table, utc_now

logger = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
CURVE = "Ed25519"
NONCE_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
# An expired key stays published this long, so tokens it signed still verify (Better Auth's
# default jwks.gracePeriod).
GRACE_PERIOD = timedelta(days=30)
# Better Auth's envelope when it encrypts with one of several versioned secrets.
ENVELOPE_PREFIX = "$ba$"
KEY_CREATION_LOCK = "better-auth-jwks-creation"

KEYS = jwks_table.c
ALL_KEYS = Query(sa.select(*KEYS))
# What /jwks and the verifier read: never the private halves.
PUBLIC_KEYS = Query(sa.select(KEYS.id, KEYS.publicKey, KEYS.expiresAt, KEYS.alg, KEYS.crv))
_NOW = sa.bindparam("now", type_=KEYS.createdAt.type)
_NEW = {column.name: sa.bindparam(f"new_{column.name}", type_=column.type) for column in KEYS}
# Written only while no live Ed25519 key exists: one statement that checks and writes, so on
# SQLite (one write lock) it cannot interleave; on PostgreSQL an advisory lock queues creators.
INSERT_FIRST_KEY = Query(
    sa.insert(jwks_table).from_select(
        list(_NEW),
        sa.select(*(value.label(name) for name, value in _NEW.items())).where(
            ~sa.exists().where(
                sa.or_(KEYS.alg == ALGORITHM, KEYS.alg.is_(None)),
                sa.or_(KEYS.expiresAt.is_(None), KEYS.expiresAt > _NOW),
            )
        ),
    )
)


class UndecryptableKey(Exception):
    """The stored private key was encrypted with another secret (or is not one of ours)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cipher_key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def encrypt_private_key(private_jwk: str, secret: str) -> str:
    """The `privateKey` column for this JWK text, as Better Auth's symmetricEncrypt writes it."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        private_jwk.encode(), None, nonce, _cipher_key(secret)
    )
    return orjson.dumps((nonce + sealed).hex()).decode()


def decrypt_private_key(column: str, secret: str) -> dict[str, Any]:
    """The private JWK in a `privateKey` column (encrypted, or plain when Better Auth was told
    to disablePrivateKeyEncryption), or UndecryptableKey."""
    try:
        stored = orjson.loads(column)
        if isinstance(stored, dict):
            return stored
        if not isinstance(stored, str):
            raise UndecryptableKey("not an encrypted key")
        if stored.startswith(ENVELOPE_PREFIX):
            stored = stored.split("$", 3)[-1]
        sealed = bytes.fromhex(stored)
        plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[NONCE_BYTES:], None, sealed[:NONCE_BYTES], _cipher_key(secret)
        )
        jwk = orjson.loads(plain)
    except (orjson.JSONDecodeError, ValueError, nacl.exceptions.CryptoError):
        raise UndecryptableKey("the private key does not decrypt with BETTER_AUTH_SECRET") from None
    if not isinstance(jwk, dict):
        raise UndecryptableKey("not a JWK")
    return jwk


def new_key_row(secret: str, *, now: datetime) -> dict[str, Any]:
    """A fresh Ed25519 pair as a `jwks` row, its JWKs written as jose's exportJWK writes them."""
    private_key = Ed25519PrivateKey.generate()
    x = _b64url(private_key.public_key().public_bytes_raw())
    d = _b64url(private_key.private_bytes_raw())
    public_jwk = {"crv": CURVE, "x": x, "kty": "OKP"}
    private_jwk = {"crv": CURVE, "d": d, "x": x, "kty": "OKP"}
    return {
        "id": _new_kid(),
        "publicKey": orjson.dumps(public_jwk).decode(),
        "privateKey": encrypt_private_key(orjson.dumps(private_jwk).decode(), secret),
        "createdAt": now,
        "expiresAt": None,
        "alg": ALGORITHM,
        "crv": CURVE,
    }


def _new_kid() -> str:
    # Better Auth's generateId(32): the row's id is the key's `kid`.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(32))


def _now() -> datetime:
    now = utc_now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _is_ed25519(row: Row) -> bool:
    # Rows written before Better Auth had the alg column are its default, EdDSA.
    return row["alg"] in (ALGORITHM, None)


def latest_live_key(rows: list[Row], *, now: datetime) -> Row | None:
    """The key Better Auth signs with: the newest unexpired Ed25519 one."""
    live = [row for row in rows if _is_ed25519(row) and (row["expiresAt"] is None or row["expiresAt"] > now)]
    return max(live, key=lambda row: row["createdAt"], default=None)


async def _all_keys(database: Database, query: Query = ALL_KEYS) -> list[Row]:
    async with database.autocommit() as connection:
        return await connection.fetch(query)


async def _create_first_key(database: Database, secret: str) -> None:
    """Add an Ed25519 key unless a live one exists: however many workers and instances ask at
    once, one key is written."""
    now = _now()
    row = new_key_row(secret, now=now)
    async with database.transaction() as connection:
        await connection.lock(KEY_CREATION_LOCK)
        await connection.fetch(
            INSERT_FIRST_KEY, {f"new_{name}": value for name, value in row.items()} | {"now": now}
        )


async def signing_key(database: Database, *, secret: str) -> SigningKey:
    """The key to sign with, made first if there is none (or only expired ones)."""
    rows = await _all_keys(database)
    row = latest_live_key(rows, now=_now())
    if row is None:
        await _create_first_key(database, secret)
        row = latest_live_key(await _all_keys(database), now=_now())
        if row is None:  # pragma: no cover (the insert above leaves a live key)
            raise RuntimeError("no signing key after creating one")
    try:
        jwk = decrypt_private_key(row["privateKey"], secret)
        private_key = Ed25519PrivateKey.from_private_bytes(_b64url_decode(jwk["d"]))
    except (UndecryptableKey, KeyError, TypeError, ValueError):
        # Better Auth refuses the same way: the secret changed since the key was stored.
        logger.error(
            "the jwt signing key cannot be used", extra={"event": "jwt_key_undecryptable", "kid": row["id"]}
        )
        raise UndecryptableKey("the stored signing key does not decrypt with BETTER_AUTH_SECRET") from None
    return SigningKey(kid=row["id"], private_key=private_key)


def sign(claims: dict[str, Any], key: SigningKey) -> str:
    """A compact JWS of these claims, byte for byte as jose's SignJWT writes it."""
    header = orjson.dumps({"alg": ALGORITHM, "kid": key.kid})
    signing_input = f"{_b64url(header)}.{_b64url(orjson.dumps(claims))}"
    return f"{signing_input}.{_b64url(key.private_key.sign(signing_input.encode()))}"


def _published(rows: list[Row], *, now: datetime) -> list[dict[str, Any]]:
    keys = []
    for row in rows:
        if row["expiresAt"] is not None and row["expiresAt"] + GRACE_PERIOD <= now:
            continue
        public = orjson.loads(row["publicKey"])
        # Better Auth's order: alg and crv (the row's, or its defaults), the JWK, then kid.
        defaults = {"alg": row["alg"] or ALGORITHM, "crv": row["crv"]}
        keys.append(
            {name: value for name, value in defaults.items() if value is not None}
            | public
            | {"kid": row["id"]}
        )
    return keys


async def public_keys(database: Database, *, secret: str) -> list[dict[str, Any]]:
    """The JWKS document's keys, as Better Auth's /jwks lists them (making the first key)."""
    rows = await _all_keys(database, PUBLIC_KEYS)
    if not rows:
        await _create_first_key(database, secret)
        rows = await _all_keys(database, PUBLIC_KEYS)
    return _published(rows, now=_now())


async def verification_keys(database: Database) -> list[dict[str, Any]]:
    """The published keys, for the task API's verifier (which never makes one)."""
    try:
        rows = await _all_keys(database, PUBLIC_KEYS)
    except Exception as error:
        if is_database_unavailable(error):
            raise KeysUnavailable("signing keys are unavailable") from None
        raise
    return _published(rows, now=_now())
