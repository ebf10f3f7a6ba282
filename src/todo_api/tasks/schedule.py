"""When a task is due, when to remind its owner and how it repeats: what the table keeps, worked
out from what it keeps now and what a request changes.

A reminder is absolute (`remind_at`, an instant or a local date-time in the task's zone) or
relative (`remind_before_minutes` before the due date; an all-day task is due from the start of
its day in its zone). A relative reminder moves with the due date, and goes when the due date
does. Either way the table keeps the instant to remind at, so that a list of due reminders is
one comparison; a new instant is a new reminder, not yet acknowledged. A recurrence (see
recurrence.py) needs a due date: a task made recurring without one is due today, all day.

Plain functions on plain values: no framework, no database.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from todo_api.json_bodies import whole_number
from todo_api.tasks.due_dates import due_instant, overdue_after, zone
from todo_api.tasks.recurrence import anchor_day_of, rule_frequency

MAX_REMIND_BEFORE_MINUTES = 366 * 24 * 60
REMIND_BEFORE_RULE = (
    f"minutes before the due date: a whole number from 0 to {MAX_REMIND_BEFORE_MINUTES} (a year), "
    "or text of up to 99999 minutes (90 or 90m), hours (2h, 1h30m) or days (2d)"
)
REMIND_AT_RULE = (
    "a local date-time without an offset (2026-12-31T08:00), read in the task's timezone, or an "
    "RFC 3339 date-time with an offset (2026-12-31T07:00:00Z)"
)
# The text forms, bounded so that none can exceed the limit of the number form.
_SPAN = re.compile(
    r"(?P<minutes>[0-9]{1,5})m?|(?P<hours>[0-9]{1,3})h(?:(?P<extra>[0-9]{1,2})m)?|(?P<days>[0-9]{1,2})d",
    re.ASCII,
)


def parse_remind_before(value: object) -> int:
    """Minutes before the due date, from a number or from text like 90, 30m, 1h30m or 2d."""
    value = whole_number(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_REMIND_BEFORE_MINUTES:
        return value
    if isinstance(value, str) and (span := _SPAN.fullmatch(value.strip().lower())):
        parts = {name: int(text) for name, text in span.groupdict().items() if text}
        return (
            parts.get("days", 0) * 1440
            + parts.get("hours", 0) * 60
            + parts.get("extra", 0)
            + parts.get("minutes", 0)
        )
    raise ValueError(f"must be {REMIND_BEFORE_RULE}")


class ScheduleConflict(ValueError):
    """A change the task's schedule cannot take: a relative reminder or a recurrence without a due
    date, an interval without a pattern."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A task's due date, time zone and reminder as the table keeps them."""

    timezone: str | None = None
    due_at: datetime | None = None
    due_all_day: bool = False
    remind_at: datetime | None = None
    remind_before_minutes: int | None = None
    recurrence_pattern: str | None = None
    recurrence_interval: int | None = None
    recurrence_rule: str | None = None
    recurrence_anchor_day: int | None = None

    @classmethod
    def of(cls, row: Any) -> Schedule:
        return cls(
            timezone=row["timezone"],
            due_at=row["due_at"],
            due_all_day=row["due_all_day"],
            remind_at=row["remind_at"],
            remind_before_minutes=row["remind_before_minutes"],
            recurrence_pattern=row["recurrence_pattern"],
            recurrence_interval=row["recurrence_interval"],
            recurrence_rule=row["recurrence_rule"],
            recurrence_anchor_day=row["recurrence_anchor_day"],
        )


def rescheduled(current: Schedule, sent: Collection[str], changes: Any) -> dict[str, Any]:
    """The columns to write for a task whose schedule is `current`, given the fields `sent` of
    `changes` (a TaskCreate or TaskUpdate): its due date, time zone, reminder and recurrence.
    ScheduleConflict if a relative reminder or a recurrence is left without a due date (a task
    made recurring without one is due today), or an interval without a pattern."""
    zone_name = changes.timezone if "timezone" in sent else current.timezone
    task_zone = zone(zone_name)
    if "due_date" in sent:
        due_at, all_day = (
            (None, False) if changes.due_date is None else due_instant(changes.due_date, task_zone)
        )
    else:
        # A new zone keeps the due moment (and an all-day task's date).
        due_at, all_day = current.due_at, current.due_all_day
    recurrence = _recurrence(current, sent, changes)
    if recurrence["new_recurrence_pattern"] is not None and due_at is None:
        if "due_date" in sent:
            raise ScheduleConflict(
                "a recurring task needs a due date: send one, or recurrence_pattern none to stop it"
            )
        # Repeating from today: an all-day task due today, in its zone.
        due_at, all_day = due_instant(datetime.now(task_zone).date(), task_zone)
    if (
        due_at is not None
        and recurrence["new_recurrence_pattern"] is not None
        and (recurrence["new_recurrence_anchor_day"] is None and recurrence["new_recurrence_rule"] is None)
    ):
        recurrence["new_recurrence_anchor_day"] = anchor_day_of(due_at, all_day=all_day, zone=task_zone)
    remind_at, before = _reminder(current, sent, changes, due_at=due_at, all_day=all_day, zone=task_zone)
    columns: dict[str, Any] = {
        "new_due_at": due_at,
        "new_due_all_day": all_day,
        "new_overdue_after": overdue_after(due_at, all_day=all_day, zone=task_zone),
        "new_remind_at": remind_at,
        "new_remind_before_minutes": before,
    }
    if remind_at != current.remind_at:
        columns["new_reminder_acknowledged_at"] = None
    return columns | recurrence


def _reminder(
    current: Schedule,
    sent: Collection[str],
    changes: Any,
    *,
    due_at: datetime | None,
    all_day: bool,
    zone: tzinfo,
) -> tuple[datetime | None, int | None]:
    """When to remind, and the minutes before the due date when set that way."""
    if "remind_before_minutes" in sent:
        before = changes.remind_before_minutes
    elif "remind_at" in sent:
        before = None
    else:
        before = current.remind_before_minutes
    if before is not None and due_at is None:
        if "remind_before_minutes" in sent or "due_date" not in sent:
            raise ScheduleConflict(
                "remind_before_minutes needs a due date: send due_date too, or remind_at instead"
            )
        before = None  # the due date was cleared: its reminder goes with it
    if before is not None and due_at is not None:
        remind_at: datetime | None = due_moment(due_at, all_day=all_day, zone=zone) - timedelta(
            minutes=before
        )
    elif "remind_at" in sent:
        remind_at = None if changes.remind_at is None else due_instant(changes.remind_at, zone)[0]
    elif "remind_before_minutes" in sent or (
        "due_date" in sent and current.remind_before_minutes is not None
    ):
        remind_at = None
    else:
        remind_at = current.remind_at
    return remind_at, before


RECURRENCE_FIELDS = frozenset({"recurrence_pattern", "recurrence_interval", "recurrence_rule"})


def _recurrence(current: Schedule, sent: Collection[str], changes: Any) -> dict[str, Any]:
    """The recurrence columns: as sent (a rule wins over a pattern), or as kept. The day of the
    month a pattern keeps is left None when it must be taken from the (new) due date."""
    rule = changes.recurrence_rule if "recurrence_rule" in sent else current.recurrence_rule
    if "recurrence_pattern" in sent and "recurrence_rule" not in sent:
        rule = None  # a pattern sent alone replaces a rule
    pattern = changes.recurrence_pattern if "recurrence_pattern" in sent else current.recurrence_pattern
    interval = changes.recurrence_interval if "recurrence_interval" in sent else current.recurrence_interval
    if rule is not None:
        pattern, interval = rule_frequency(rule)
    elif pattern in (None, "none") and "recurrence_interval" in sent and "recurrence_pattern" not in sent:
        raise ScheduleConflict("recurrence_interval needs a recurrence_pattern: send one too")
    if pattern in (None, "none"):
        return dict.fromkeys(
            (
                "new_recurrence_pattern",
                "new_recurrence_interval",
                "new_recurrence_rule",
                "new_recurrence_anchor_day",
            )
        )
    keeps_anchor = {"due_date", "recurrence_pattern", "recurrence_rule"}.isdisjoint(sent)
    return {
        "new_recurrence_pattern": pattern,
        "new_recurrence_interval": interval or 1,
        "new_recurrence_rule": rule,
        "new_recurrence_anchor_day": current.recurrence_anchor_day if keeps_anchor and rule is None else None,
    }


def due_moment(due_at: datetime, *, all_day: bool, zone: tzinfo) -> datetime:
    """The instant a task is due from: its due moment, or the start of its day in its zone."""
    if not all_day:
        return due_at
    day: date = due_at.astimezone(UTC).date()
    return datetime.combine(day, time(), zone).astimezone(UTC)
