"""Per-user rate limits on reads and writes, shared across workers through Redis when set."""

from __future__ import annotations

import logging
import math
import time
from typing import Annotated

import coredis
from fastapi import Depends, Request
from limits import parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from todo_api.auth import CurrentUser
from todo_api.database import READ_METHODS
from todo_api.errors import TooManyRequests

logger = logging.getLogger(__name__)


class RateLimiter:
    """Sliding-window limits keyed by user id and kind (read/write)."""

    def __init__(self, *, reads: str, writes: str, storage_url: str | None) -> None:
        self._reads = parse(reads)
        self._writes = parse(writes)
        # Our own pool, so shutdown can close its connections (the storage has no close()).
        self._pool = coredis.ConnectionPool.from_url(storage_url) if storage_url else None
        storage = (
            # limits types its options as scalars, but forwards them to coredis as they are.
            storage_from_string(f"async+{storage_url}", connection_pool=self._pool)  # type: ignore[arg-type]
            if storage_url
            else storage_from_string("async+memory://")
        )
        # The sliding-window counter approximates a moving window at a quarter of its cost
        # (two counters per key instead of a log of every request).
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    async def aclose(self) -> None:
        """Close the Redis connections, if any."""
        if self._pool is not None:
            self._pool.disconnect()

    async def check(self, user_id: str, *, write: bool) -> None:
        """Count one request for `user_id`, or raise TooManyRequests with a retry delay."""
        item, kind = (self._writes, "write") if write else (self._reads, "read")
        try:
            if await self._limiter.hit(item, kind, user_id):
                return
            reset_at = (await self._limiter.get_window_stats(item, kind, user_id)).reset_time
        except Exception as exc:
            # A rate-limit store outage must not take the API down with it: fail open, loudly.
            logger.warning(
                "rate limit store unavailable",
                extra={"event": "rate_limit_unavailable", "error": type(exc).__name__},
            )
            return
        retry_after = max(1, math.ceil(reset_at - time.time()))
        logger.warning(
            "rate limit exceeded",
            extra={"event": "rate_limited", "user_id": user_id, "kind": kind, "retry_after": retry_after},
        )
        raise TooManyRequests(retry_after)


async def enforce_rate_limit(request: Request, user: CurrentUser) -> None:
    """Charge the caller's read or write budget before any work is done."""
    limiter: RateLimiter | None = request.app.state.rate_limiter
    if limiter is not None:
        await limiter.check(user.id, write=request.method not in READ_METHODS)


RateLimited = Annotated[None, Depends(enforce_rate_limit)]
