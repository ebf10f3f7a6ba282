"""Due dates: the three forms clients send, read in the task's time zone, returned so they
round-trip; `overdue` at response time; `due_at` as another name for `due_date`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.tasks.conftest import TaskApi
from todo_api.tasks.due_dates import is_overdue, overdue_after

BERLIN = ZoneInfo("Europe/Berlin")


async def created(api: TaskApi, **body: Any) -> dict[str, Any]:
    """The created task, checked to read back the same."""
    task = await api.create("alice", **body)
    assert (await api.get("alice", task["id"])).json() == task
    return task


async def test_a_task_without_a_due_date_shows_none_in_utc(api: TaskApi) -> None:
    task = await created(api)

    assert (task["due_date"], task["timezone"], task["overdue"]) == (None, "UTC", False)


@pytest.mark.parametrize("timezone", [None, "Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
async def test_a_date_is_an_all_day_task_shown_as_that_date_in_any_zone(
    api: TaskApi, timezone: str | None
) -> None:
    body = {"due_date": "2026-12-31"} | ({"timezone": timezone} if timezone else {})

    task = await created(api, **body)

    assert task["due_date"] == "2026-12-31"
    assert task["timezone"] == (timezone or "UTC")


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("2026-12-31T17:00", "2026-12-31T17:00:00Z"),
        ("2026-12-31T17:00:05", "2026-12-31T17:00:05Z"),
        ("2026-12-31 17:00", "2026-12-31T17:00:00Z"),
    ],
)
async def test_a_local_date_time_without_a_zone_is_read_in_utc(api: TaskApi, sent: str, shown: str) -> None:
    task = await created(api, due_date=sent)

    assert task["due_date"] == shown
    assert task["due_date"][:16] == sent[:10] + "T" + sent[11:16]


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("2026-12-31T17:00", "2026-12-31T17:00:00+01:00"),  # winter time
        ("2026-07-01T17:00:30", "2026-07-01T17:00:30+02:00"),  # summer time
        # The night of the spring change (02:00 becomes 03:00): either side of it...
        ("2026-03-29T01:30", "2026-03-29T01:30:00+01:00"),
        ("2026-03-29T03:30", "2026-03-29T03:30:00+02:00"),
        # ...and a time it skips, read as if the clocks had not yet changed.
        ("2026-03-29T02:30", "2026-03-29T03:30:00+02:00"),
        # The autumn change (03:00 becomes 02:00): a time that happens twice is the first one.
        ("2026-10-25T02:30", "2026-10-25T02:30:00+02:00"),
        ("2026-10-25T03:30", "2026-10-25T03:30:00+01:00"),
    ],
)
async def test_a_local_date_time_is_read_in_the_tasks_zone_across_dst(
    api: TaskApi, sent: str, shown: str
) -> None:
    task = await created(api, due_date=sent, timezone="Europe/Berlin")

    assert task["due_date"] == shown


@pytest.mark.parametrize(
    ("sent", "timezone", "shown"),
    [
        ("2026-12-31T17:00:00Z", None, "2026-12-31T17:00:00Z"),
        ("2026-12-31T17:00:00z", None, "2026-12-31T17:00:00Z"),
        ("2026-12-31T17:00:00+05:30", None, "2026-12-31T11:30:00Z"),
        ("2026-12-31T17:00:00+05:30", "Europe/Berlin", "2026-12-31T12:30:00+01:00"),
        ("2026-12-31T17:00:00.250-03:00", "America/New_York", "2026-12-31T15:00:00.250000-05:00"),
        # An instant either side of Berlin's spring change.
        ("2026-03-29T00:59:59Z", "Europe/Berlin", "2026-03-29T01:59:59+01:00"),
        ("2026-03-29T01:00:00Z", "Europe/Berlin", "2026-03-29T03:00:00+02:00"),
        ("2026-12-31T17:00+01:00", "Europe/Berlin", "2026-12-31T17:00:00+01:00"),
    ],
)
async def test_a_date_time_with_an_offset_is_that_instant_shown_in_the_tasks_zone(
    api: TaskApi, sent: str, timezone: str | None, shown: str
) -> None:
    task = await created(api, due_date=sent, **({"timezone": timezone} if timezone else {}))

    assert task["due_date"] == shown
    assert datetime.fromisoformat(task["due_date"]) == datetime.fromisoformat(sent.replace("z", "Z"))


async def test_what_comes_back_is_taken_back_unchanged(api: TaskApi) -> None:
    for body in (
        {"due_date": "2026-12-31"},
        {"due_date": "2026-03-29T03:30", "timezone": "Europe/Berlin"},
        {"due_date": "2026-12-31T17:00:00.5Z", "timezone": "Asia/Kolkata"},
    ):
        task = await api.create("alice", **body)
        again = await api.create("alice", due_date=task["due_date"], timezone=task["timezone"])
        assert again["due_date"] == task["due_date"]


async def test_due_at_is_another_name_for_due_date(api: TaskApi) -> None:
    task = await created(api, due_at="2026-12-31T17:00", timezone="Europe/Berlin")
    updated = await api.call("PATCH", "alice", task["id"], json={"due_at": "2027-01-02"})

    assert task["due_date"] == "2026-12-31T17:00:00+01:00"
    assert "due_at" not in task
    assert updated.json()["due_date"] == "2027-01-02"


@pytest.mark.parametrize(
    ("due_date", "due_at"),
    [
        ("2026-12-31T17:00:00+01:00", "2026-12-31T16:00Z"),
        ("2026-12-31", "2027-01-01"),
        (None, None),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_due_date_and_due_at_are_one_field_sent_under_one_name(
    api: TaskApi, method: str, due_date: str | None, due_at: str | None
) -> None:
    task = await created(api, title="t")
    body = {"title": "t", "due_date": due_date, "due_at": due_at}

    refused = await api.call(method, "alice", None if method == "POST" else task["id"], json=body)

    assert refused.status_code == 422
    assert "'due_at' is another name for 'due_date': send one of them, not both" in refused.text
    assert (await api.get("alice", task["id"])).json() == task


@pytest.mark.parametrize("name", ["due_date", "due_at"])
async def test_null_clears_the_due_date(api: TaskApi, name: str) -> None:
    task = await created(api, due_date="2001-01-01")

    response = await api.call("PATCH", "alice", task["id"], json={name: None})

    assert response.status_code == 200
    assert (response.json()["due_date"], response.json()["overdue"]) == (None, False)


async def test_an_update_reads_a_local_date_time_in_the_tasks_stored_zone(api: TaskApi) -> None:
    task = await created(api, title="t", timezone="Asia/Tokyo")

    response = await api.call("PUT", "alice", task["id"], json={"due_date": "2026-12-31T09:00"})

    assert response.status_code == 200
    assert response.json()["due_date"] == "2026-12-31T09:00:00+09:00"
    assert response.headers["etag"] != ""
    assert (await api.get("alice", task["id"])).json() == response.json()


async def test_an_update_reads_a_local_date_time_in_the_zone_it_sends(api: TaskApi) -> None:
    task = await created(api, title="t", timezone="Asia/Tokyo")

    response = await api.call(
        "PATCH", "alice", task["id"], json={"due_date": "2026-12-31T09:00", "timezone": "America/Chicago"}
    )

    assert response.json()["due_date"] == "2026-12-31T09:00:00-06:00"


async def test_a_local_date_time_for_another_users_task_is_not_found(api: TaskApi) -> None:
    theirs = await api.create("bob", timezone="Asia/Tokyo")

    response = await api.call("PATCH", "alice", theirs["id"], json={"due_date": "2026-12-31T09:00"})

    assert response.status_code == 404
    assert (await api.get("bob", theirs["id"])).json() == theirs


async def test_a_local_date_time_honours_if_match(api: TaskApi) -> None:
    task = await created(api, timezone="Asia/Tokyo")
    stale = {"If-Match": '"0-0"'}

    refused = await api.call(
        "PATCH", "alice", task["id"], json={"due_date": "2026-12-31T09:00"}, headers=stale
    )
    current = {"If-Match": (await api.get("alice", task["id"])).headers["etag"]}
    accepted = await api.call(
        "PATCH", "alice", task["id"], json={"due_date": "2026-12-31T09:00"}, headers=current
    )

    assert refused.status_code == 412
    assert accepted.status_code == 200


async def test_changing_only_the_zone_keeps_the_moment_and_an_all_day_tasks_date(api: TaskApi) -> None:
    timed = await created(api, due_date="2026-12-31T17:00", timezone="Europe/Berlin")
    all_day = await created(api, due_date="2026-12-31", timezone="Europe/Berlin")

    moved = await api.call("PATCH", "alice", timed["id"], json={"timezone": "America/New_York"})
    kept = await api.call("PATCH", "alice", all_day["id"], json={"timezone": "Pacific/Auckland"})
    to_utc = await api.call("PATCH", "alice", timed["id"], json={"timezone": None})

    assert moved.json()["due_date"] == "2026-12-31T11:00:00-05:00"
    assert kept.json()["due_date"] == "2026-12-31"
    assert (to_utc.json()["timezone"], to_utc.json()["due_date"]) == ("UTC", "2026-12-31T16:00:00Z")


async def test_a_zone_name_is_taken_in_any_case_and_shown_as_spelled(api: TaskApi) -> None:
    task = await created(api, timezone="europe/BERLIN")

    assert task["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    "timezone", ["Mars/Olympus_Mons", "", "Europe/Berlin ", "localtime", "+01:00", 1, "x" * 65]
)
async def test_an_unknown_zone_is_refused_naming_the_field(api: TaskApi, timezone: object) -> None:
    response = await api.call("POST", "alice", json={"title": "t", "timezone": timezone})

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "timezone"]]


@pytest.mark.parametrize(
    "sent",
    [
        "31/12/2026",
        "2026-02-30",
        "0000-12-31",
        "10000-01-01",
        "2026-12-31T24:00",
        "2026-12-31T17",
        "2026-12-31T17:00+24:00",
        "2026-12-31T17:00+01:60",
        "2026-12-31T17:00:00 +01:00",
        "2026-W53-4",
        "20261231",
        "tomorrow",
        "",
        "\uff12\uff10\uff12\uff16-12-31",  # digits, but not ASCII ones
        # Not on the calendar's first or last day: a date-time there may have no time in UTC or
        # in the task's zone (and 0001-01-01T00:00Z is -infinity to asyncpg).
        "0001-01-01",
        "0001-01-01T12:00",
        "0001-01-01T12:00Z",
        "9999-12-31",
        "9999-12-31T00:00",
        20261231,
        True,
    ],
)
async def test_anything_else_is_refused_saying_which_forms_are_accepted(api: TaskApi, sent: object) -> None:
    response = await api.call("POST", "alice", json={"title": "t", "due_date": sent})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "due_date"]
    for form in ("2026-12-31", "2026-12-31T17:00", "2026-12-31T17:00:00+01:00", "0001-01-02", "9999-12-30"):
        assert form in error["msg"]


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("0001-01-02", "0001-01-02"),
        ("9999-12-30", "9999-12-30"),
        # Kiritimati's local mean time then, -10:29:20, is no RFC 3339 offset: shown in UTC.
        ("0001-01-02T00:00", "0001-01-02T10:29:20Z"),
        ("9999-12-30T23:59:59.999999", "9999-12-30T23:59:59.999999+14:00"),
    ],
)
async def test_the_first_and_last_accepted_days_are_due_dates(api: TaskApi, sent: str, shown: str) -> None:
    task = await created(api, due_date=sent, timezone="Pacific/Kiritimati")

    assert task["due_date"] == shown


@pytest.mark.parametrize(
    ("body", "overdue"),
    [
        ({"due_date": "2001-01-01"}, True),
        ({"due_date": "2001-01-01T09:00", "timezone": "Asia/Tokyo"}, True),
        ({"due_date": "2001-01-01T09:00:00Z"}, True),
        ({"due_date": "2099-12-31"}, False),
        ({"due_date": "2099-12-31T09:00", "timezone": "Pacific/Pago_Pago"}, False),
        ({"due_date": "2001-01-01", "status": "in_progress"}, True),
        ({"due_date": "2001-01-01", "completed": True}, False),
        ({"due_date": "2001-01-01T09:00:00Z", "status": "completed"}, False),
        ({}, False),
    ],
)
async def test_overdue_is_past_due_and_not_completed(
    api: TaskApi, body: dict[str, Any], overdue: bool
) -> None:
    task = await created(api, **body)

    assert task["overdue"] is overdue


async def test_completing_an_overdue_task_ends_it_being_overdue(api: TaskApi) -> None:
    task = await created(api, due_date="2001-01-01")

    done = await api.call("PATCH", "alice", task["id"], suffix="/complete")
    reopened = await api.call("PATCH", "alice", task["id"], suffix="/complete")

    assert (task["overdue"], done.json()["overdue"], reopened.json()["overdue"]) == (True, False, True)


async def test_listed_tasks_show_their_due_dates(api: TaskApi) -> None:
    task = await api.create("alice", due_date="2026-12-31T17:00", timezone="Europe/Berlin")

    assert (await api.list("alice")).json() == [task]


# `overdue` on a clock the test sets: a timed task at its moment, an all-day one at its day's end.
NOON = datetime(2026, 12, 31, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "overdue"),
    [
        (datetime(2026, 12, 31, 11, 59, 59, 999999, tzinfo=UTC), False),
        (NOON, False),
        (datetime(2026, 12, 31, 12, 0, 0, 1, tzinfo=UTC), True),
    ],
)
def test_a_timed_task_is_overdue_once_its_moment_has_passed(now: datetime, overdue: bool) -> None:
    overdue_at = overdue_after(NOON, all_day=False, zone=BERLIN)

    assert is_overdue(overdue_at, done=False, now=now) is overdue


@pytest.mark.parametrize(
    ("now", "zone", "overdue"),
    [
        # Its day ends at midnight in the task's zone: 23:00 UTC in Berlin...
        (datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC), BERLIN, False),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), BERLIN, True),
        # ...05:00 UTC the next day in New York, and 10:00 UTC the day before in Kiritimati.
        (datetime(2027, 1, 1, 4, 59, tzinfo=UTC), ZoneInfo("America/New_York"), False),
        (datetime(2027, 1, 1, 5, 0, tzinfo=UTC), ZoneInfo("America/New_York"), True),
        (datetime(2026, 12, 31, 9, 59, tzinfo=UTC), ZoneInfo("Pacific/Kiritimati"), False),
        (datetime(2026, 12, 31, 10, 0, tzinfo=UTC), ZoneInfo("Pacific/Kiritimati"), True),
    ],
)
def test_an_all_day_task_is_overdue_once_its_day_has_ended_in_its_zone(
    now: datetime, zone: ZoneInfo, overdue: bool
) -> None:
    due_at = datetime.combine(date(2026, 12, 31), datetime.min.time(), UTC)

    overdue_at = overdue_after(due_at, all_day=True, zone=zone)

    assert is_overdue(overdue_at, done=False, now=now) is overdue
    assert is_overdue(overdue_at, done=True, now=now) is False


async def test_reopening_a_task_while_moving_its_due_date_does_both(api: TaskApi) -> None:
    # A due date change takes the read-then-write path; `completed: false` must reopen there too.
    task = await api.create("alice", title="Renew passport", due_date="2026-12-10")
    assert (await api.call("PATCH", "alice", task["id"], "/complete")).json()["status"] == "completed"

    reopened = await api.call(
        "PATCH", "alice", task["id"], json={"completed": False, "due_date": "2027-01-15"}
    )

    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["due_date"]) == ("pending", "2027-01-15")
