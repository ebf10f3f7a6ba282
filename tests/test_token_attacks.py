"""RFC 8725 attacks against a Better Auth-style deployment: each is a logged 401, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import ISSUER, SECRET
from tests.keys import JWKSServer, SigningKey, new_key, serve_jwks

Attack = Callable[[SigningKey, JWKSServer], dict[str, str]]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "victim", "iss": ISSUER, "aud": ISSUER, "iat": now, "exp": now + 600} | overrides


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed(key: SigningKey, headers: dict[str, Any] | None = None, **overrides: Any) -> dict[str, str]:
    payload = claims(**overrides)
    return bearer(
        jwt.encode(
            payload, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid, **(headers or {})}
        )
    )


def alg_none(_key: SigningKey, _server: JWKSServer) -> dict[str, str]:
    return bearer(
        f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims()).encode())}."
    )


def hs256_with_public_key(key: SigningKey, _server: JWKSServer) -> dict[str, str]:
    # The classic confusion: HMAC keyed with the (public) JWKS entry, hoping it is used as a secret.
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'kid': key.kid}).encode())}.{b64(json.dumps(claims()).encode())}"
    )
    mac = hmac.new(json.dumps(key.public_jwk()).encode(), signing_input.encode(), hashlib.sha256).digest()
    return bearer(f"{signing_input}.{b64(mac)}")


def hmac_family(algorithm: str) -> Attack:
    return lambda _key, _server: bearer(jwt.encode(claims(), SECRET, algorithm=algorithm))


def raw_header(header: dict[str, Any]) -> Attack:
    signature = b64(b"x" * 64)
    return lambda _key, _server: bearer(
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}.{signature}"
    )


ATTACKS: dict[str, Attack] = {
    "alg none": alg_none,
    "HS256 signed with the JWKS public key": hs256_with_public_key,
    "HS384 with the right secret": hmac_family("HS384"),
    "HS512 with the right secret": hmac_family("HS512"),
    "valid EdDSA token with an unknown kid": lambda _k, _s: signed(new_key("EdDSA", kid="not-published")),
    "kid with path characters": raw_header({"alg": "EdDSA", "kid": "../../../../etc/passwd"}),
    "crit with an unknown extension": lambda key, _s: signed(key, {"crit": ["http://evil.example/ext"]}),
    "expired": lambda key, _s: signed(key, exp=int(time.time()) - 120),
    "nbf in the future": lambda key, _s: signed(key, nbf=int(time.time()) + 300),
    "iat in the future": lambda key, _s: signed(key, iat=int(time.time()) + 300),
    "missing sub": lambda key, _s: signed(key, sub=None),
    "empty sub": lambda key, _s: signed(key, sub=""),
    "numeric sub": lambda key, _s: signed(key, sub=12345),
    "sub of 10,000 characters": lambda key, _s: signed(key, sub="x" * 10_000),
    "wrong iss": lambda key, _s: signed(key, iss="https://evil.example"),
    "wrong aud": lambda key, _s: signed(key, aud="https://evil.example"),
    "Basic credentials": lambda _k, _s: {"Authorization": "Basic dmljdGltOnBhc3N3b3Jk"},
    "Bearer with nothing after it": lambda _k, _s: {"Authorization": "Bearer "},
    "token in the query string": lambda key, _s: {"X-Query": "see url"},
    "token in a cookie": lambda key, _s: {"Cookie": f"token={signed(key)['Authorization'][7:]}"},
}


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_token_attack_is_a_logged_401(
    jwks_client: tuple[httpx.AsyncClient, SigningKey, JWKSServer], name: str, caplog: pytest.LogCaptureFixture
) -> None:
    client, key, server = jwks_client
    caplog.set_level(logging.INFO)
    headers = ATTACKS[name](key, server)
    params = {"token": signed(key)["Authorization"][7:]} if name == "token in the query string" else None
    hits_before = server.hits

    response = await client.get("/api/tasks", headers=headers, params=params)

    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert isinstance(response.json()["detail"], str)
    assert [r for r in caplog.records if getattr(r, "event", None) == "authentication_failed"]
    # At most the one refetch an unknown kid may cause.
    assert server.hits - hits_before <= 1


@pytest.mark.parametrize("header", ["jku", "x5u"])
async def test_key_urls_in_the_token_are_never_fetched(
    jwks_client: tuple[httpx.AsyncClient, SigningKey, JWKSServer], header: str
) -> None:
    client, _, _ = jwks_client
    attacker = new_key("EdDSA", kid="evil")
    with serve_jwks(attacker) as attacker_server:
        # Following the URL would find the attacker's key there and accept the token.
        response = await client.get("/api/tasks", headers=signed(attacker, {header: attacker_server.url}))

        assert attacker_server.hits == 0
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token: unknown signing key"}


async def test_a_64_kib_authorization_header_is_refused_without_decoding(
    jwks_client: tuple[httpx.AsyncClient, SigningKey, JWKSServer], caplog: pytest.LogCaptureFixture
) -> None:
    client, key, server = jwks_client
    caplog.set_level(logging.INFO)
    # A real, valid token, padded past the header limit.
    token = key.sign("victim", iss=ISSUER, aud=ISSUER, padding="p" * 64 * 1024)
    hits_before = server.hits

    response = await client.get("/api/tasks", headers=bearer(token))

    assert response.status_code == 431
    assert response.json() == {"detail": "Request headers too large"}
    # Refused before authentication ran: no verification, no key fetch, no auth log line.
    assert server.hits == hits_before
    assert not [r for r in caplog.records if getattr(r, "event", None) == "authentication_failed"]


async def test_the_real_token_still_works(
    jwks_client: tuple[httpx.AsyncClient, SigningKey, JWKSServer],
) -> None:
    client, key, _ = jwks_client

    response = await client.get("/api/tasks", headers=signed(key))

    assert response.status_code == 200
