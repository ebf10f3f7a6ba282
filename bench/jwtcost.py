"""How long the service's token check takes per request, measured in-process without HTTP."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

import httpx
import jwt

from todo_api.config import Settings
from todo_api.main import build_token_verifier
from todo_api.tokens import TokenVerifier

PASSES = 7


async def _first_use_passes(settings: Settings, tokens: list[str]) -> list[float]:
    # A verifier built afresh for every pass has an empty cache: each token is verified in full,
    # as on its first request.
    timings = []
    async with httpx.AsyncClient() as http:
        for _ in range(PASSES):
            verifier = build_token_verifier(settings, http)
            timings.append(await _timed_pass(verifier, tokens))
    return timings


async def _cached_passes(settings: Settings, tokens: list[str]) -> list[float]:
    # One verifier, every token seen once before timing: what a repeat request costs.
    async with httpx.AsyncClient() as http:
        verifier = build_token_verifier(settings, http)
        await _timed_pass(verifier, tokens)
        return [await _timed_pass(verifier, tokens) for _ in range(PASSES)]


async def _timed_pass(verifier: TokenVerifier, tokens: list[str]) -> float:
    started = time.perf_counter()
    for token in tokens:
        await verifier.verify(token)
    return time.perf_counter() - started


def _decode_passes(tokens: list[str], decode: Callable[[str], object]) -> list[float]:
    timings = []
    for _ in range(PASSES):
        started = time.perf_counter()
        for token in tokens:
            decode(token)
        timings.append(time.perf_counter() - started)
    return timings


def measure(tokens: list[str], secret: str) -> dict[str, float]:
    """µs per token: the service's TokenVerifier.verify on a token's first use (full verification)
    and on a repeat use (cache hit), and a bare jwt.decode.

    Best of several passes over all tokens, as timeit reports: on a shared machine the fastest
    pass is the least disturbed one; the median is kept too.
    """
    # Built as the app builds it, verified-token cache included; token verification alone, so
    # without the built-in sign-in (whose keys live in a database).
    settings = Settings(better_auth_secret=secret, builtin_auth=False, _env_file=None)  # type: ignore[call-arg]
    first_use = asyncio.run(_first_use_passes(settings, tokens))
    cached = asyncio.run(_cached_passes(settings, tokens))
    bare = _decode_passes(
        tokens,
        lambda token: jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}),
    )
    per_call = 1e6 / len(tokens)
    return {
        "service_first_use_us": round(min(first_use) * per_call, 2),
        "service_first_use_median_us": round(statistics.median(first_use) * per_call, 2),
        "service_cached_us": round(min(cached) * per_call, 2),
        "service_cached_median_us": round(statistics.median(cached) * per_call, 2),
        "bare_decode_us": round(min(bare) * per_call, 2),
        "bare_decode_median_us": round(statistics.median(bare) * per_call, 2),
    }
