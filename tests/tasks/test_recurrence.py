"""Recurring tasks: how they are said, and the next occurrence that completing one adds, once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.conftest import asyncpg_dsn, rows, serving
from tests.tasks.conftest import TaskApi
from tests.tasks.test_races import Auth, postgres_client  # noqa: F401  (a fixture)


async def completed(api: TaskApi, task: dict[str, Any], how: str = "toggle") -> dict[str, Any]:
    """The task completed `how`: toggled, set with /complete, or by PATCH or PUT."""
    if how == "toggle":
        response = await api.call("PATCH", "alice", task["id"], "/complete")
    elif how == "set":
        response = await api.call("PATCH", "alice", task["id"], "/complete", json={"completed": True})
    elif how == "status":
        response = await api.call("PUT", "alice", task["id"], json={"status": "completed"})
    else:
        response = await api.call("PATCH", "alice", task["id"], json={"completed": True})
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    return done


async def next_of(api: TaskApi, task: dict[str, Any]) -> dict[str, Any]:
    response = await api.get("alice", task["next_task_id"])
    assert response.status_code == 200, response.text
    following: dict[str, Any] = response.json()
    return following


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ({"recurrence_pattern": "daily"}, ("daily", 1, None)),
        ({"recurrence_pattern": "weekly", "recurrence_interval": 2}, ("weekly", 2, None)),
        ({"recurrence_pattern": "monthly", "recurrence_interval": 3.0}, ("monthly", 3, None)),
        ({"recurrence_rule": "FREQ=WEEKLY;BYDAY=MO,WE"}, ("weekly", 1, "FREQ=WEEKLY;BYDAY=MO,WE")),
        ({"recurrence_rule": "rrule:freq=monthly;interval=2"}, ("monthly", 2, "FREQ=MONTHLY;INTERVAL=2")),
        ({"recurrence_rule": "FREQ=YEARLY", "recurrence_pattern": "daily"}, ("yearly", 1, "FREQ=YEARLY")),
        ({"recurrence_pattern": "none"}, ("none", None, None)),
        ({}, ("none", None, None)),
    ],
)
async def test_a_recurrence_is_a_pattern_or_a_rule(
    api: TaskApi, body: dict[str, Any], shown: tuple[Any, ...]
) -> None:
    task = await api.create("alice", due_date="2026-12-07", **body)

    assert (task["recurrence_pattern"], task["recurrence_interval"], task["recurrence_rule"]) == shown
    assert task["is_recurring"] is (shown[0] != "none")
    assert task["next_task_id"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"due_date": "2026-12-07", "recurrence_pattern": "hourly"},
        {"due_date": "2026-12-07", "recurrence_pattern": "Daily"},
        {"due_date": "2026-12-07", "recurrence_pattern": None},
        {"due_date": "2026-12-07", "recurrence_pattern": "daily", "recurrence_interval": 0},
        {"due_date": "2026-12-07", "recurrence_pattern": "daily", "recurrence_interval": 1001},
        {"due_date": "2026-12-07", "recurrence_pattern": "daily", "recurrence_interval": "2"},
        {"due_date": "2026-12-07", "recurrence_pattern": "daily", "recurrence_interval": True},
        {"due_date": "2026-12-07", "recurrence_rule": "FREQ=HOURLY"},
        {"due_date": "2026-12-07", "recurrence_rule": "FREQ=DAILY;COUNT=3"},
        {"due_date": "2026-12-07", "recurrence_rule": "every monday"},
        {"due_date": "2026-12-07", "recurrence_rule": "DTSTART:20260101T000000\nRRULE:FREQ=DAILY"},
        {"due_date": "2026-12-07", "recurrence_rule": "FREQ=DAILY;UNTIL=20271231T000000Z"},
    ],
)
async def test_a_recurrence_that_cannot_be_kept_is_422(api: TaskApi, body: dict[str, Any]) -> None:
    response = await api.call("POST", "alice", json={"title": "t", **body})

    assert response.status_code == 422, response.text
    assert (await api.list("alice")).json() == []


@pytest.mark.parametrize("how", ["toggle", "set", "status", "completed"])
async def test_completing_a_recurring_task_adds_its_next_occurrence_once(api: TaskApi, how: str) -> None:
    task = await api.create(
        "alice",
        title="Water the plants",
        description="the big ones",
        priority="high",
        tags=["home", "Garden"],
        due_date="2026-12-07T09:00",
        timezone="Europe/Berlin",
        recurrence_pattern="weekly",
        remind_before_minutes=30,
    )

    done = await completed(api, task, how)
    following = await next_of(api, done)
    reopened = (await api.call("PATCH", "alice", task["id"], "/complete", json={"completed": False})).json()
    again = await completed(api, reopened, how)

    assert done["status"] == "completed"
    assert done["next_task_id"] == following["id"] != task["id"]
    copied = (
        "title",
        "description",
        "priority",
        "tags",
        "timezone",
        "recurrence_pattern",
        "recurrence_interval",
    )
    assert {name: following[name] for name in copied} == {name: task[name] for name in copied}
    assert (following["status"], following["due_date"], following["remind_at"]) == (
        "pending",
        "2026-12-14T09:00:00+01:00",
        "2026-12-14T08:30:00+01:00",
    )
    assert following["next_task_id"] is None
    assert reopened["next_task_id"] == following["id"]
    assert again["next_task_id"] == following["id"]
    assert len((await api.list("alice")).json()) == 2


@pytest.mark.parametrize(
    ("start", "body", "dues"),
    [
        # Monthly on the 31st: the last day of shorter months, then the 31st again.
        (
            "2027-01-31",
            {"recurrence_pattern": "monthly"},
            ["2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31"],
        ),
        # Yearly on 29 February: the 28th in common years, the 29th in leap years.
        (
            "2028-02-29",
            {"recurrence_pattern": "yearly"},
            ["2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"],
        ),
        (
            "2026-12-30",
            {"recurrence_pattern": "daily", "recurrence_interval": 2},
            ["2027-01-01", "2027-01-03"],
        ),
        (
            "2026-12-07",
            {"recurrence_rule": "FREQ=WEEKLY;BYDAY=MO,WE"},
            ["2026-12-09", "2026-12-14", "2026-12-16"],
        ),
        (
            "2026-11-30",
            {"recurrence_rule": "FREQ=MONTHLY;BYMONTHDAY=-1"},
            ["2026-12-31", "2027-01-31", "2027-02-28"],
        ),
        # Summer time starts in Berlin on 29 March 2026 and ends on 25 October: 09:00 stays 09:00.
        (
            "2026-03-28T09:00",
            {"recurrence_pattern": "daily", "timezone": "Europe/Berlin"},
            ["2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00"],
        ),
        (
            "2026-10-24T09:00",
            {"recurrence_pattern": "daily", "timezone": "Europe/Berlin"},
            ["2026-10-25T09:00:00+01:00", "2026-10-26T09:00:00+01:00"],
        ),
        (
            "2026-03-01T18:30",
            {"recurrence_rule": "FREQ=WEEKLY", "timezone": "America/New_York"},
            ["2026-03-08T18:30:00-04:00", "2026-03-15T18:30:00-04:00"],
        ),
    ],
)
async def test_next_due_dates_follow_the_rule_across_month_ends_leap_years_and_summer_time(
    api: TaskApi, start: str, body: dict[str, Any], dues: list[str]
) -> None:
    task = await api.create("alice", due_date=start, **body)

    seen = []
    for _ in dues:
        task = await next_of(api, await completed(api, task))
        seen.append(task["due_date"])

    assert seen == dues


async def test_a_series_that_has_ended_completes_without_a_next_occurrence(api: TaskApi) -> None:
    task = await api.create(
        "alice", due_date="2026-12-07", recurrence_rule="FREQ=DAILY;UNTIL=20261207T235959"
    )

    done = await completed(api, task)

    assert (done["status"], done["next_task_id"]) == ("completed", None)
    assert len((await api.list("alice")).json()) == 1


@pytest.mark.parametrize(
    ("body", "zone"),
    [
        ({"recurrence_pattern": "daily"}, "UTC"),
        ({"recurrence_rule": "FREQ=DAILY", "timezone": "Pacific/Kiritimati"}, "Pacific/Kiritimati"),
    ],
)
async def test_a_task_made_recurring_without_a_due_date_is_due_today_in_its_zone(
    api: TaskApi, body: dict[str, Any], zone: str
) -> None:
    created = await api.create("alice", **body)
    plain = await api.create("alice", title="plain", timezone=zone)
    made_recurring = (await api.call("PATCH", "alice", plain["id"], json=body)).json()

    today = datetime.now(ZoneInfo(zone)).date().isoformat()
    assert (created["due_date"], created["is_recurring"]) == (today, True)
    assert (made_recurring["due_date"], made_recurring["is_recurring"]) == (today, True)


async def test_a_recurring_task_keeps_a_due_date_and_an_interval_needs_a_pattern(api: TaskApi) -> None:
    plain = await api.create("alice", title="plain")
    recurring = await api.create("alice", title="r", due_date="2026-12-07", recurrence_pattern="daily")

    cleared = await api.call("PATCH", "alice", recurring["id"], json={"due_date": None})
    created_without = await api.call(
        "POST", "alice", json={"title": "t", "due_date": None, "recurrence_pattern": "daily"}
    )
    interval_alone = await api.call("PATCH", "alice", plain["id"], json={"recurrence_interval": 2})
    stopped = await api.call(
        "PATCH", "alice", recurring["id"], json={"due_date": None, "recurrence_pattern": "none"}
    )

    assert [response.status_code for response in (cleared, created_without, interval_alone)] == [
        409,
        409,
        409,
    ]
    assert "needs a due date" in cleared.json()["detail"]
    assert "needs a due date" in created_without.json()["detail"]
    assert "needs a recurrence_pattern" in interval_alone.json()["detail"]
    assert (stopped.status_code, stopped.json()["is_recurring"], stopped.json()["due_date"]) == (
        200,
        False,
        None,
    )
    assert (await api.get("alice", plain["id"])).json() == plain


async def test_changing_a_recurrence_on_update(api: TaskApi) -> None:
    task = await api.create("alice", due_date="2027-01-31", recurrence_rule="FREQ=WEEKLY")

    to_pattern = (await api.call("PATCH", "alice", task["id"], json={"recurrence_pattern": "monthly"})).json()
    every_two = (await api.call("PATCH", "alice", task["id"], json={"recurrence_interval": 2})).json()
    done = await completed(api, every_two)

    assert (to_pattern["recurrence_pattern"], to_pattern["recurrence_rule"]) == ("monthly", None)
    assert every_two["recurrence_interval"] == 2
    assert (await next_of(api, done))["due_date"] == "2027-03-31"


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ({"is_recurring": True, "recurrence_pattern": "weekly"}, ("weekly", None)),
        ({"is_recurring": True, "recurrence_rule": "FREQ=DAILY"}, ("daily", "FREQ=DAILY")),
        # A form's repeat switch is off: the pattern its select still holds is not a repetition.
        ({"is_recurring": False, "recurrence_pattern": "daily"}, ("none", None)),
        ({"is_recurring": False, "recurrence_rule": "FREQ=DAILY", "recurrence_interval": 3}, ("none", None)),
        ({"is_recurring": False}, ("none", None)),
    ],
)
async def test_is_recurring_is_accepted_as_the_switch_apps_send(
    api: TaskApi, body: dict[str, Any], shown: tuple[Any, ...]
) -> None:
    task = await api.create("alice", due_date="2026-12-07", **body)

    assert (task["recurrence_pattern"], task["recurrence_rule"]) == shown
    assert task["is_recurring"] is (shown[0] != "none")


@pytest.mark.parametrize(
    "body",
    [
        {"is_recurring": True},
        {"is_recurring": True, "recurrence_pattern": "none"},
        {"is_recurring": True, "recurrence_rule": None},
        {"is_recurring": "yes", "recurrence_pattern": "daily"},
        {"is_recurring": None, "recurrence_pattern": "daily"},
    ],
)
async def test_is_recurring_true_must_say_how_and_is_a_boolean(api: TaskApi, body: dict[str, Any]) -> None:
    task = await api.create("alice", due_date="2026-12-07", recurrence_pattern="daily")

    created = await api.call("POST", "alice", json={"title": "t", "due_date": "2026-12-07", **body})
    updated = await api.call("PATCH", "alice", task["id"], json=body)

    assert (created.status_code, updated.status_code) == (422, 422), (created.text, updated.text)
    assert (await api.get("alice", task["id"])).json() == task


async def test_is_recurring_false_stops_a_repetition_on_update(api: TaskApi) -> None:
    task = await api.create("alice", due_date="2026-12-07", recurrence_rule="FREQ=WEEKLY;BYDAY=MO")

    stopped = await api.call("PATCH", "alice", task["id"], json={"is_recurring": False})
    done = await completed(api, stopped.json())

    assert stopped.status_code == 200, stopped.text
    assert (done["is_recurring"], done["recurrence_pattern"], done["recurrence_rule"]) == (
        False,
        "none",
        None,
    )
    assert done["next_task_id"] is None
    assert len((await api.list("alice")).json()) == 1


async def test_completing_a_recurring_task_at_the_task_limit_is_409_and_changes_nothing(
    database_url: str, auth: Auth
) -> None:
    async with serving(database_url, max_tasks_per_user=1) as client:
        created = await client.post(
            "/api/tasks",
            json={"title": "t", "due_date": "2026-12-07", "recurrence_pattern": "daily"},
            headers=auth("alice"),
        )
        refused = await client.patch(f"/api/tasks/{created.json()['id']}/complete", headers=auth("alice"))
        after = await client.get(f"/api/tasks/{created.json()['id']}", headers=auth("alice"))

    assert refused.status_code == 409
    assert after.json() == created.json()


async def test_another_users_recurring_task_is_not_found(api: TaskApi) -> None:
    task = await api.create("bob", due_date="2026-12-07", recurrence_pattern="daily")

    response = await api.call("PATCH", "alice", task["id"], "/complete")

    assert response.status_code == 404
    assert len((await api.list("bob")).json()) == 1


@pytest.mark.parametrize("how", ["toggle", "set", "patch"])
async def test_twenty_concurrent_completions_add_one_occurrence(
    postgres_client,  # noqa: F811
    auth: Auth,
    how: str,
) -> None:
    client = postgres_client
    created = await client.post(
        "/api/tasks",
        json={"title": how, "due_date": "2026-12-07", "recurrence_pattern": "daily"},
        headers=auth("alice"),
    )
    task_url = f"/api/tasks/{created.json()['id']}"
    url = task_url if how == "patch" else f"{task_url}/complete"
    body = None if how == "toggle" else {"completed": True}

    answers = await asyncio.gather(*(client.patch(url, json=body, headers=auth("alice")) for _ in range(20)))

    assert {answer.status_code for answer in answers} == {200}
    if body is not None:
        # Each asked for completed, however the requests interleaved: a request that waited for
        # the first one's transaction finds the task completed and must leave it so.
        assert {answer.json()["status"] for answer in answers} == {"completed"}
        assert (await client.get(task_url, headers=auth("alice"))).json()["status"] == "completed"
    listed = (await client.get("/api/tasks?limit=1000", headers=auth("alice"))).json()
    occurrences = [task for task in listed if task["title"] == how]
    assert len(occurrences) == 2
    named = {answer.json()["next_task_id"] for answer in answers if answer.json()["status"] == "completed"}
    assert named == {max(task["id"] for task in occurrences)}


@pytest.mark.parametrize("how", ["toggle", "set", "patch"])
async def test_completing_a_recurring_task_honours_if_match(api: TaskApi, how: str) -> None:
    created = await api.call(
        "POST", "alice", json={"title": "Stretch", "due_date": "2026-12-07", "recurrence_pattern": "daily"}
    )
    task_id = created.json()["id"]
    suffix, body = {"toggle": ("/complete", None), "set": ("/complete", {"completed": True})}.get(
        how, ("", {"completed": True})
    )
    edited = await api.call("PATCH", "alice", task_id, json={"description": "ten minutes"})

    stale = await api.call(
        "PATCH", "alice", task_id, suffix, json=body, headers={"If-Match": created.headers["etag"]}
    )
    unchanged = await api.get("alice", task_id)
    listed_after_stale = (await api.call("GET", "alice")).json()
    fresh = await api.call(
        "PATCH", "alice", task_id, suffix, json=body, headers={"If-Match": edited.headers["etag"]}
    )

    assert stale.status_code == 412
    assert unchanged.json() == edited.json()
    assert [task["id"] for task in listed_after_stale] == [task_id]
    assert fresh.status_code == 200
    assert fresh.json()["status"] == "completed"
    assert (await api.get("alice", fresh.json()["next_task_id"])).json()["title"] == "Stretch"


async def a_request_waiting_for_a_row_lock(database_url: str) -> None:
    """Until one of the service's statements waits for a row lock taken by the test."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not await rows(
        database_url,
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'todo-api' AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'",
    ):
        if loop.time() > deadline:
            pytest.fail("the completion never waited for the task's lock")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("change", ["edited", "completed"])
async def test_a_change_landing_inside_a_recurring_completion_is_seen(
    postgres_client,  # noqa: F811
    auth: Auth,
    database_url: str,
    change: str,
) -> None:
    # Completing a recurring task takes two steps: a statement that finds the task needs its
    # next occurrence, then a transaction that reads it locked and writes. A change landing
    # between them is made to land there: the test holds a FOR KEY SHARE lock on the row, which
    # lets the first statement's UPDATE through and stops the locked read until the test has
    # changed the task and committed.
    client = postgres_client
    created = await client.post(
        "/api/tasks",
        json={"title": "Stretch", "due_date": "2026-12-07", "recurrence_pattern": "daily"},
        headers=auth("alice"),
    )
    task_id = created.json()["id"]
    url = f"/api/tasks/{task_id}/complete"
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with connection.transaction():
            await connection.execute("SELECT 1 FROM task WHERE id = $1 FOR KEY SHARE", task_id)
            if change == "edited":
                # Completion only for the version the client saw: the task changed since.
                headers = auth("alice") | {"If-Match": created.headers["etag"]}
                completing = asyncio.create_task(client.patch(url, json={"completed": True}, headers=headers))
                changed = "UPDATE task SET description = 'ten minutes', "
            else:
                # A toggle turns over the state it finds: the task completed meanwhile is reopened.
                completing = asyncio.create_task(client.patch(url, headers=auth("alice")))
                changed = "UPDATE task SET status = 'completed', "
            await a_request_waiting_for_a_row_lock(database_url)
            later = "updated_at = updated_at + interval '1 second' WHERE id = $1"
            await connection.execute(changed + later, task_id)
        answer = await completing
    finally:
        await connection.close()

    stored = (await client.get(f"/api/tasks/{task_id}", headers=auth("alice"))).json()
    listed = (await client.get("/api/tasks", headers=auth("alice"))).json()
    if change == "edited":
        assert answer.status_code == 412
        assert stored["status"] == "pending"
        assert stored["description"] == "ten minutes"
    else:
        assert answer.status_code == 200
        assert answer.json()["status"] == stored["status"] == "pending"
        assert answer.json()["completed"] is False
    assert [task["id"] for task in listed] == [task_id]
