"""The jwt() plugin's keys against what the pinned Better Auth itself stored and signed
(fixtures/better_auth_jwt.json, written by tests/interop/issuer/jwt-fixtures.mjs), and the
creation of the first key when several instances ask at once."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import orjson
import pytest

from tests.accounts.conftest import sign_up
from tests.accounts.test_endpoints import sql
from tests.accounts.test_jwt_plugin import segment
from tests.accounts.test_sessions_on_tasks import bearer
from tests.conftest import asyncpg_dsn, eventually, make_settings, serving
from todo_api.accounts import signing_keys
from todo_api.accounts.signing_keys import (
    SigningKey,
    UndecryptableKey,
    decrypt_private_key,
    encrypt_private_key,
    new_key_row,
)
from todo_api.db.engine import open_database
from todo_api.models import jwks_table

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "better_auth_jwt.json").read_text())
SECRET = FIXTURE["secret"]
ROW = FIXTURE["jwksRow"]
TOKEN = json.loads(FIXTURE["token"]["body"])["token"]


def fixture_row() -> dict[str, Any]:
    return ROW | {"createdAt": datetime.fromisoformat(ROW["createdAt"]), "expiresAt": None}


def test_a_private_key_better_auth_encrypted_decrypts_to_its_jwk() -> None:
    jwk = decrypt_private_key(ROW["privateKey"], SECRET)

    public = json.loads(ROW["publicKey"])
    assert list(jwk) == ["crv", "d", "x", "kty"]
    assert {name: jwk[name] for name in public} == public


def test_our_signature_is_byte_for_byte_the_one_better_auth_made_with_its_key() -> None:
    # Ed25519 is deterministic: the same key, header and claims give the same token, so a token
    # of ours is one jose accepts exactly as it accepts its own.
    jwk = decrypt_private_key(ROW["privateKey"], SECRET)
    key = SigningKey(kid=ROW["id"], private_key=jwt.PyJWK(jwk | {"alg": "EdDSA"}).key)
    claims = orjson.loads(jwt.api_jws.base64url_decode(TOKEN.split(".")[1]))

    assert signing_keys.sign(claims, key) == TOKEN


async def test_the_published_key_set_is_byte_for_byte_better_auths(database_url: str) -> None:
    await sql(database_url, jwks_table.insert().values(fixture_row()))
    async with serving(database_url, builtin_auth=True, better_auth_secret=SECRET) as client:
        published = await client.get("/api/auth/jwks")

    assert published.text == FIXTURE["jwks"]["body"]


async def test_token_without_a_session_is_byte_for_byte_better_auths_401(
    auth_client: httpx.AsyncClient,
) -> None:
    response = await auth_client.get("/api/auth/token")

    assert response.status_code == FIXTURE["noSession"]["status"]
    assert response.text == FIXTURE["noSession"]["body"]
    assert response.headers["content-type"] == FIXTURE["noSession"]["headers"]["content-type"]


def test_encryption_round_trips_with_a_fresh_nonce_and_only_with_the_secret() -> None:
    jwk = '{"crv":"Ed25519","d":"placeholder","x":"placeholder","kty":"OKP"}'
    first, second = encrypt_private_key(jwk, SECRET), encrypt_private_key(jwk, SECRET)

    assert first != second
    assert json.loads(first) == first[1:-1]  # a JSON string, as Better Auth writes the column
    assert decrypt_private_key(first, SECRET) == json.loads(jwk)
    with pytest.raises(UndecryptableKey):
        decrypt_private_key(first, SECRET + "x")
    tampered = first[:-3] + ("0" if first[-3] != "0" else "1") + first[-2:]
    with pytest.raises(UndecryptableKey):
        decrypt_private_key(tampered, SECRET)


def test_a_key_row_we_make_has_better_auths_columns() -> None:
    row = new_key_row(SECRET, now=datetime.fromisoformat(ROW["createdAt"]))

    assert set(row) == {column.name for column in jwks_table.c}
    assert list(json.loads(row["publicKey"])) == list(json.loads(ROW["publicKey"]))
    assert (row["alg"], row["crv"], row["expiresAt"]) == ("EdDSA", "Ed25519", None)
    private = decrypt_private_key(row["privateKey"], SECRET)
    assert list(private) == ["crv", "d", "x", "kty"]
    assert private["x"] == json.loads(row["publicKey"])["x"]


async def test_a_key_better_auth_stored_signs_the_services_tokens(database_url: str) -> None:
    await sql(database_url, jwks_table.insert().values(fixture_row()))
    async with serving(database_url, builtin_auth=True, better_auth_secret=SECRET) as client:
        session_token = (await sign_up(client)).json()["token"]
        token = (await client.get("/api/auth/token", headers=bearer(session_token))).json()["token"]
        jwks = (await client.get("/api/auth/jwks")).json()
        tasks = await client.get("/api/tasks", headers=bearer(token))

    assert segment(token, 0)["kid"] == ROW["id"]
    assert jwks == json.loads(FIXTURE["jwks"]["body"])
    assert tasks.status_code == 200


async def test_a_key_stored_under_another_secret_is_refused_without_leaking(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await sql(database_url, jwks_table.insert().values(fixture_row()))
    async with serving(database_url, builtin_auth=True) as client:
        session_token = (await sign_up(client)).json()["token"]
        response = await client.get("/api/auth/token", headers=bearer(session_token))

    # Better Auth fails the same way; the log names the key, never its contents.
    assert (response.status_code, response.json()) == (500, {"detail": "Internal Server Error"})
    assert "jwt_key_undecryptable" in [getattr(record, "event", None) for record in caplog.records]
    assert ROW["privateKey"] not in caplog.text


async def test_a_creator_that_waits_for_another_uses_its_key(postgres_url: str) -> None:
    # Another instance is creating the first key (it holds the creation lock, not yet committed):
    # this one waits for it and signs with that key, instead of adding a second.
    other = new_key_row(SECRET, now=datetime.fromisoformat(ROW["createdAt"]))
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    database = await open_database(make_settings(postgres_url))
    try:
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", signing_keys.KEY_CREATION_LOCK
        )
        await connection.execute(
            'INSERT INTO jwks (id, "publicKey", "privateKey", "createdAt", alg, crv)'
            " VALUES ($1, $2, $3, now(), $4, $5)",
            other["id"],
            other["publicKey"],
            other["privateKey"],
            other["alg"],
            other["crv"],
        )
        waiting = asyncio.create_task(signing_keys.signing_key(database, secret=SECRET))

        async def queued_or_done() -> bool:
            queued = await connection.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            return bool(queued) or waiting.done()

        await eventually(queued_or_done, "queued behind the other creator's lock")
        assert not waiting.done(), "made a key without waiting for the other creator"
        await transaction.commit()
        key = await waiting
    finally:
        await connection.close()
        await database.close()

    assert key.kid == other["id"]
    assert len(await sql(postgres_url, "SELECT id FROM jwks")) == 1
