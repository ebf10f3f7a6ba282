"""How long the service's token check takes per request, measured in-process without HTTP."""

from __future__ import annotations

import asyncio
import time

import jwt

from todo_api.security import TokenVerifier

ROUNDS = 20


async def _timed_verify(verifier: TokenVerifier, tokens: list[str], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for token in tokens:
            await verifier.verify(token)
    return time.perf_counter() - started


def measure(tokens: list[str], secret: str) -> dict[str, float]:
    """Mean µs per token for the service's TokenVerifier.verify and for a bare jwt.decode."""
    verifier = TokenVerifier(secret=secret, jwks=None)
    asyncio.run(_timed_verify(verifier, tokens, 1))  # warm-up
    service_seconds = asyncio.run(_timed_verify(verifier, tokens, ROUNDS))
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for token in tokens:
            jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    bare_seconds = time.perf_counter() - started
    calls = ROUNDS * len(tokens)
    return {
        "service_verify_us": round(service_seconds / calls * 1e6, 2),
        "bare_decode_us": round(bare_seconds / calls * 1e6, 2),
    }
