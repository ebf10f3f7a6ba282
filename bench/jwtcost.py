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


async def _verify_passes(verifier: TokenVerifier, tokens: list[str]) -> list[float]:
    timings = []
    for _ in range(PASSES):
        started = time.perf_counter()
        for token in tokens:
            await verifier.verify(token)
        timings.append(time.perf_counter() - started)
    return timings


def _decode_passes(tokens: list[str], decode: Callable[[str], object]) -> list[float]:
    timings = []
    for _ in range(PASSES):
        started = time.perf_counter()
        for token in tokens:
            decode(token)
        timings.append(time.perf_counter() - started)
    return timings


def measure(tokens: list[str], secret: str) -> dict[str, float]:
    """µs per token for the service's TokenVerifier.verify and a bare jwt.decode.

    Best of several passes over all tokens, as timeit reports: on a shared machine the fastest
    pass is the least disturbed one; the median is kept too.
    """
    # Built as the app builds it, verified-token cache included: the first pass verifies every
    # signature (a token's first request), later passes are what repeat requests cost.
    settings = Settings(better_auth_secret=secret, _env_file=None)  # type: ignore[call-arg]
    verifier = build_token_verifier(settings, httpx.AsyncClient())
    service = asyncio.run(_verify_passes(verifier, tokens))
    bare = _decode_passes(
        tokens,
        lambda token: jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}),
    )
    per_call = 1e6 / len(tokens)
    return {
        "service_verify_us": round(min(service) * per_call, 2),
        "service_verify_first_use_us": round(service[0] * per_call, 2),
        "service_verify_median_us": round(statistics.median(service) * per_call, 2),
        "bare_decode_us": round(min(bare) * per_call, 2),
        "bare_decode_median_us": round(statistics.median(bare) * per_call, 2),
    }
