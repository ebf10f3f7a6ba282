"""Bearer token verification: HS256 with the shared secret, or a Better Auth key by `kid`,
held to one strict profile (see SECURITY.md's token table).

Framework-free on purpose: it takes a token string and returns the verified subject or
raises, so it can be tested and reused without HTTP.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import jwt

from todo_api.jwks import ASYMMETRIC_ALGORITHMS, InvalidToken, JWKSCache, KeySetCache, KeysUnavailable

MAX_TOKEN_BYTES = 8 * 1024
MAX_SUBJECT_LENGTH = 255
CLOCK_LEEWAY_SECONDS = 30
SYMMETRIC_ALGORITHM = "HS256"
DEFAULT_MAX_LIFETIME_SECONDS = 24 * 3600
# `typ` values of a token meant as an access token (compared case-insensitively, RFC 7515
# §4.1.9); Better Auth's other JWTs signed with the same keys, such as its session-cache
# cookie, name themselves otherwise.
ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt"})

__all__ = [
    "InvalidToken",
    "JWKSCache",
    "KeySetCache",
    "KeysUnavailable",
    "TokenVerifier",
    "VerifiedToken",
    "VerifiedTokenCache",
    "create_token",
]


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str
    expires_at: float
    # The JWKS key that signed it (None for HS256), so a cached token dies with its key.
    key_id: str | None = None


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
    """Verify bearer tokens against the configured secret and/or a key set (Better Auth's
    JWKS endpoint, or the built-in sign-in's own keys read from the database).

    `issuer` and `audience` apply to every token; `jwks_issuer` and `jwks_audience` (by
    default the same) to tokens signed by a JWKS key, which Better Auth also uses for JWTs
    that are not meant for this API.
    """

    def __init__(
        self,
        *,
        secret: str | None,
        jwks: KeySetCache | None,
        issuer: str | None = None,
        audience: str | None = None,
        jwks_issuer: str | None = None,
        jwks_audience: str | None = None,
        max_lifetime: float = DEFAULT_MAX_LIFETIME_SECONDS,
        cache: VerifiedTokenCache | None = None,
    ) -> None:
        if secret is None and jwks is None:
            raise ValueError("a secret or a JWKS is needed to verify tokens")
        self._cache = cache
        self._secret = secret
        self._jwks = jwks
        self._expected = {
            SYMMETRIC_ALGORITHM: (issuer, audience),
            "jwks": (jwks_issuer or issuer, jwks_audience or audience),
        }
        self._max_lifetime = max_lifetime

    async def verify(self, token: str) -> VerifiedToken:
        """Return the token's subject and expiry, or raise InvalidToken / KeysUnavailable."""
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too large")
        if self._cache is None:
            return await self._verify(token)
        key = self._cache.key(token)
        cached = self._cache.get(key)
        if cached is None:
            verified = await self._verify(token)
            self._cache.put(key, verified)
            return verified
        try:
            # A cached token is only as good as its expiry (checked with the same leeway, and
            # refused from exp + leeway on, as PyJWT refuses it) and its signing key: once a
            # refresh of the key set drops the key, the token is refused.
            if time.time() >= cached.expires_at + CLOCK_LEEWAY_SECONDS:
                raise InvalidToken("token expired")
            if cached.key_id is not None and self._jwks is not None:
                await self._jwks.get_key(cached.key_id)
        except InvalidToken:
            self._cache.discard(key)
            raise
        return cached

    async def _verify(self, token: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise InvalidToken("malformed token") from None
        except jwt.PyJWTError:
            # Well-formed but unacceptable: an unknown `crit` extension, a non-string `kid`...
            raise InvalidToken("unsupported token header") from None
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES):
            raise InvalidToken("not an access token")
        key, algorithm, key_id = await self._key_for(header)
        issuer, audience = self._expected[SYMMETRIC_ALGORITHM if key_id is None else "jwks"]
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=issuer,
                audience=audience,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["exp", "sub"], "verify_aud": audience is not None},
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
        expires_at = self._check_lifetime(claims)
        return VerifiedToken(subject=_check_subject(claims["sub"]), expires_at=expires_at, key_id=key_id)

    def _check_lifetime(self, claims: dict[str, Any]) -> float:
        """`exp` (and `iat`, if sent) as whole seconds, at most `max_lifetime` apart."""
        expires_at, issued_at = claims["exp"], claims.get("iat")
        # PyJWT takes "123" or 1.5 for a time; a token of ours never carries either.
        if type(expires_at) is not int or (issued_at is not None and type(issued_at) is not int):
            raise InvalidToken("'exp' and 'iat' must be whole seconds")
        start = issued_at if issued_at is not None else time.time()
        if expires_at - start > self._max_lifetime:
            raise InvalidToken("token lifetime too long")
        return float(expires_at)

    async def _key_for(self, header: dict[str, Any]) -> tuple[Any, str, str | None]:
        """The key, its algorithm and (for a JWKS key) its id."""
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):
            raise InvalidToken("algorithm not allowed")
        if algorithm == SYMMETRIC_ALGORITHM and self._secret is not None:
            return self._secret, algorithm, None
        if algorithm in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise InvalidToken("missing key id")
            key = await self._jwks.get_key(kid)
            # The key decides the algorithm; a header claiming another one is refused.
            if key.algorithm_name != algorithm:
                raise InvalidToken("algorithm does not match key")
            return key, algorithm, kid
        raise InvalidToken("algorithm not allowed")


def _check_subject(subject: str) -> str:
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidToken("subject too long")
    if not subject:
        raise InvalidToken("empty subject")
    # A user id someone can see: no control, format or surrogate character (which could forge a
    # log line, hide in a path, or fail to encode for the database), and not only spaces.
    if subject.isspace() or any(unicodedata.category(character)[0] == "C" for character in subject):
        raise InvalidToken("invalid subject")
    return subject


def create_token(subject: str, secret: str, *, ttl_seconds: int = 3600, **claims: Any) -> str:
    """Sign an HS256 token for `subject`, as the `token` command and the tests do."""
    now = int(time.time())
    payload = {"sub": subject, "iat": now, "exp": now + ttl_seconds, **claims}
    return jwt.encode(payload, secret, algorithm=SYMMETRIC_ALGORITHM)
