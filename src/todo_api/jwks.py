"""Better Auth's public signing keys: fetched from its JWKS endpoint (or, with the built-in
sign-in, read from the `jwks` table) without blocking, cached by `kid`, refetched on rotation
but never in a flood."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

# Algorithms Better Auth can sign with. A JWKS key is only ever used with its own one.
ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "ES256", "ES512", "RS256", "PS256"})


class InvalidToken(Exception):
    """The token is not acceptable; the message is safe to show the client."""


class KeysUnavailable(Exception):
    """The token names a key we do not have and the JWKS endpoint cannot be reached."""


class KeySetCache:
    """Public keys by `kid`, loaded from a key set without blocking, cached, reloaded on demand.

    An unknown `kid` triggers a reload (key rotation), but at most once per `refetch_interval`,
    so a flood of forged `kid`s cannot turn into a flood of requests or queries. `load`
    returns the key set's `keys` list, or raises KeysUnavailable (or an HTTP error).
    """

    # What a failed load raises: the keys are unavailable, which is not the token's fault.
    unavailable: tuple[type[Exception], ...] = (ValueError, KeysUnavailable)

    def __init__(
        self,
        load: Callable[[], Awaitable[list[Any]]],
        *,
        source: str,
        cache_seconds: float = 300.0,
        refetch_interval: float = 10.0,
    ) -> None:
        self.source = source
        self._load = load
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
                keys = _usable_keys(await self._load())
            except self.unavailable as exc:
                # Keys already cached stay usable: an issuer outage must not log everyone out.
                self._last_fetch_failed = True
                logger.warning(
                    "could not fetch signing keys",
                    extra={
                        "event": "jwks_fetch_failed",
                        "jwks_url": self.source,
                        "error": type(exc).__name__,
                    },
                )
                return
            self._keys = keys
            self._fetched_at = now
            self._last_fetch_failed = False


class JWKSCache(KeySetCache):
    """Better Auth's keys from its JWKS endpoint, fetched with the app's HTTP client."""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        cache_seconds: float = 300.0,
        refetch_interval: float = 10.0,
    ) -> None:
        super().__init__(
            self._fetch, source=url, cache_seconds=cache_seconds, refetch_interval=refetch_interval
        )
        self.url = url
        self._http = http
        # Imported here, not with the module: only a service that fetches its keys over HTTP
        # loads an HTTP client (a few MiB per worker); `http` is one, so this costs nothing.
        import httpx  # noqa: PLC0415

        self.unavailable = (httpx.HTTPError, *KeySetCache.unavailable)

    async def _fetch(self) -> list[Any]:
        response = await self._http.get(self.url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("JWKS document has no 'keys' list")
        keys: list[Any] = document["keys"]
        return keys


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
