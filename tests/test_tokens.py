"""Token verification without HTTP: algorithms, claims, JWKS caching and rotation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import SECRET
from tests.keys import new_key, serve_jwks
from todo_api import tokens
from todo_api.tokens import (
    InvalidToken,
    JWKSCache,
    KeysUnavailable,
    TokenVerifier,
    VerifiedToken,
    VerifiedTokenCache,
    create_token,
)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2) as client:
        yield client


def hs256_verifier(**kwargs: Any) -> TokenVerifier:
    return TokenVerifier(secret=SECRET, jwks=None, **kwargs)


def b64(part: bytes) -> str:
    return base64.urlsafe_b64encode(part).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)])


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "iat": now, "exp": now + 600} | overrides


async def rejects(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    return str(caught.value)


async def test_valid_hs256_token_gives_its_subject() -> None:
    verified = await hs256_verifier().verify(create_token("alice", SECRET))

    assert verified.subject == "alice"
    assert verified.expires_at > time.time()


async def test_wrong_secret_is_rejected() -> None:
    token = create_token("alice", "another-secret-that-is-long-enough-000")

    assert await rejects(hs256_verifier(), token) == "invalid signature"


async def test_tampered_payload_is_rejected() -> None:
    header, _, signature = create_token("alice", SECRET).split(".")
    forged_payload = unsigned({}, claims(sub="bob")).split(".")[1]

    assert await rejects(hs256_verifier(), f"{header}.{forged_payload}.{signature}") == "invalid signature"


@pytest.mark.parametrize("header", [{"alg": "none"}, {"alg": None}, {"alg": 256}, {}])
async def test_alg_none_or_no_alg_is_rejected(header: dict[str, Any]) -> None:
    token = unsigned(header | {"typ": "JWT"}, claims())

    assert await rejects(hs256_verifier(), token) == "algorithm not allowed"


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_other_hmac_algorithms_are_rejected_even_with_the_right_secret(algorithm: str) -> None:
    token = jwt.encode(claims(), SECRET, algorithm=algorithm)

    assert await rejects(hs256_verifier(), token) == "algorithm not allowed"


async def test_expired_token_is_rejected() -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 60), SECRET, algorithm="HS256")

    assert await rejects(hs256_verifier(), token) == "token expired"


async def test_expiry_within_the_leeway_is_accepted() -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 10), SECRET, algorithm="HS256")

    assert (await hs256_verifier().verify(token)).subject == "alice"


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_not_yet_valid_token_is_rejected(claim: str) -> None:
    token = jwt.encode(claims(**{claim: int(time.time()) + 120}), SECRET, algorithm="HS256")

    assert await rejects(hs256_verifier(), token) == "token not yet valid"


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_small_clock_skew_is_tolerated(claim: str) -> None:
    token = jwt.encode(claims(**{claim: int(time.time()) + 20}), SECRET, algorithm="HS256")

    assert (await hs256_verifier().verify(token)).subject == "alice"


@pytest.mark.parametrize("missing", ["sub", "exp"])
async def test_required_claims(missing: str) -> None:
    payload = claims()
    del payload[missing]

    assert await rejects(hs256_verifier(), jwt.encode(payload, SECRET, algorithm="HS256")) == (
        f"missing claim '{missing}'"
    )


@pytest.mark.parametrize(
    ("sub", "reason"),
    [
        ("", "empty subject"),
        (42, "subject must be a string"),
        (None, "missing claim 'sub'"),
        (["alice"], "subject must be a string"),
        ("x" * 256, "subject too long"),
        ("x" * 10_000, "token too large"),
        ("a\x00b", "invalid subject"),
    ],
)
async def test_bad_subjects_are_rejected(sub: Any, reason: str) -> None:
    token = jwt.encode(claims(sub=sub), SECRET, algorithm="HS256")

    assert await rejects(hs256_verifier(), token) == reason


async def test_subject_of_255_characters_is_accepted() -> None:
    token = create_token("x" * 255, SECRET)

    assert (await hs256_verifier().verify(token)).subject == "x" * 255


def token_of_length(length: int) -> str:
    """A valid HS256 token exactly `length` characters long (padded with a claim, and a header
    field where base64 cannot land on the length)."""
    for extra in range(4):
        headers = {"x": "y" * extra} if extra else None
        for pad in range(length):
            token = jwt.encode(claims(pad="x" * pad), SECRET, algorithm="HS256", headers=headers)
            if len(token) >= length:
                break
        if len(token) == length:
            return token
    raise AssertionError(f"no token of {length} characters")


async def test_a_token_of_exactly_8_kib_is_verified() -> None:
    token = token_of_length(8 * 1024)

    assert (await hs256_verifier().verify(token)).subject == "alice"


async def test_token_over_8_kib_is_rejected_before_decoding() -> None:
    token = "a" * (8 * 1024 + 1)

    assert await rejects(hs256_verifier(), token) == "token too large"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "...", "eyJhbGciOiJIUzI1NiJ9"])
async def test_malformed_tokens_are_rejected(token: str) -> None:
    assert await rejects(hs256_verifier(), token) == "malformed token"


def signed_hs256(header: bytes, payload: bytes) -> str:
    """A token with exactly these header and payload bytes, correctly signed with the test secret."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    mac = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'["alice"]',
        json.dumps(claims(nbf="soon")).encode(),
        json.dumps(claims(iat="today")).encode(),
    ],
)
async def test_a_correctly_signed_token_with_unreadable_claims_is_an_invalid_token(payload: bytes) -> None:
    assert await rejects(hs256_verifier(), signed_hs256(b'{"alg":"HS256"}', payload)) == "invalid token"


async def test_unknown_critical_header_is_rejected() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256", headers={"crit": ["exp-ext"], "exp-ext": 1})

    assert await rejects(hs256_verifier(), token) == "unsupported token header"


async def test_issuer_and_audience_must_match_when_configured() -> None:
    verifier = hs256_verifier(issuer="https://app.example", audience="https://app.example")
    good = create_token("alice", SECRET, iss="https://app.example", aud="https://app.example")

    assert (await verifier.verify(good)).subject == "alice"
    assert (
        await rejects(
            verifier, create_token("a", SECRET, iss="https://evil.example", aud="https://app.example")
        )
        == "wrong issuer"
    )
    assert (
        await rejects(
            verifier, create_token("a", SECRET, iss="https://app.example", aud="https://evil.example")
        )
        == "wrong audience"
    )
    assert (
        await rejects(verifier, create_token("a", SECRET, aud="https://app.example")) == "missing claim 'iss'"
    )


def test_a_verifier_needs_a_secret_or_a_key_set() -> None:
    with pytest.raises(ValueError, match=r"^a secret or a JWKS is needed to verify tokens$"):
        TokenVerifier(secret=None, jwks=None)


async def test_key_set_tokens_are_held_to_the_issuer_and_audience_unless_given_their_own(
    http: httpx.AsyncClient,
) -> None:
    key = new_key("EdDSA", kid="k")
    app, auth = (
        {"iss": "https://app.example", "aud": "api"},
        {"iss": "https://auth.example", "aud": "auth-api"},
    )
    with serve_jwks(key) as server:
        shared = TokenVerifier(
            secret=SECRET, jwks=JWKSCache(server.url, http), issuer=app["iss"], audience=app["aud"]
        )
        apart = TokenVerifier(
            secret=SECRET,
            jwks=JWKSCache(server.url, http),
            issuer=app["iss"],
            audience=app["aud"],
            jwks_issuer=auth["iss"],
            jwks_audience=auth["aud"],
        )

        assert (await shared.verify(key.sign(**app))).subject == "alice"
        assert await rejects(shared, key.sign(**app | {"iss": auth["iss"]})) == "wrong issuer"
        assert await rejects(shared, key.sign(**app | {"aud": auth["aud"]})) == "wrong audience"

        assert (await apart.verify(key.sign(**auth))).subject == "alice"
        assert await rejects(apart, key.sign(**auth | {"iss": app["iss"]})) == "wrong issuer"
        assert await rejects(apart, key.sign(**auth | {"aud": app["aud"]})) == "wrong audience"
        assert (await apart.verify(create_token("bob", SECRET, **app))).subject == "bob"
        assert await rejects(apart, create_token("bob", SECRET, **auth)) == "wrong issuer"


async def test_audience_is_ignored_when_not_configured() -> None:
    token = create_token("alice", SECRET, aud="https://app.example")

    assert (await hs256_verifier().verify(token)).subject == "alice"


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "ES512", "RS256", "PS256"])
async def test_jwks_tokens_verify_with_their_keys_own_algorithm(
    http: httpx.AsyncClient, algorithm: str
) -> None:
    key = new_key(algorithm)
    with serve_jwks(key) as server:
        verifier = TokenVerifier(secret=None, jwks=JWKSCache(server.url, http))

        verified = await verifier.verify(key.sign("user-123"))

    assert verified.subject == "user-123"


async def test_header_algorithm_must_match_the_keys(http: httpx.AsyncClient) -> None:
    rsa_key = new_key("RS256", kid="k1")
    token = jwt.encode(claims(), rsa_key.private_key, algorithm="PS256", headers={"kid": "k1"})
    with serve_jwks(rsa_key) as server:
        verifier = TokenVerifier(secret=None, jwks=JWKSCache(server.url, http))

        assert await rejects(verifier, token) == "algorithm does not match key"


async def test_hs256_signed_with_the_public_key_is_rejected(http: httpx.AsyncClient) -> None:
    key = new_key("EdDSA", kid="k1")
    # PyJWT refuses to sign like this, so forge it by hand as an attacker would.
    signing_input = unsigned({"alg": "HS256", "kid": "k1"}, claims()).rsplit(".", 1)[0]
    public_bytes = json.dumps(key.public_jwk()).encode()
    mac = hmac.new(public_bytes, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(mac)}"
    with serve_jwks(key) as server:
        jwks_only = TokenVerifier(secret=None, jwks=JWKSCache(server.url, http))
        both = TokenVerifier(secret=SECRET, jwks=JWKSCache(server.url, http))

        assert await rejects(jwks_only, forged) == "algorithm not allowed"
        assert await rejects(both, forged) == "invalid signature"


async def test_symmetric_keys_in_a_jwks_are_never_used(http: httpx.AsyncClient) -> None:
    shared_secret = b"k" * 32
    oct_key = {"kty": "oct", "kid": "shared", "alg": "HS256", "k": b64(shared_secret)}
    real = new_key("EdDSA", kid="real")
    # The header names an algorithm the verifier sends to the JWKS, so the allow-list lets it
    # through; were the oct key kept, the algorithm check would be the next (and last) stop.
    signing_input = unsigned({"alg": "EdDSA", "kid": "shared"}, claims()).rsplit(".", 1)[0]
    mac = hmac.new(shared_secret, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(mac)}"
    with serve_jwks(real) as server:
        server.document = {"keys": [oct_key, real.public_jwk()]}
        jwks = JWKSCache(server.url, http)
        verifier = TokenVerifier(secret=None, jwks=jwks)

        assert await rejects(verifier, forged) == "unknown signing key"
        # An HS256 header never reaches the JWKS at all; the cache itself must not hold the key.
        with pytest.raises(InvalidToken, match="unknown signing key"):
            await jwks.get_key("shared")
        assert (await jwks.get_key("real")).algorithm_name == "EdDSA"
        assert server.hits == 1


async def test_unknown_kid_is_rejected_and_refetches_are_rate_limited(http: httpx.AsyncClient) -> None:
    key = new_key("EdDSA", kid="known")
    stranger = new_key("EdDSA", kid="unknown")
    with serve_jwks(key) as server:
        verifier = TokenVerifier(secret=None, jwks=JWKSCache(server.url, http, refetch_interval=60))
        await verifier.verify(key.sign())

        for _ in range(20):
            assert await rejects(verifier, stranger.sign()) == "unknown signing key"

        assert server.hits == 1


async def test_rotated_key_is_picked_up_and_old_tokens_keep_working(http: httpx.AsyncClient) -> None:
    old = new_key("EdDSA", kid="2026-01")
    new = new_key("EdDSA", kid="2026-02")
    with serve_jwks(old) as server:
        verifier = TokenVerifier(secret=None, jwks=JWKSCache(server.url, http, refetch_interval=0))
        old_token = old.sign("alice")
        await verifier.verify(old_token)

        server.publish(old, new)

        assert (await verifier.verify(new.sign("bob"))).subject == "bob"
        assert (await verifier.verify(old_token)).subject == "alice"


async def test_a_withdrawn_key_stops_working_once_the_keys_are_refetched(http: httpx.AsyncClient) -> None:
    old = new_key("EdDSA", kid="2026-01")
    new = new_key("EdDSA", kid="2026-02")
    with serve_jwks(old, new) as server:
        # No token cache and no key cache: every verification sees the published set.
        verifier = TokenVerifier(
            secret=None, jwks=JWKSCache(server.url, http, cache_seconds=0, refetch_interval=0)
        )
        assert (await verifier.verify(old.sign("alice"))).subject == "alice"

        server.publish(new)

        assert await rejects(verifier, old.sign("alice", ttl_seconds=900)) == "unknown signing key"
        assert (await verifier.verify(new.sign("bob"))).subject == "bob"


@pytest.mark.parametrize(
    ("kid", "reason", "fetches"),
    [
        ("../../etc/passwd", "unknown signing key", 1),
        ("a/b\\c", "unknown signing key", 1),
        # An empty or absent kid names no key: refused before the key set is fetched.
        ("", "missing key id", 0),
        (None, "missing key id", 0),
        (7, "unsupported token header", 0),
    ],
)
async def test_odd_kids_are_rejected_without_fetching_files(
    http: httpx.AsyncClient, kid: Any, reason: str, fetches: int
) -> None:
    key = new_key("EdDSA", kid="real")
    header = {"alg": "EdDSA"} | ({} if kid is None else {"kid": kid})
    token = unsigned(header, claims(), signature=b"x" * 64)
    with serve_jwks(key) as server:
        verifier = TokenVerifier(secret=None, jwks=JWKSCache(server.url, http))

        assert await rejects(verifier, token) == reason
        assert server.hits == fetches


async def test_jku_and_x5u_headers_are_never_followed(http: httpx.AsyncClient) -> None:
    attacker = new_key("EdDSA", kid="evil")
    with serve_jwks(attacker) as attacker_server, serve_jwks(new_key("EdDSA", kid="real")) as server:
        token = attacker.sign(headers={"jku": attacker_server.url, "x5u": attacker_server.url})
        verifier = TokenVerifier(secret=None, jwks=JWKSCache(server.url, http))

        assert await rejects(verifier, token) == "unknown signing key"
        assert attacker_server.hits == 0


async def test_unreachable_jwks_with_no_cached_key_is_unavailable(http: httpx.AsyncClient) -> None:
    key = new_key("EdDSA")
    with serve_jwks(key) as server:
        url = server.url
    verifier = TokenVerifier(secret=None, jwks=JWKSCache(url, http))

    with pytest.raises(KeysUnavailable):
        await verifier.verify(key.sign())


async def test_cached_keys_survive_an_issuer_outage(http: httpx.AsyncClient) -> None:
    key = new_key("EdDSA")
    with serve_jwks(key) as server:
        verifier = TokenVerifier(
            secret=None, jwks=JWKSCache(server.url, http, cache_seconds=0, refetch_interval=0)
        )
        await verifier.verify(key.sign())
        server.status = 500

        assert (await verifier.verify(key.sign("bob"))).subject == "bob"


async def test_hs256_and_jwks_can_be_used_together(http: httpx.AsyncClient) -> None:
    key = new_key("ES256")
    with serve_jwks(key) as server:
        verifier = TokenVerifier(secret=SECRET, jwks=JWKSCache(server.url, http))

        assert (await verifier.verify(key.sign("from-jwks"))).subject == "from-jwks"
        assert (await verifier.verify(create_token("from-secret", SECRET))).subject == "from-secret"


async def test_hs256_is_refused_when_only_jwks_is_configured(http: httpx.AsyncClient) -> None:
    with serve_jwks(new_key()) as server:
        verifier = TokenVerifier(secret=None, jwks=JWKSCache(server.url, http))

        assert await rejects(verifier, create_token("alice", SECRET)) == "algorithm not allowed"


async def test_cached_token_is_still_rejected_once_expired() -> None:
    cache = VerifiedTokenCache()
    verifier = TokenVerifier(secret=SECRET, jwks=None, cache=cache)
    token = jwt.encode(claims(exp=int(time.time()) - 25), SECRET, algorithm="HS256")  # within leeway
    assert (await verifier.verify(token)).subject == "alice"

    # Time passes: the cached entry is now past its expiry plus leeway.
    cache.put(cache.key(token), VerifiedToken(subject="alice", expires_at=time.time() - 31))

    assert await rejects(verifier, token) == "token expired"
    assert cache.get(cache.key(token)) is None


async def test_concurrent_requests_with_a_cached_token_whose_key_was_withdrawn_are_both_refused(
    http: httpx.AsyncClient,
) -> None:
    old = new_key("EdDSA", kid="2026-01")
    new = new_key("EdDSA", kid="2026-02")
    with serve_jwks(old, new) as server:
        cache = VerifiedTokenCache()
        jwks = JWKSCache(server.url, http, cache_seconds=0, refetch_interval=0)
        verifier = TokenVerifier(secret=None, jwks=jwks, cache=cache)
        token = old.sign("alice")
        assert (await verifier.verify(token)).subject == "alice"

        server.publish(new)
        # Both find the token cached, then wait on the key set's refresh: the first to learn the
        # key is gone drops the entry, and the second finds it already dropped.
        answers = await asyncio.gather(verifier.verify(token), verifier.verify(token), return_exceptions=True)

    assert [(type(answer), str(answer)) for answer in answers] == [(InvalidToken, "unknown signing key")] * 2
    assert cache.get(cache.key(token)) is None


async def test_a_cached_hs256_token_never_reaches_the_key_set(http: httpx.AsyncClient) -> None:
    with serve_jwks(new_key("EdDSA", kid="k")) as server:
        verifier = TokenVerifier(secret=SECRET, jwks=JWKSCache(server.url, http), cache=VerifiedTokenCache())
        token = create_token("alice", SECRET)

        answers = [await verifier.verify(token) for _ in range(2)]

        assert [(answer.subject, answer.key_id) for answer in answers] == [("alice", None)] * 2
        assert server.hits == 0


@pytest.mark.parametrize(
    ("seconds_past_expiry", "accepted"),
    [(-600, True), (-1, True), (29, True), (29.5, True), (30, False), (31, False)],
)
async def test_a_cached_token_is_given_the_same_leeway_as_a_fresh_one(
    monkeypatch: pytest.MonkeyPatch, seconds_past_expiry: float, accepted: bool
) -> None:
    cache = VerifiedTokenCache()
    verifier = TokenVerifier(secret=SECRET, jwks=None, cache=cache)
    token = create_token("alice", SECRET)
    expires_at = 1_900_000_000.0
    cache.put(cache.key(token), VerifiedToken(subject="alice", expires_at=expires_at))
    # The verifier's clock, set: PyJWT refuses a fresh token from exp + leeway on, to the second.
    monkeypatch.setattr(tokens, "time", SimpleNamespace(time=lambda: expires_at + seconds_past_expiry))

    if accepted:
        assert (await verifier.verify(token)).subject == "alice"
    else:
        assert await rejects(verifier, token) == "token expired"


async def test_cache_only_holds_verified_tokens() -> None:
    cache = VerifiedTokenCache()
    verifier = TokenVerifier(secret=SECRET, jwks=None, cache=cache)
    forged = create_token("alice", "wrong-secret-" + "x" * 40)

    for _ in range(2):
        assert await rejects(verifier, forged) == "invalid signature"
    assert cache.get(cache.key(forged)) is None


async def test_cache_is_bounded() -> None:
    cache = VerifiedTokenCache(max_entries=50)
    verifier = TokenVerifier(secret=SECRET, jwks=None, cache=cache)

    tokens = [create_token(f"user-{index}", SECRET) for index in range(200)]
    for token in tokens:
        await verifier.verify(token)

    cached = [token for token in tokens if cache.get(cache.key(token)) is not None]
    assert 0 < len(cached) <= 50
    assert tokens[-1] in cached  # the oldest go first
    assert (await verifier.verify(tokens[0])).subject == "user-0"  # and verify again when asked


@pytest.mark.parametrize(("max_entries", "dropped"), [(5, 1), (10, 1), (20, 2), (30, 3), (None, 1_000)])
def test_a_full_cache_drops_its_oldest_tenth_and_at_least_one_entry(
    max_entries: int | None, dropped: int
) -> None:
    # None: the default, 10,000 tokens.
    cache = VerifiedTokenCache() if max_entries is None else VerifiedTokenCache(max_entries=max_entries)
    capacity = max_entries or 10_000
    keys = [cache.key(f"token-{index}") for index in range(capacity + 1)]

    for index, key in enumerate(keys):
        cache.put(key, VerifiedToken(subject=f"user-{index}", expires_at=time.time() + 600))

    kept = [index for index, key in enumerate(keys) if cache.get(key) is not None]
    assert kept == list(range(dropped, capacity + 1))


def test_create_token_signs_the_subject_its_lifetime_and_extra_claims_with_hs256() -> None:
    before = int(time.time())
    token = create_token("alice", SECRET, ttl_seconds=90, aud="api")
    after = int(time.time())

    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    payload = jwt.decode(token, SECRET, algorithms=["HS256"], audience="api")
    assert set(payload) == {"sub", "iat", "exp", "aud"}
    assert (payload["sub"], payload["aud"], payload["exp"] - payload["iat"]) == ("alice", "api", 90)
    assert before <= payload["iat"] <= after
    default = jwt.decode(create_token("bob", SECRET), SECRET, algorithms=["HS256"])
    assert default["exp"] - default["iat"] == 3600
