"""The sliding-window counters: in this process on a clock the tests control, and in Redis
(TEST_REDIS_URL) as every worker shares them."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from limits import parse

from todo_api.errors import TooManyRequests
from todo_api.ratelimit import LocalSlidingWindows, RateLimiter, SharedSlidingWindows

FIVE_PER_MINUTE = parse("5/minute")
START = 1_800_000_000.0  # a whole minute, so offsets below are positions inside a window
SIGN_IN = "/api/auth/sign-in/email"

REDIS_URL = os.environ.get("TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="set TEST_REDIS_URL=redis://127.0.0.1:6379")
STORES = [pytest.param(None, id="local"), pytest.param(REDIS_URL, id="redis", marks=needs_redis)]


class Clock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def rate_limiter(
    storage_url: str | None, rate: str, clock: Clock | None = None
) -> AsyncIterator[RateLimiter]:
    """A limiter with the same rate for reads, writes, chat turns and failed authentications."""
    limiter = RateLimiter(
        reads=rate,
        writes=rate,
        auth_failures=rate,
        chat=rate,
        storage_url=storage_url,
        clock=clock or Clock(START),
    )
    try:
        yield limiter
    finally:
        await limiter.aclose()


def fresh(name: str) -> str:
    """A key no earlier run has used: the Redis store outlives the test."""
    return f"{name}-{uuid.uuid4().hex}"


async def retry_after(attempt: Awaitable[int | None]) -> int | None:
    """The seconds a refused attempt is told to wait, however its entry point says it; None if allowed."""
    try:
        return await attempt
    except TooManyRequests as refused:
        return int(refused.headers["Retry-After"])


def hits(windows: LocalSlidingWindows, count: int, at: float, user: str = "alice") -> list[float | None]:
    return [windows.hit("write", user, FIVE_PER_MINUTE, at) for _ in range(count)]


def test_allows_the_limit_then_refuses_until_the_window_ends() -> None:
    windows = LocalSlidingWindows()

    allowed = hits(windows, 5, START + 10)
    refused = windows.hit("write", "alice", FIVE_PER_MINUTE, START + 10)

    assert allowed == [None] * 5
    # All five came in this window, so room opens only as the next window slides past them:
    # 50 s to the window's end, then 1/5 of a window until 4 of the 5 still count.
    assert refused == pytest.approx(50 + 12)


def test_the_previous_window_counts_by_how_much_it_still_overlaps() -> None:
    windows = LocalSlidingWindows()
    hits(windows, 5, START + 30)

    # 15 s into the next window, 3/4 of the previous one still overlaps: 5 * 0.75 = 3.75,
    # so one more request fits (4.75 <= 5) and the next does not.
    assert windows.hit("write", "alice", FIVE_PER_MINUTE, START + 75) is None
    wait = windows.hit("write", "alice", FIVE_PER_MINUTE, START + 75)

    # Room for one more needs 5 * (1 - t/60) + 1 + 1 <= 5, i.e. t >= 24 s into the window.
    assert wait == pytest.approx(24 - 15)
    assert windows.hit("write", "alice", FIVE_PER_MINUTE, START + 60 + 24) is None


def test_a_window_two_minutes_old_no_longer_counts() -> None:
    windows = LocalSlidingWindows()
    hits(windows, 5, START + 59)

    assert hits(windows, 5, START + 120) == [None] * 5


def test_users_and_kinds_are_counted_apart() -> None:
    windows = LocalSlidingWindows()
    hits(windows, 5, START)

    assert windows.hit("write", "bob", FIVE_PER_MINUTE, START) is None
    assert windows.hit("read", "alice", FIVE_PER_MINUTE, START) is None
    assert windows.hit("write", "alice", FIVE_PER_MINUTE, START) is not None


def test_idle_users_are_forgotten_so_memory_follows_active_users() -> None:
    windows = LocalSlidingWindows()
    for number in range(100):
        windows.hit("read", f"user-{number}", FIVE_PER_MINUTE, START)

    # Two whole windows after their last request, their counts are zero: the first moment they
    # can go, and they do.
    windows.hit("read", "late", FIVE_PER_MINUTE, START + 120)

    assert len(windows) == 1


def test_a_sweep_keeps_the_previous_windows_count() -> None:
    windows = LocalSlidingWindows()
    hits(windows, 5, START + 30)  # the first hit sweeps, at START + 30

    # A window later the next sweep runs, and the previous window still weighs 5 * 0.5 = 2.5:
    # two more fit, and the third waits until 5 * (1 - t/60) + 2 + 1 <= 5, t = 36 s.
    assert hits(windows, 3, START + 90) == [None, None, pytest.approx(36 - 30)]


def test_a_count_two_windows_old_is_dropped_even_before_a_sweep_forgets_it() -> None:
    windows = LocalSlidingWindows()
    hits(windows, 5, START)
    windows.hit("write", "bob", FIVE_PER_MINUTE, START + 119)  # sweeps; alice's window is not stale yet
    assert len(windows) == 2

    # Under a window since that sweep, so alice's counter is still held, but the window it counted
    # is two windows old: nothing of it overlaps any more.
    assert hits(windows, 5, START + 120) == [None] * 5


def test_idle_counters_are_swept_at_most_once_a_window() -> None:
    # Sweeping scans every counter, so it runs only once a whole window has passed since the last.
    windows = LocalSlidingWindows()
    windows.hit("read", "alice", FIVE_PER_MINUTE, START)  # the first sweep
    windows.hit("read", "bob", FIVE_PER_MINUTE, START + 61)  # the next; nothing is two windows old

    windows.hit("read", "carol", FIVE_PER_MINUTE, START + 120)
    assert len(windows) == 3  # alice is two windows idle, but the last sweep was 59 s ago

    windows.hit("read", "dave", FIVE_PER_MINUTE, START + 121)
    assert len(windows) == 3  # a whole window since the last sweep: alice is gone


def test_with_a_limit_of_one_room_opens_when_the_previous_windows_weight_is_gone() -> None:
    one_per_minute = parse("1/minute")
    windows = LocalSlidingWindows()
    assert windows.hit("write", "alice", one_per_minute, START + 30) is None

    # Half a window later the previous window's one request still weighs 0.5, and any weight
    # refuses: room opens only when this window ends.
    assert windows.hit("write", "alice", one_per_minute, START + 90) == pytest.approx(30)
    assert windows.hit("write", "alice", one_per_minute, START + 120) is None


REFUSALS = [
    pytest.param(
        lambda limiter: limiter.check("alice", write=True), "write", {"user_id": "alice"}, id="write"
    ),
    pytest.param(
        lambda limiter: limiter.check("alice", write=False), "read", {"user_id": "alice"}, id="read"
    ),
    pytest.param(lambda limiter: limiter.check_chat("alice"), "chat", {"user_id": "alice"}, id="chat"),
    pytest.param(
        lambda limiter: limiter.check_failed_authentication("203.0.113.7"),
        "auth_failure",
        {"client": "203.0.113.7"},
        id="auth_failure",
    ),
    pytest.param(
        lambda limiter: limiter.sign_in_wait("203.0.113.7", SIGN_IN),
        "sign_in",
        {"client": "203.0.113.7", "path": SIGN_IN},
        id="sign_in",
    ),
]


@pytest.mark.parametrize(("attempt", "kind", "who"), REFUSALS)
async def test_a_refused_request_is_logged_as_rate_limited(
    caplog: pytest.LogCaptureFixture,
    attempt: Callable[[RateLimiter], Awaitable[int | None]],
    kind: str,
    who: dict[str, str],
) -> None:
    caplog.set_level(logging.INFO)
    # Three allowed, as sign-in's own rate (3 per 10 seconds) allows.
    async with rate_limiter(None, "3/minute") as limiter:
        allowed = [await retry_after(attempt(limiter)) for _ in range(3)]
        assert allowed == [None] * 3
        assert not caplog.records

        wait = await retry_after(attempt(limiter))

    [record] = caplog.records
    assert (record.levelno, record.getMessage()) == (logging.WARNING, "rate limit exceeded")
    assert {field: vars(record).get(field) for field in ("event", "kind", "retry_after", *who)} == {
        "event": "rate_limited",
        "kind": kind,
        "retry_after": wait,
        **who,
    }


async def test_no_answer_asks_for_more_than_one_window() -> None:
    # Five writes at the very start of a window: the counter's estimate would ask for the rest
    # of this window and a fifth of the next (72 s), but all five leave a moving window by 60 s.
    limiter = RateLimiter(
        reads="5/minute", writes="5/minute", auth_failures="5/minute", storage_url=None, clock=lambda: START
    )
    for _ in range(5):
        await limiter.check("alice", write=True)

    with pytest.raises(TooManyRequests) as refused:
        await limiter.check("alice", write=True)

    assert int(refused.value.headers["Retry-After"]) == 60


async def test_a_wait_under_a_second_is_asked_as_one_second() -> None:
    clock = Clock(START + 30)
    async with rate_limiter(None, "5/minute", clock) as limiter:
        for _ in range(5):
            await limiter.check("alice", write=True)
        clock.now = START + 75
        await limiter.check("alice", write=True)  # the previous window weighs 3.75: one more fits

        # Room for the next opens 24 s into the window (as above), half a second from now.
        clock.now = START + 60 + 23.5
        with pytest.raises(TooManyRequests) as refused:
            await limiter.check("alice", write=True)

    assert refused.value.headers["Retry-After"] == "1"


@pytest.mark.parametrize("storage_url", STORES)
async def test_each_kind_and_each_key_has_its_own_budget(storage_url: str | None) -> None:
    alice, bob = fresh("alice"), fresh("bob")
    # One rate for reads, writes and failed authentications, so only the kind tells them apart.
    async with rate_limiter(storage_url, "1/minute") as limiter:
        await limiter.check(alice, write=True)
        with pytest.raises(TooManyRequests):
            await limiter.check(alice, write=True)

        await limiter.check(alice, write=False)
        await limiter.check_failed_authentication(alice)
        assert await limiter.sign_in_wait(alice, SIGN_IN) is None
        await limiter.check(bob, write=True)


async def test_every_client_of_unknown_address_shares_one_budget() -> None:
    # No peer address, an empty one, or the word a proxy writes in X-Forwarded-For when it hides
    # the client (Squid's "unknown"): one unknown client, which cannot multiply its budget.
    async with rate_limiter(None, "2/minute") as limiter:
        await limiter.check_failed_authentication(None)
        await limiter.check_failed_authentication("")
        with pytest.raises(TooManyRequests):
            await limiter.check_failed_authentication("unknown")
        await limiter.check_failed_authentication("203.0.113.7")

        waits = [await limiter.sign_in_wait(client, SIGN_IN) for client in (None, "", "unknown", None)]

    assert waits[:3] == [None] * 3
    assert waits[3] is not None


@needs_redis
async def test_the_shared_wait_is_the_rest_of_the_window() -> None:
    assert REDIS_URL
    windows = SharedSlidingWindows(REDIS_URL)
    # A fresh kind as well as a fresh user: a counter read under either name alone must be empty.
    kind, user = fresh("write"), fresh("alice")
    try:
        assert [await windows.hit(kind, user, FIVE_PER_MINUTE) for _ in range(5)] == [None] * 5

        # limits reads a counter created this very millisecond as ending now (the new key's TTL
        # is exactly two windows, taken modulo one window), so a burst within one millisecond is
        # first told 0 s; asked again once that millisecond has passed, it says the rest.
        deadline = time.monotonic() + 10
        wait = await windows.hit(kind, user, FIVE_PER_MINUTE)
        while wait is not None and wait <= 0 and time.monotonic() < deadline:
            wait = await windows.hit(kind, user, FIVE_PER_MINUTE)
    finally:
        windows.close()

    assert wait is not None
    assert 0 < wait <= 60


async def test_an_unreachable_shared_store_fails_open_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="todo_api.ratelimit")
    windows = SharedSlidingWindows("redis://127.0.0.1:1")  # nothing listens on port 1
    try:
        assert await windows.hit("write", "alice", FIVE_PER_MINUTE) is None
    finally:
        windows.close()

    [record] = [record for record in caplog.records if record.name == "todo_api.ratelimit"]
    assert (record.levelno, record.getMessage()) == (logging.WARNING, "rate limit store unavailable")
    assert (vars(record).get("event"), vars(record).get("error")) == (
        "rate_limit_unavailable",
        "ConnectionError",
    )
