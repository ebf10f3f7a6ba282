"""Due dates as clients send them, as the table keeps them, and as tasks show them.

Three forms come in: a date (`2026-12-31`, an all-day task), a local date-time without an offset
(`2026-12-31T17:00`, what `<input type="datetime-local">` sends), read in the task's time zone,
and an RFC 3339 date-time with an offset or `Z`, an instant. The table keeps an instant in UTC
and whether the task is all-day. An all-day task keeps its date as midnight UTC of that date,
not as the start of that day in its time zone: its date then never depends on the zone (which
may change later) and a date bound of a list filter, a whole day in UTC, finds it on its date.
It is overdue once its day has ended in the task's time zone.

Plain functions on plain values: no framework, no database.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# What a client may send, in words: the error for anything else, and the fields' descriptions.
DUE_DATE_FORMS = (
    "a date (2026-12-31) for an all-day task, a local date-time without an offset "
    "(2026-12-31T17:00 or 2026-12-31T17:00:00), read in the task's timezone, or an RFC 3339 "
    "date-time with an offset (2026-12-31T17:00:00+01:00 or 2026-12-31T16:00:00Z); "
    "on a day from 0001-01-02 to 9999-12-30"
)
TIMEZONE_RULE = "an IANA time zone name such as Europe/Berlin, America/New_York or UTC"

# The shape of the three forms (the parts are then read by `date` and `datetime`).
_FORM = re.compile(
    r"(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt ](?P<clock>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.(?P<fraction>[0-9]+))?)?)"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?)?",
    re.ASCII,
)
# A day inside the calendar: a date-time then has a UTC time and a time in every zone, and no due
# date is 0001-01-01T00:00Z, which asyncpg writes as PostgreSQL's -infinity (datetime.min).
_FIRST_DAY = date(1, 1, 2)
_LAST_DAY = date(9999, 12, 30)
# Names `zoneinfo` knows that are no place: the host's own zone and tzcode's internals.
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


def parse_due_date(value: object) -> date | datetime:
    """A due date as sent: a `date`, a naive (local) `datetime` or an aware one (an instant)."""
    if not isinstance(value, str) or (form := _FORM.fullmatch(value)) is None:
        raise ValueError(f"must be {DUE_DATE_FORMS}")
    try:
        day = date.fromisoformat(form["day"])
        if not _FIRST_DAY <= day <= _LAST_DAY:
            raise ValueError("out of range")
        if form["clock"] is None:
            return day
        clock, fraction = form["clock"].partition(".")[::2]
        moment = datetime.combine(day, time.fromisoformat(clock))
        moment += timedelta(microseconds=int((fraction + "000000")[:6])) if fraction else timedelta()
        if form["offset"] is None:
            return moment
        return moment.replace(tzinfo=_offset(form["offset"])).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"must be {DUE_DATE_FORMS}") from None


def _offset(text: str) -> tzinfo:
    if text in ("Z", "z"):
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if minutes > 59:
        raise ValueError("not an offset")
    span = timedelta(hours=hours, minutes=minutes)
    return timezone(-span if text[0] == "-" else span)


def is_instant(value: date | datetime) -> bool:
    """Whether `value` is an instant, which needs no time zone (a date or a local date-time does)."""
    return isinstance(value, datetime) and value.tzinfo is not None


def due_instant(value: date | datetime, zone: tzinfo) -> tuple[datetime, bool]:
    """What the table keeps for a due date: the instant in UTC, and whether it is all-day."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC), False
    return datetime.combine(value, time(), UTC), True


def due_date_text(due_at: datetime | None, *, all_day: bool, zone: tzinfo) -> str | None:
    """A due date as tasks show it: `2026-12-31` when all-day, else RFC 3339 in the task's zone."""
    if due_at is None:
        return None
    if all_day:
        return due_at.astimezone(UTC).date().isoformat()
    try:
        local = due_at.astimezone(zone)
    except OverflowError:  # a moment at the calendar's edge, in a zone a day away from UTC
        local = due_at.astimezone(UTC)
    offset = local.utcoffset()
    if offset is None or offset % timedelta(minutes=1):
        # A zone's local mean time before standard time (Berlin was +00:53:28): RFC 3339 offsets
        # have no seconds, so such a moment is shown in UTC.
        local = due_at.astimezone(UTC)
    text = local.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def overdue_after(due_at: datetime | None, *, all_day: bool, zone: tzinfo) -> datetime | None:
    """The last instant a task due at `due_at` is on time (kept beside it, so that a list can
    filter on it): its due moment, or for an all-day task the last microsecond of its day in its
    time zone."""
    if due_at is None or not all_day:
        return due_at
    next_day = due_at.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(next_day, time(), zone).astimezone(UTC) - timedelta(microseconds=1)


def is_overdue(overdue_after: datetime | None, *, done: bool, now: datetime) -> bool:
    """Not done, and past its due moment (an all-day task: its day has ended in its zone)."""
    return not done and overdue_after is not None and overdue_after < now


@functools.cache
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones() - _NOT_PLACES}


def zone_name(value: str) -> str:
    """The IANA name as the database of time zones spells it (`europe/berlin` is Europe/Berlin)."""
    name = _zone_names().get(value.casefold())
    if name is None:
        raise ValueError(f"must be {TIMEZONE_RULE}")
    return name


@functools.cache
def zone(name: str | None) -> tzinfo:
    """A task's time zone from its stored name; UTC when it has none (or the host no longer
    knows the name, after an update of its time zone data)."""
    try:
        return UTC if name is None else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
