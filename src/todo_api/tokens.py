"""Bearer token verification: HS256 with the shared secret, or a Better Auth key by `kid`.

Framework-free on purpose: it takes a token string and returns the verified subject or
raises, so it can be tested and reused without HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

logger = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 8 * 1024
MAX_SUBJECT_LENGTH = 255
CLOCK_LEEWAY_SECONDS = 30
SYMMETRIC_ALGORITHM = "HS256"
# Algorithms Better Auth can sign with. A JWKS key is only ever used with its own one.
ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "ES256", "ES512", "RS256", "PS256"})


class InvalidToken(Exception):
    """The token is not acceptable; the message is safe to show the client."""


class KeysUnavailable(Exception):
    """The token names a key we do not have and the JWKS endpoint cannot be reached."""


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str
    expires_at: float


class JWKSCache:
    """Better Auth's public keys by `kid`: fetched without blocking, cached, refetched on demand.

    An unknown `kid` triggers a refetch (key rotation), but at most once per
    `refetch_interval`, so a flood of forged `kid`s cannot turn into a flood of requests.
    """

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        cache_seconds: float = 300.0,
        refetch_interval: float = 10.0,
    ) -> None:
        self.url = url
        self._http = http
        self._cache_seconds = cache_seconds
        self._refetch_interval = refetch_interval
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_fetch_failed = False
        self._lock = asyncio.Lock()

    async def get_key(self, kid: str) -> jwt.PyJWK:
        """The key with this `kid`, refreshing the set when it is stale or lacks the kid."""
        key = self._keys.get(kid)
        if key is not None and not self._is_stale():
            return key
        await self._refresh()
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._last_fetch_failed:
            raise KeysUnavailable("signing keys are unavailable")
        raise InvalidToken("unknown signing key")

    def _is_stale(self) -> bool:
        return self._fetched_at is None or time.monotonic() - self._fetched_at > self._cache_seconds

    async def _refresh(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._attempted_at is not None and now - self._attempted_at < self._refetch_interval:
                return
            self._attempted_at = now
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                # Keys already cached stay usable: an issuer outage must not log everyone out.
                self._last_fetch_failed = True
                logger.warning(
                    "could not fetch signing keys",
                    extra={"event": "jwks_fetch_failed", "jwks_url": self.url, "error": type(exc).__name__},
                )
                return
            self._keys = keys
            self._fetched_at = now
            self._last_fetch_failed = False

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        response = await self._http.get(self.url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("JWKS document has no 'keys' list")
        return _usable_keys(document["keys"])


def _usable_keys(entries: list[Any]) -> dict[str, jwt.PyJWK]:
    """Public signing keys with a kid; a key we cannot use is skipped, not fatal."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig" or "d" in entry:
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue
        # A symmetric ("oct") key in a public document would let anyone forge tokens.
        if key.algorithm_name in ASYMMETRIC_ALGORITHMS:
            keys[entry["kid"]] = key
    return keys


class VerifiedTokenCache:
    """Tokens already verified, until they expire: a repeat request skips the signature check.

    Keyed by a digest, so a cache full of 8 KiB tokens stays small; bounded, so a flood of
    distinct valid tokens cannot grow it without limit (the oldest entries are evicted).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max_entries = max_entries
        self._entries: dict[bytes, VerifiedToken] = {}

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.blake2b(token.encode(), digest_size=16).digest()

    def get(self, key: bytes) -> VerifiedToken | None:
        return self._entries.get(key)

    def put(self, key: bytes, verified: VerifiedToken) -> None:
        if len(self._entries) >= self._max_entries:
            # dicts keep insertion order: drop the oldest tenth in one go.
            for stale in list(self._entries)[: max(1, self._max_entries // 10)]:
                del self._entries[stale]
        self._entries[key] = verified

    def discard(self, key: bytes) -> None:
        self._entries.pop(key, None)


class TokenVerifier:
    """Verify bearer tokens against the configured secret and/or JWKS."""

    def __init__(
        self,
        *,
        secret: str | None,
        jwks: JWKSCache | None,
        issuer: str | None = None,
        audience: str | None = None,
        cache: VerifiedTokenCache | None = None,
    ) -> None:
        if secret is None and jwks is None:
            raise ValueError("a secret or a JWKS is needed to verify tokens")
        self._cache = cache
        self._secret = secret
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience

    async def verify(self, token: str) -> VerifiedToken:
        """Return the token's subject and expiry, or raise InvalidToken / KeysUnavailable."""
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too large")
        if self._cache is None:
            return await self._verify(token)
        key = self._cache.key(token)
        cached = self._cache.get(key)
        if cached is not None:
            # A cached token is only as good as its expiry, checked with the same leeway.
            if time.time() <= cached.expires_at + CLOCK_LEEWAY_SECONDS:
                return cached
            self._cache.discard(key)
            raise InvalidToken("token expired")
        verified = await self._verify(token)
        self._cache.put(key, verified)
        return verified

    async def _verify(self, token: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise InvalidToken("malformed token") from None
        except jwt.PyJWTError:
            # Well-formed but unacceptable: an unknown `crit` extension, a non-string `kid`...
            raise InvalidToken("unsupported token header") from None
        key, algorithm = await self._key_for(header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self._issuer,
                audience=self._audience,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token not yet valid") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("invalid signature") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"missing claim '{exc.claim}'") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("wrong issuer") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("wrong audience") from None
        except jwt.exceptions.InvalidSubjectError:
            raise InvalidToken("subject must be a string") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid token") from None
        return VerifiedToken(subject=_check_subject(claims["sub"]), expires_at=float(claims["exp"]))

    async def _key_for(self, header: dict[str, Any]) -> tuple[Any, str]:
        algorithm = header.get("alg")
        if algorithm == SYMMETRIC_ALGORITHM and self._secret is not None:
            return self._secret, algorithm
        if algorithm in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise InvalidToken("missing key id")
            key = await self._jwks.get_key(kid)
            # The key decides the algorithm; a header claiming another one is refused.
            if key.algorithm_name != algorithm:
                raise InvalidToken("algorithm does not match key")
            return key, algorithm
        raise InvalidToken("algorithm not allowed")


def _check_subject(subject: str) -> str:
    if not subject:
        raise InvalidToken("empty subject")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidToken("subject too long")
    if "\x00" in subject:
        raise InvalidToken("invalid subject")
    return subject


def create_token(subject: str, secret: str, *, ttl_seconds: int = 3600, **claims: Any) -> str:
    """Sign an HS256 token for `subject`, as the `token` command and the tests do."""
    now = int(time.time())
    payload = {"sub": subject, "iat": now, "exp": now + ttl_seconds, **claims}
    return jwt.encode(payload, secret, algorithm=SYMMETRIC_ALGORITHM)
