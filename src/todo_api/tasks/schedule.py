"""When a task is due and when to remind its owner: what the table keeps, worked out from what it
keeps now and what a request changes.

A reminder is absolute (`remind_at`, an instant or a local date-time in the task's zone) or
relative (`remind_before_minutes` before the due date; an all-day task is due from the start of
its day in its zone). A relative reminder moves with the due date, and goes when the due date
does. Either way the table keeps the instant to remind at, so that a list of due reminders is
one comparison; a new instant is a new reminder, not yet acknowledged.

Plain functions on plain values: no framework, no database.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from todo_api.tasks.due_dates import due_instant, overdue_after, zone

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
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one kind of number: 30.0 is 30
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


class NoDueDate(ValueError):
    """A relative reminder for a task without a due date."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A task's due date, time zone and reminder as the table keeps them."""

    timezone: str | None = None
    due_at: datetime | None = None
    due_all_day: bool = False
    remind_at: datetime | None = None
    remind_before_minutes: int | None = None

    @classmethod
    def of(cls, row: Any) -> Schedule:
        return cls(
            timezone=row["timezone"],
            due_at=row["due_at"],
            due_all_day=row["due_all_day"],
            remind_at=row["remind_at"],
            remind_before_minutes=row["remind_before_minutes"],
        )


def rescheduled(current: Schedule, sent: Collection[str], changes: Any) -> dict[str, Any]:
    """The columns to write for a task whose schedule is `current`, given the fields `sent` of
    `changes` (a TaskCreate or TaskUpdate): its due date, time zone and reminder. NoDueDate if a
    relative reminder is left without a due date it could be relative to."""
    zone_name = changes.timezone if "timezone" in sent else current.timezone
    task_zone = zone(zone_name)
    if "due_date" in sent:
        due_at, all_day = (
            (None, False) if changes.due_date is None else due_instant(changes.due_date, task_zone)
        )
    else:
        # A new zone keeps the due moment (and an all-day task's date).
        due_at, all_day = current.due_at, current.due_all_day
    if "remind_before_minutes" in sent:
        before = changes.remind_before_minutes
    elif "remind_at" in sent:
        before = None
    else:
        before = current.remind_before_minutes
    if before is not None and due_at is None:
        if "remind_before_minutes" in sent or "due_date" not in sent:
            raise NoDueDate("remind_before_minutes needs a due date: send due_date too, or remind_at instead")
        before = None  # the due date was cleared: its reminder goes with it
    if before is not None and due_at is not None:
        remind_at: datetime | None = due_moment(due_at, all_day=all_day, zone=task_zone) - timedelta(
            minutes=before
        )
    elif "remind_at" in sent:
        remind_at = None if changes.remind_at is None else due_instant(changes.remind_at, task_zone)[0]
    elif "remind_before_minutes" in sent or (
        "due_date" in sent and current.remind_before_minutes is not None
    ):
        remind_at = None
    else:
        remind_at = current.remind_at
    columns: dict[str, Any] = {
        "new_due_at": due_at,
        "new_due_all_day": all_day,
        "new_overdue_after": overdue_after(due_at, all_day=all_day, zone=task_zone),
        "new_remind_at": remind_at,
        "new_remind_before_minutes": before,
    }
    if remind_at != current.remind_at:
        columns["new_reminder_acknowledged_at"] = None
    return columns


def due_moment(due_at: datetime, *, all_day: bool, zone: tzinfo) -> datetime:
    """The instant a task is due from: its due moment, or the start of its day in its zone."""
    if not all_day:
        return due_at
    day: date = due_at.astimezone(UTC).date()
    return datetime.combine(day, time(), zone).astimezone(UTC)
