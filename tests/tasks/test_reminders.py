"""Reminders: absolute or relative to the due date (then moving with it), listed when due until
acknowledged, and never another user's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.tasks.conftest import TaskApi


async def reminders(api: TaskApi, user: str = "alice", **params: Any) -> httpx.Response:
    return await api.call("GET", user, "reminders", params=params)


async def due_titles(api: TaskApi, **params: Any) -> list[str]:
    response = await reminders(api, **params)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


@pytest.mark.parametrize(
    ("body", "remind_at", "before"),
    [
        ({"remind_at": "2026-12-31T08:00", "timezone": "Europe/Berlin"}, "2026-12-31T08:00:00+01:00", None),
        (
            {"remind_at": "2026-12-31T07:00:00Z", "timezone": "Europe/Berlin"},
            "2026-12-31T08:00:00+01:00",
            None,
        ),
        ({"remind_at": "2026-12-31T07:00:00Z"}, "2026-12-31T07:00:00Z", None),
        (
            {"due_date": "2026-12-31T17:00", "timezone": "Europe/Berlin", "remind_before_minutes": 90},
            "2026-12-31T15:30:00+01:00",
            90,
        ),
        ({"due_date": "2026-12-31T17:00Z", "remind_before_minutes": "1h"}, "2026-12-31T16:00:00Z", 60),
        ({"due_date": "2026-12-31T17:00Z", "remind_before_minutes": "30m"}, "2026-12-31T16:30:00Z", 30),
        ({"due_date": "2026-12-31T17:00Z", "remind_before_minutes": "1h30m"}, "2026-12-31T15:30:00Z", 90),
        ({"due_date": "2026-12-31T17:00Z", "remind_before_minutes": " 2D "}, "2026-12-29T17:00:00Z", 2880),
        ({"due_date": "2026-12-31T17:00Z", "remind_before_minutes": "0"}, "2026-12-31T17:00:00Z", 0),
        ({"due_date": "2026-12-31T17:00Z", "remind_before_minutes": 30.0}, "2026-12-31T16:30:00Z", 30),
        # An all-day task is due from the start of its day, in its zone.
        (
            {"due_date": "2026-12-31", "timezone": "America/New_York", "remind_before_minutes": 60},
            "2026-12-30T23:00:00-05:00",
            60,
        ),
    ],
)
async def test_a_reminder_is_kept_as_an_instant_and_shown_in_the_tasks_zone(
    api: TaskApi, body: dict[str, Any], remind_at: str, before: int | None
) -> None:
    task = await api.create("alice", **body)

    assert (task["remind_at"], task["remind_before_minutes"], task["reminder_acknowledged"]) == (
        remind_at,
        before,
        False,
    )
    assert (await api.get("alice", task["id"])).json() == task


@pytest.mark.parametrize(
    "body",
    [
        {"remind_at": "2026-12-31"},
        {"remind_at": "tomorrow"},
        {"remind_at": 1767168000},
        {"due_date": "2026-12-31", "remind_before_minutes": -1},
        {"due_date": "2026-12-31", "remind_before_minutes": 527041},
        {"due_date": "2026-12-31", "remind_before_minutes": "an hour"},
        {"due_date": "2026-12-31", "remind_before_minutes": "1h1d"},
        {"due_date": "2026-12-31", "remind_before_minutes": "100d"},
        {"due_date": "2026-12-31", "remind_before_minutes": 30.5},
        {"due_date": "2026-12-31", "remind_before_minutes": True},
        {"due_date": "2026-12-31", "remind_before_minutes": ""},
        {"remind_before_minutes": 30},
        {"due_date": "2026-12-31", "remind_before_minutes": 30, "remind_at": "2026-12-30T09:00Z"},
    ],
)
async def test_a_reminder_that_cannot_be_kept_is_422(api: TaskApi, body: dict[str, Any]) -> None:
    response = await api.call("POST", "alice", json={"title": "t", **body})

    assert response.status_code == 422, response.text
    assert (await api.list("alice")).json() == []


async def test_a_relative_reminder_moves_with_the_due_date_and_an_absolute_one_stays(api: TaskApi) -> None:
    relative = await api.create("alice", title="r", due_date="2026-12-31T17:00Z", remind_before_minutes=60)
    absolute = await api.create(
        "alice", title="a", due_date="2026-12-31T17:00Z", remind_at="2026-12-31T09:00Z"
    )

    moved = [
        (await api.call("PATCH", "alice", task["id"], json={"due_date": "2027-01-05T10:00Z"})).json()
        for task in (relative, absolute)
    ]

    assert [(task["remind_at"], task["remind_before_minutes"]) for task in moved] == [
        ("2027-01-05T09:00:00Z", 60),
        ("2026-12-31T09:00:00Z", None),
    ]


async def test_a_new_zone_moves_an_all_day_tasks_relative_reminder(api: TaskApi) -> None:
    task = await api.create("alice", due_date="2026-12-31", remind_before_minutes=0)

    moved = (await api.call("PATCH", "alice", task["id"], json={"timezone": "Asia/Tokyo"})).json()

    assert task["remind_at"] == "2026-12-31T00:00:00Z"
    assert moved["remind_at"] == "2026-12-31T00:00:00+09:00"


async def test_clearing_the_due_date_clears_a_relative_reminder_but_not_an_absolute_one(api: TaskApi) -> None:
    relative = await api.create("alice", due_date="2026-12-31", remind_before_minutes=30)
    absolute = await api.create("alice", due_date="2026-12-31", remind_at="2026-12-30T09:00Z")

    cleared = [
        (await api.call("PATCH", "alice", task["id"], json={"due_date": None})).json()
        for task in (relative, absolute)
    ]

    assert [(task["remind_at"], task["remind_before_minutes"]) for task in cleared] == [
        (None, None),
        ("2026-12-30T09:00:00Z", None),
    ]


async def test_a_relative_reminder_for_a_task_without_a_due_date_is_refused_and_nothing_changes(
    api: TaskApi,
) -> None:
    task = await api.create("alice", title="t")

    response = await api.call(
        "PATCH", "alice", task["id"], json={"remind_before_minutes": 15, "title": "new"}
    )

    assert response.status_code == 409
    assert "remind_before_minutes needs a due date" in response.json()["detail"]
    assert (await api.get("alice", task["id"])).json() == task


async def test_one_kind_of_reminder_replaces_the_other_and_null_removes_it(api: TaskApi) -> None:
    task = await api.create("alice", due_date="2026-12-31T17:00Z", remind_before_minutes=60)

    absolute = (await api.call("PATCH", "alice", task["id"], json={"remind_at": "2026-12-31T08:00Z"})).json()
    relative = (await api.call("PATCH", "alice", task["id"], json={"remind_before_minutes": "2h"})).json()
    removed = (await api.call("PATCH", "alice", task["id"], json={"remind_before_minutes": None})).json()

    assert (absolute["remind_at"], absolute["remind_before_minutes"]) == ("2026-12-31T08:00:00Z", None)
    assert (relative["remind_at"], relative["remind_before_minutes"]) == ("2026-12-31T15:00:00Z", 120)
    assert (removed["remind_at"], removed["remind_before_minutes"]) == (None, None)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_due_reminders_are_listed_earliest_first_until_acknowledged(api: TaskApi) -> None:
    now = datetime.now(UTC)
    for title, offset in [("in an hour", 60), ("a minute ago", -1), ("yesterday", -1440), ("tomorrow", 1440)]:
        await api.create("alice", title=title, remind_at=_iso(now + timedelta(minutes=offset)))
    await api.create("alice", title="no reminder")
    await api.create("alice", title="done", remind_at=_iso(now - timedelta(hours=2)), status="completed")
    await api.create("bob", title="bob's", remind_at=_iso(now - timedelta(hours=2)))

    due_now = await due_titles(api)
    due_in_two_hours = await due_titles(api, until=_iso(now + timedelta(hours=2)))
    first_only = await due_titles(api, limit=1)
    yesterdays = next(task for task in (await api.list("alice")).json() if task["title"] == "yesterday")
    version = (await api.get("alice", yesterdays["id"])).headers["etag"]
    acknowledged = await api.call("POST", "alice", yesterdays["id"], "/reminders/ack")
    after_ack = await due_titles(api)

    assert due_now == ["yesterday", "a minute ago"]
    assert due_in_two_hours == ["yesterday", "a minute ago", "in an hour"]
    assert first_only == ["yesterday"]
    assert acknowledged.status_code == 200
    assert acknowledged.json()["reminder_acknowledged"] is True
    assert acknowledged.headers["etag"] != version
    assert after_ack == ["a minute ago"]


async def test_a_new_reminder_after_an_acknowledged_one_is_due_again(api: TaskApi) -> None:
    earlier = _iso(datetime.now(UTC) - timedelta(hours=1))
    task = await api.create("alice", title="t", remind_at=earlier)
    await api.call("POST", "alice", task["id"], "/reminders/ack")

    same = (await api.call("PATCH", "alice", task["id"], json={"title": "renamed"})).json()
    later = _iso(datetime.now(UTC) - timedelta(minutes=5))
    renewed = (await api.call("PATCH", "alice", task["id"], json={"remind_at": later})).json()

    assert same["reminder_acknowledged"] is True
    assert renewed["reminder_acknowledged"] is False
    assert await due_titles(api) == ["renamed"]


async def test_another_users_reminder_cannot_be_acknowledged(api: TaskApi) -> None:
    task = await api.create("bob", title="bob's", remind_at=_iso(datetime.now(UTC) - timedelta(hours=1)))

    response = await api.call("POST", "alice", task["id"], "/reminders/ack")

    assert response.status_code == 404
    assert await due_titles(api) == []
    assert [task["title"] for task in (await reminders(api, "bob")).json()] == ["bob's"]


@pytest.mark.parametrize("params", [{"until": "soon"}, {"until": "2026-12-31"}, {"limit": "0"}])
async def test_a_reminder_list_that_cannot_be_run_is_400(api: TaskApi, params: dict[str, str]) -> None:
    response = await reminders(api, **params)

    assert response.status_code == 400
    assert f"'{next(iter(params))}'" in response.json()["detail"]
