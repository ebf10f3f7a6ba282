"""The strict token profile: only access tokens meant for this API, with bounded lifetimes, and
any malformed token a logged 401 (never a 500)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SECRET, IsolatedSettings, serving
from tests.keys import SigningKey, new_key, serve_jwks
from tests.test_cli import run
from todo_api.config import ConfigError, load_settings
from todo_api.tokens import InvalidToken, JWKSCache, TokenVerifier, VerifiedTokenCache

DAY = 24 * 3600


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A token with exactly this header and payload, correctly signed with the test secret."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    mac = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def now() -> int:
    return int(time.time())


@pytest.fixture
async def better_auth_deployment(
    database_url: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, SigningKey, str]]:
    """Configured as the README says for Better Auth's jwt() plugin: BETTER_AUTH_URL and nothing else."""
    key = new_key("EdDSA", kid="ba-1")
    with serve_jwks(key) as server:
        base_url = server.url.removesuffix("/api/auth/jwks")
        async with serving(database_url, better_auth_secret=None, better_auth_url=base_url) as client:
            yield client, key, base_url


async def status_for(client: httpx.AsyncClient, token: str) -> tuple[int, str]:
    response = await client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()["detail"] if response.status_code != 200 else ""


async def test_better_auth_url_pins_iss_and_aud_to_itself(
    better_auth_deployment: tuple[httpx.AsyncClient, SigningKey, str],
) -> None:
    client, key, base_url = better_auth_deployment

    assert await status_for(client, key.sign(iss=base_url, aud=base_url)) == (200, "")
    assert await status_for(client, key.sign(iss=base_url, aud="third-party-client")) == (
        401,
        "Invalid token: wrong audience",
    )
    assert await status_for(client, key.sign(iss="https://elsewhere.example", aud=base_url)) == (
        401,
        "Invalid token: wrong issuer",
    )
    assert await status_for(client, key.sign()) == (401, "Invalid token: missing claim 'iss'")


@pytest.mark.parametrize(("typ", "accepted"), [("JWT", True), ("at+jwt", True), ("jwt", True)])
async def test_access_token_types_are_accepted(
    better_auth_deployment: tuple[httpx.AsyncClient, SigningKey, str], typ: str, accepted: bool
) -> None:
    client, key, base_url = better_auth_deployment

    token = key.sign(iss=base_url, aud=base_url, headers={"typ": typ})

    assert (await status_for(client, token))[0] == 200


@pytest.mark.parametrize("typ", ["better-auth.session-cache+jwt", "JWE", "", 7, ["JWT"]])
async def test_other_jwts_signed_by_the_same_keys_are_refused(
    better_auth_deployment: tuple[httpx.AsyncClient, SigningKey, str], typ: Any
) -> None:
    client, key, base_url = better_auth_deployment
    payload = {"sub": "alice", "iss": base_url, "aud": base_url, "iat": now(), "exp": now() + 600}
    # PyJWT checks only its own header fields, so the header is written out as an attacker would.
    header = {"alg": "EdDSA", "kid": key.kid, "typ": typ}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    token = f"{signing_input}.{b64(key.private_key.sign(signing_input.encode()))}"

    assert await status_for(client, token) == (401, "Invalid token: not an access token")


@pytest.mark.parametrize(
    "header",
    [{"alg": ["HS256"]}, {"alg": {"x": 1}}, {"alg": None}, {"alg": 256}, {"alg": "HS256", "kid": {"a": 1}}],
)
async def test_a_malformed_header_is_a_401_not_a_500(
    client: httpx.AsyncClient, header: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = hs256(header, {"sub": "alice", "iat": now(), "exp": now() + 600})

    status, _ = await status_for(client, token)

    assert status == 401
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("times", "reason"),
    [
        ({"exp": "9999999999"}, "'exp' and 'iat' must be whole seconds"),
        ({"exp": 10**30}, "token lifetime too long"),
        ({"exp": 10.5 + 10**9 * 2}, "'exp' and 'iat' must be whole seconds"),
        ({"exp": True}, "token expired"),
        ({"iat": "0"}, "'exp' and 'iat' must be whole seconds"),
        ({"iat": 1.5}, "'exp' and 'iat' must be whole seconds"),
        ({"exp": "+" + str(10**10)}, "'exp' and 'iat' must be whole seconds"),
    ],
)
async def test_times_must_be_whole_seconds_and_bounded(times: dict[str, Any], reason: str) -> None:
    verifier = TokenVerifier(secret=SECRET, jwks=None)
    payload = {"sub": "alice", "iat": now(), "exp": now() + 600} | times

    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(hs256({"alg": "HS256"}, payload))

    assert str(caught.value) == reason


async def test_a_lifetime_over_the_maximum_is_refused_and_the_maximum_itself_is_not() -> None:
    verifier = TokenVerifier(secret=SECRET, jwks=None, max_lifetime=DAY)
    issued = now()

    at_limit = await verifier.verify(
        hs256({"alg": "HS256"}, {"sub": "a", "iat": issued, "exp": issued + DAY})
    )
    with pytest.raises(InvalidToken, match="token lifetime too long"):
        await verifier.verify(hs256({"alg": "HS256"}, {"sub": "a", "iat": issued, "exp": issued + DAY + 1}))
    # With `iat`, from when it was issued, not from now: an hour on, its day and a second is
    # still too long though less than a day is left.
    hour_ago = issued - 3600
    with pytest.raises(InvalidToken, match="token lifetime too long"):
        await verifier.verify(
            hs256({"alg": "HS256"}, {"sub": "a", "iat": hour_ago, "exp": hour_ago + DAY + 1})
        )
    with pytest.raises(InvalidToken, match="token lifetime too long"):
        # Without `iat`, the lifetime left counts.
        await verifier.verify(hs256({"alg": "HS256"}, {"sub": "a", "exp": now() + DAY + 120}))

    assert at_limit.subject == "a"


@pytest.mark.parametrize("sub", [" ", "\t\n", "a\x1bb", "a\u200bb", "\ud800", "\u2028", "x\x7f"])
async def test_a_subject_must_be_visible_and_free_of_control_characters(sub: str) -> None:
    verifier = TokenVerifier(secret=SECRET, jwks=None)

    with pytest.raises(InvalidToken, match="invalid subject"):
        await verifier.verify(hs256({"alg": "HS256"}, {"sub": sub, "iat": now(), "exp": now() + 600}))


async def test_a_cached_token_dies_with_its_signing_key() -> None:
    old, new = new_key("EdDSA", kid="old"), new_key("EdDSA", kid="new")
    with serve_jwks(old, new) as server:
        async with httpx.AsyncClient(timeout=2) as http:
            verifier = TokenVerifier(
                secret=None,
                jwks=JWKSCache(server.url, http, cache_seconds=0, refetch_interval=0),
                cache=VerifiedTokenCache(),
            )
            token = old.sign()
            assert (await verifier.verify(token)).subject == "alice"
            assert (await verifier.verify(token)).key_id == "old"  # served from the cache

            server.publish(new)  # the issuer revokes the old key

            with pytest.raises(InvalidToken, match="unknown signing key"):
                await verifier.verify(token)
            assert (await verifier.verify(new.sign())).subject == "alice"


def test_production_with_a_jwks_url_alone_refuses_to_start() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environment="production", jwks_url="https://keys.example/jwks", _env_file=None)

    message = str(caught.value)
    assert "\n" not in message
    assert "JWT_ISSUER and JWT_AUDIENCE (or BETTER_AUTH_URL" in message


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
HEADER = st.fixed_dictionaries(
    {"alg": st.sampled_from(["HS256", "EdDSA", "none"]) | JSON},
    optional={"typ": st.sampled_from(["JWT", "at+jwt"]) | JSON, "kid": JSON, "crit": JSON, "jku": JSON},
)
PAYLOAD = st.fixed_dictionaries(
    {},
    optional={
        "sub": st.text(max_size=300) | JSON,
        "exp": st.integers(min_value=0, max_value=2 * 10**10) | JSON,
        "iat": st.integers(min_value=0, max_value=2 * 10**10) | JSON,
        "nbf": JSON,
        "iss": JSON,
        "aud": JSON,
    },
)


@pytest.fixture
async def unthrottled_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # Hundreds of failures from one address: past its budget they would be 429s, which is
    # another test's subject (tests/test_auth.py); here every answer must be the verifier's.
    async with serving(database_url) as client:
        yield client


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=HEADER, payload=PAYLOAD)
async def test_any_json_in_a_signed_token_is_a_logged_401_or_a_valid_user(
    unthrottled_client: httpx.AsyncClient, header: dict[str, Any], payload: dict[str, Any]
) -> None:
    handler = CapturedRecords()
    logging.getLogger().addHandler(handler)
    try:
        response = await unthrottled_client.get(
            "/api/tasks", headers={"Authorization": f"Bearer {hs256(header, payload)}"}
        )
    finally:
        logging.getLogger().removeHandler(handler)

    assert response.status_code in (200, 401), response.text
    events = [getattr(record, "event", None) for record in handler.records]
    assert "unhandled_error" not in events
    if response.status_code == 401:
        assert events.count("authentication_failed") == 1


class CapturedRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_hs256_tokens_are_not_pinned_to_better_auth_url_unless_asked(database_url: str) -> None:
    # The secret is this deployment's own; a route that mints HS256 tokens may leave iss/aud out.
    key = new_key("EdDSA", kid="ba-1")
    with serve_jwks(key) as server:
        base_url = server.url.removesuffix("/api/auth/jwks")
        async with serving(database_url, better_auth_url=base_url) as client:
            plain = hs256({"alg": "HS256", "typ": "JWT"}, {"sub": "a", "iat": now(), "exp": now() + 60})
            foreign_aud = key.sign(iss=base_url, aud="third-party-client")

            assert await status_for(client, plain) == (200, "")
            assert await status_for(client, foreign_aud) == (401, "Invalid token: wrong audience")


def test_explicit_issuer_and_audience_win_over_better_auth_url() -> None:
    derived = IsolatedSettings(better_auth_url="https://app.example/")
    explicit = IsolatedSettings(better_auth_url="https://app.example", jwt_issuer="i", jwt_audience="a")

    assert (derived.jwks_issuer, derived.jwks_audience) == ("https://app.example", "https://app.example")
    assert (derived.jwt_issuer, derived.jwt_audience) == (None, None)
    assert (explicit.jwks_issuer, explicit.jwks_audience) == ("i", "a")


def test_the_token_command_refuses_a_lifetime_the_service_would_refuse(tmp_path: Path) -> None:
    result = run("token", "alice", "--ttl", str(DAY + 1), cwd=tmp_path, BETTER_AUTH_SECRET=SECRET)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"todo-api: --ttl {DAY + 1} is over TOKEN_MAX_LIFETIME ({DAY} s), "
        "so the service would refuse the token"
    )
