"""Per-user rate limits on reads, writes and chat turns, per-address limits on failed authentication and
on sign-in and sign-up attempts, shared across workers through Redis when set."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse

from todo_api.errors import TooManyRequests

logger = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD"})
# Better Auth's own special rule for /sign-in and /sign-up: 3 attempts in 10 seconds, counted
# per client address and path (its rate limiter's key). Guessing passwords stays slow.
SIGN_IN_ATTEMPTS = "3 per 10 seconds"


@dataclass(slots=True)
class _Window:
    index: int
    previous: int = 0
    current: int = 0


class LocalSlidingWindows:
    """Sliding-window counters held in this process, O(1) per request.

    The same approximation as `limits`' sliding-window counter (the previous window's count,
    weighted by how much of it still overlaps, plus the current one), without its in-memory
    store's sweep over every key on each hit, which made a request's cost grow with the
    number of users seen.
    """

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], _Window] = {}
        self._swept_at = 0.0

    def __len__(self) -> int:
        """How many (kind, user) counters are held."""
        return len(self._windows)

    def hit(self, kind: str, user_id: str, limit: RateLimitItem, now: float) -> float | None:
        """Count one request, or return how many seconds to wait if it is over the limit."""
        seconds = limit.get_expiry()
        self._sweep(now, seconds)
        index = int(now // seconds)
        window = self._windows.get((kind, user_id))
        if window is None:
            window = self._windows[kind, user_id] = _Window(index)
        elif window.index != index:
            window.previous = window.current if window.index == index - 1 else 0
            window.current = 0
            window.index = index
        elapsed = now - index * seconds
        weighted = window.previous * (1 - elapsed / seconds) + window.current
        if weighted + 1 <= limit.amount:
            window.current += 1
            return None
        return _wait(window, limit.amount, seconds, elapsed)

    def _sweep(self, now: float, seconds: int) -> None:
        # Forget users idle for two whole windows (their count is zero by then); done at most
        # once per window, so memory tracks the recently active users at no per-request cost.
        if now - self._swept_at < seconds:
            return
        self._swept_at = now
        stale = int(now // seconds) - 2
        for key in [key for key, window in self._windows.items() if window.index <= stale]:
            del self._windows[key]


def _wait(window: _Window, amount: int, seconds: int, elapsed: float) -> float:
    room = amount - 1 - window.current
    # Only called on a refusal: with room left in this window's own count, the previous
    # window's weight is what refused it, so window.previous is never 0 here.
    if room >= 0:
        # Room appears in this window, as the previous window's weight fades.
        return seconds * (1 - room / window.previous) - elapsed
    # Only in the next window, where this window's count becomes the fading one.
    return (seconds - elapsed) + seconds * max(0.0, 1 - (amount - 1) / max(window.current, 1))


class SharedSlidingWindows:
    """The same counters in Redis, through `limits`, so every worker and instance shares them."""

    def __init__(self, storage_url: str) -> None:
        # Imported here: the Redis client is about 7 MiB a worker does not need without Redis.
        import coredis  # noqa: PLC0415
        from limits.aio.strategies import SlidingWindowCounterRateLimiter  # noqa: PLC0415
        from limits.storage import storage_from_string  # noqa: PLC0415

        # Our own pool, so shutdown can close its connections (the storage has no close()).
        self._pool = coredis.ConnectionPool.from_url(storage_url)
        # limits types its options as scalars, but forwards them to coredis as they are.
        storage = storage_from_string(f"async+{storage_url}", connection_pool=self._pool)  # type: ignore[arg-type]
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    async def hit(self, kind: str, user_id: str, limit: RateLimitItem) -> float | None:
        """Count one request, or return how many seconds to wait; None too if Redis is away."""
        try:
            if await self._limiter.hit(limit, kind, user_id):
                return None
            reset_at = (await self._limiter.get_window_stats(limit, kind, user_id)).reset_time
        except Exception as exc:
            # A rate-limit store outage must not take the API down with it: fail open, loudly.
            logger.warning(
                "rate limit store unavailable",
                extra={"event": "rate_limit_unavailable", "error": type(exc).__name__},
            )
            return None
        return reset_at - time.time()

    def close(self) -> None:
        self._pool.disconnect()


class RateLimiter:
    """Sliding-window limits: reads and writes keyed by user id, failed authentications by
    client address.

    A sliding-window counter approximates a moving window at a fraction of its cost: two
    counters per key instead of a log of every request. `clock` (seconds since the epoch)
    places requests in windows when the counters are held in this process.
    """

    def __init__(
        self,
        *,
        reads: str,
        writes: str,
        auth_failures: str,
        storage_url: str | None,
        chat: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._reads = parse(reads)
        self._writes = parse(writes)
        self._chat = parse(chat) if chat is not None else None
        self._auth_failures = parse(auth_failures)
        self._sign_in_attempts = parse(SIGN_IN_ATTEMPTS)
        self._store = SharedSlidingWindows(storage_url) if storage_url else LocalSlidingWindows()

    async def aclose(self) -> None:
        """Close the Redis connections, if any."""
        if isinstance(self._store, SharedSlidingWindows):
            self._store.close()

    async def check(self, user_id: str, *, write: bool) -> None:
        """Count one request for `user_id`, or raise TooManyRequests with a retry delay."""
        limit, kind = (self._writes, "write") if write else (self._reads, "read")
        await self._count(kind, user_id, limit, who={"user_id": user_id})

    async def check_chat(self, user_id: str) -> None:
        """Count one chat turn for `user_id` (a model call costs money), or raise TooManyRequests;
        no limit of its own when none was given."""
        if self._chat is not None:
            await self._count("chat", user_id, self._chat, who={"user_id": user_id})

    async def check_failed_authentication(self, client: str | None) -> None:
        """Count one failed authentication from `client` (an address), or raise TooManyRequests."""
        await self._count("auth_failure", client or "unknown", self._auth_failures, who={"client": client})

    async def sign_in_wait(self, client: str | None, path: str) -> int | None:
        """Count one sign-in or sign-up attempt from `client` (an address) on `path`: None, or
        the seconds to wait when over the limit (Better Auth answers that in its own shape)."""
        key = f"{client or 'unknown'} {path}"
        return await self._wait("sign_in", key, self._sign_in_attempts, who={"client": client, "path": path})

    async def _count(self, kind: str, key: str, limit: RateLimitItem, *, who: dict[str, str | None]) -> None:
        retry_after = await self._wait(kind, key, limit, who=who)
        if retry_after is not None:
            raise TooManyRequests(retry_after)

    async def _wait(
        self, kind: str, key: str, limit: RateLimitItem, *, who: dict[str, str | None]
    ) -> int | None:
        store = self._store
        if isinstance(store, LocalSlidingWindows):
            wait = store.hit(kind, key, limit, self._clock())
        else:
            wait = await store.hit(kind, key, limit)
        if wait is None:
            return None
        # The counter's estimate can ask for more than a window; a true moving window never
        # does (every counted request has left it by then), so no answer says more than that.
        retry_after = max(1, math.ceil(min(wait, limit.get_expiry())))
        logger.warning(
            "rate limit exceeded",
            extra={"event": "rate_limited", **who, "kind": kind, "retry_after": retry_after},
        )
        return retry_after
