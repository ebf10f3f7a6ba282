"""The in-process sliding-window counter, on a clock the tests control."""

from __future__ import annotations

import logging

import pytest
from limits import parse

from todo_api.errors import TooManyRequests
from todo_api.ratelimit import LocalSlidingWindows, RateLimiter

FIVE_PER_MINUTE = parse("5/minute")
START = 1_800_000_000.0  # a whole minute, so offsets below are positions inside a window


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

    windows.hit("read", "late", FIVE_PER_MINUTE, START + 180)

    assert len(windows) == 1


async def test_a_refused_request_is_logged_as_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(reads="5/minute", writes="1/minute", auth_failures="1/minute", storage_url=None)
    caplog.set_level(logging.INFO)
    await limiter.check("alice", write=True)
    assert not caplog.records

    with pytest.raises(TooManyRequests) as refused:
        await limiter.check("alice", write=True)

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.event == "rate_limited"  # type: ignore[attr-defined]
    assert record.user_id == "alice"  # type: ignore[attr-defined]
    assert record.kind == "write"  # type: ignore[attr-defined]
    assert record.retry_after == int(refused.value.headers["Retry-After"])  # type: ignore[attr-defined]


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
