"""Recurring tasks: how a task says it repeats, and when its next occurrence is due.

A task repeats by a pattern (`daily`, `weekly`, `monthly`, `yearly`, every `interval` of them) or
by an RFC 5545 rule (`FREQ=WEEKLY;BYDAY=MO,WE`, read by python-dateutil), which wins when both
are sent. The next due date is worked out in the task's own time zone, on its wall clock, so a
task due at 09:00 stays at 09:00 across a change to or from summer time. A monthly or yearly
pattern keeps the day of the month it started on (`anchor_day`): due on the 31st, it is due on
the last day of shorter months, and on the 31st again after them.

Plain functions on plain values: no framework, no database.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, tzinfo
from typing import Literal

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr

RecurrencePattern = Literal["none", "daily", "weekly", "monthly", "yearly"]
PATTERNS: tuple[str, ...] = ("daily", "weekly", "monthly", "yearly")
MAX_INTERVAL = 1000
MAX_RULE_LENGTH = 500
RULE_FORM = (
    "an RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=MO,WE or FREQ=MONTHLY;INTERVAL=2 (RRULE: in front "
    "is taken too), repeating daily, weekly, monthly or yearly, ending (if it ends) with a local "
    "UNTIL=20271231T000000"
)
_ALLOWED_FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})


def parse_rule(value: str) -> str:
    """The rule as kept: one RRULE line without its `RRULE:` name, checked to be one dateutil
    reads and that repeats no more often than daily (ValueError otherwise)."""
    text = value.strip()
    if text[:6].upper() == "RRULE:":
        text = text[6:]
    if not text or len(text) > MAX_RULE_LENGTH or "\n" in text or "\r" in text or ":" in text:
        raise ValueError(f"must be {RULE_FORM}")
    try:
        rule = rrulestr(text, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        raise ValueError(f"must be {RULE_FORM}") from None
    parts = dict(part.partition("=")[::2] for part in text.upper().split(";"))
    if not isinstance(rule, rrule) or parts.get("FREQ") not in _ALLOWED_FREQUENCIES:
        raise ValueError(f"must be {RULE_FORM}")
    if "COUNT" in parts:
        # Each occurrence starts the rule afresh, so a count would never run out: UNTIL does.
        raise ValueError("COUNT is not supported: end the series with UNTIL=20271231T000000 instead")
    return text.upper()


def rule_frequency(rule: str) -> tuple[str, int]:
    """The pattern and interval a (parsed) rule repeats by, as tasks show them."""
    parts = dict(part.partition("=")[::2] for part in rule.split(";"))
    return parts["FREQ"].lower(), int(parts.get("INTERVAL") or 1)


def next_due(
    due_at: datetime,
    *,
    all_day: bool,
    zone: tzinfo,
    pattern: str | None,
    interval: int,
    anchor_day: int | None,
    rule: str | None,
) -> datetime | None:
    """The next occurrence's due instant (UTC; an all-day one at midnight UTC of its date), or
    None when the rule has no occurrence after this one (its COUNT or UNTIL is reached)."""
    local = (
        due_at.astimezone(UTC).replace(tzinfo=None)
        if all_day
        else due_at.astimezone(zone).replace(tzinfo=None)
    )
    following = _after(local, pattern=pattern, interval=interval, anchor_day=anchor_day, rule=rule)
    if following is None:
        return None
    if all_day:
        return datetime.combine(following.date(), time(), UTC)
    return following.replace(tzinfo=zone).astimezone(UTC)


def _after(
    local: datetime, *, pattern: str | None, interval: int, anchor_day: int | None, rule: str | None
) -> datetime | None:
    if rule is not None:
        try:
            following = rrulestr(rule, dtstart=local).after(local)
        except (ValueError, OverflowError):  # past the calendar's end
            return None
        return following if isinstance(following, datetime) else None
    step = {
        "daily": relativedelta(days=interval),
        "weekly": relativedelta(weeks=interval),
        "monthly": relativedelta(months=interval),
        "yearly": relativedelta(years=interval),
    }[pattern or "daily"]
    try:
        following = local + step
    except (ValueError, OverflowError):
        return None
    if pattern in ("monthly", "yearly") and anchor_day is not None:
        last = calendar.monthrange(following.year, following.month)[1]
        following = following.replace(day=min(anchor_day, last))
    return following


def anchor_day_of(due_at: datetime, *, all_day: bool, zone: tzinfo) -> int:
    """The day of the month a monthly or yearly pattern keeps: the due date's, in its zone."""
    day: date = due_at.astimezone(UTC).date() if all_day else due_at.astimezone(zone).date()
    return day.day
