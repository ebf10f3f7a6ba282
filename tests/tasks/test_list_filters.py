"""Listing by priority, completion, due date and overdue, sorting by priority and due date, and
the names other apps give these parameters; a search planned with its values on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.datastructures import QueryParams

from tests.conftest import eventually, rows, serving
from tests.tasks.conftest import TaskApi
from todo_api.db.engine import APPLICATION_NAME, PLANNING_POOL_SUFFIX
from todo_api.tasks import router as task_router
from todo_api.tasks import service as task_service
from todo_api.tasks.dependencies import list_filter

PRIORITIES = ["low", "medium", "high", "urgent"]


async def titles(api: TaskApi, **params: Any) -> list[str]:
    response = await api.list("alice", **params)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


async def _by_priority(api: TaskApi) -> None:
    # Created in this order, so newest first is the reverse.
    for title, priority in [
        ("l1", "low"),
        ("m1", "medium"),
        ("h1", "high"),
        ("u1", "urgent"),
        ("h2", "high"),
    ]:
        await api.create("alice", title=title, priority=priority)
    await api.create("bob", title="bob's urgent task", priority="urgent")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"priority": "high"}, ["h2", "h1"]),
        ({"priority": "HIGH"}, ["h2", "h1"]),
        ({"priority": ["high", "low"]}, ["h2", "h1", "l1"]),
        ({"priority": "urgent,low"}, ["u1", "l1"]),
        ({"priority": " low , high "}, ["h2", "h1", "l1"]),
        ({"priority": "critical"}, ["u1"]),
        ({"priority": "Normal"}, ["m1"]),
        ({"priority": ["low,medium", "high", "urgent"]}, ["h2", "u1", "h1", "m1", "l1"]),
        ({"priority": "high,"}, ["h2", "h1"]),
        # A form's "any priority" and empty date fields: no filter.
        ({"priority": "", "due_date_from": "", "due_before": ""}, ["h2", "u1", "h1", "m1", "l1"]),
    ],
)
async def test_priority_filter_takes_one_or_several_in_any_spelling(
    api: TaskApi, params: dict[str, Any], expected: list[str]
) -> None:
    await _by_priority(api)

    response = await api.list("alice", **params)

    assert [task["title"] for task in response.json()] == expected
    assert response.headers["x-total-count"] == str(len(expected))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sort": "priority"}, ["l1", "m1", "h1", "h2", "u1"]),
        ({"sort": "-priority"}, ["u1", "h2", "h1", "m1", "l1"]),
        ({"sort_by": "priority"}, ["l1", "m1", "h1", "h2", "u1"]),
        ({"sort_by": "priority", "sort_order": "desc"}, ["u1", "h2", "h1", "m1", "l1"]),
        ({"sort_by": "priority", "order": "desc"}, ["u1", "h2", "h1", "m1", "l1"]),
        ({"sort": "-priority", "order": "desc"}, ["u1", "h2", "h1", "m1", "l1"]),
        ({"sort": "-priority", "sort_order": "asc"}, ["l1", "m1", "h1", "h2", "u1"]),
        ({"sort": "priority", "sort_by": "priority"}, ["l1", "m1", "h1", "h2", "u1"]),
        ({"sort_order": "asc"}, ["l1", "m1", "h1", "u1", "h2"]),
        ({"order": "desc"}, ["h2", "u1", "h1", "m1", "l1"]),
    ],
)
async def test_sorting_by_priority_is_by_rank_with_ties_by_id(
    api: TaskApi, params: dict[str, Any], expected: list[str]
) -> None:
    await _by_priority(api)

    assert await titles(api, **params) == expected


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"sort": "title", "sort_by": "priority"}, "'sort'"),
        ({"sort_order": "asc", "order": "desc"}, "'sort_order'"),
        ({"due_date_from": "2026-01-01", "due_after": "2026-01-02"}, "'due_date_from'"),
        ({"due_date_to": "2026-01-01", "due_before": "2026-01-02"}, "'due_date_to'"),
    ],
)
async def test_two_names_for_one_parameter_must_agree(
    api: TaskApi, params: dict[str, Any], named: str
) -> None:
    response = await api.list("alice", **params)

    assert response.status_code == 400
    assert named in response.json()["detail"]


async def test_completed_filters_beside_status(api: TaskApi) -> None:
    for title, status in [("p", "pending"), ("w", "in_progress"), ("c", "completed")]:
        await api.create("alice", title=title, status=status)

    assert await titles(api, completed="true") == ["c"]
    assert await titles(api, completed="false") == ["w", "p"]
    assert await titles(api, completed="false", status="in_progress") == ["w"]
    assert await titles(api, completed="true", status="pending") == []


async def _due(api: TaskApi) -> None:
    for title, due in [
        ("before", "2026-11-30T23:59:59.999999Z"),
        ("first moment", "2026-12-01T00:00Z"),
        ("all day on the 1st", "2026-12-01"),
        ("in Berlin on the 10th", "2026-12-10T00:30+01:00"),
        ("last moment", "2026-12-10T23:59:59.999999Z"),
        ("after", "2026-12-11"),
    ]:
        await api.create("alice", title=title, due_date=due)
    await api.create("alice", title="no due date")


@pytest.mark.parametrize(
    "params",
    [
        {"due_date_from": "2026-12-01", "due_date_to": "2026-12-10"},
        {"due_after": "2026-12-01", "due_before": "2026-12-10"},
        {"due_date_from": "2026-12-01T00:00Z", "due_before": "2026-12-10T23:59:59.999999Z"},
        {"due_after": "2026-12-01T01:00+01:00", "due_date_to": "2026-12-11T00:59:59.999999+01:00"},
        {"due_date_from": "2026-12-01T00:00", "due_date_to": "2026-12-10T23:59:59.999999"},
    ],
)
async def test_a_due_range_takes_in_both_of_its_ends(api: TaskApi, params: dict[str, str]) -> None:
    await _due(api)

    listed = await titles(api, sort="due_date", **params)

    assert listed == ["first moment", "all day on the 1st", "in Berlin on the 10th", "last moment"]


async def test_one_end_of_a_due_range_and_has_due_date(api: TaskApi) -> None:
    await _due(api)

    assert await titles(api, sort="due_date", due_date_from="2026-12-10T23:59:59.999999Z") == [
        "last moment",
        "after",
    ]
    assert await titles(api, sort="due_date", due_before="2026-11-30") == ["before"]
    assert await titles(api, has_due_date="false") == ["no due date"]
    assert len(await titles(api, has_due_date="true")) == 6


@pytest.mark.parametrize(
    "order", [{"sort": "due_date"}, {"sort_by": "-due_date"}, {"order": "desc", "sort": "due_date"}]
)
async def test_tasks_without_a_due_date_come_last_in_both_directions(
    api: TaskApi, order: dict[str, str]
) -> None:
    await api.create("alice", title="none 1")
    for title, due in [("b", "2026-12-02"), ("a", "2026-12-01"), ("c", "2026-12-03")]:
        await api.create("alice", title=title, due_date=due)
    await api.create("alice", title="none 2")

    listed = await titles(api, **order)

    dated = ["a", "b", "c"] if order.get("sort") == "due_date" and "order" not in order else ["c", "b", "a"]
    undated = ["none 1", "none 2"] if dated[0] == "a" else ["none 2", "none 1"]
    assert listed == dated + undated


async def test_a_task_is_not_overdue_at_the_instant_it_falls_due(
    api: TaskApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The boundary needs the list's "now" to be the due moment to the microsecond: the task
    # service's and the routes' clock are held there (the tokens keep the real one).
    now = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(task_service, "utc_now", lambda: now)
    monkeypatch.setattr(task_router, "utc_now", lambda: now)
    for title, due in [
        ("a minute ago", now - timedelta(minutes=1)),
        ("now", now),
        ("in a minute", now + timedelta(minutes=1)),
    ]:
        await api.create("alice", title=title, due_date=due.isoformat())

    shown = {task["title"]: task["overdue"] for task in (await api.list("alice")).json()}

    assert shown == {"a minute ago": True, "now": False, "in a minute": False}
    assert await titles(api, overdue="true") == ["a minute ago"]
    assert await titles(api, overdue="false") == ["in a minute", "now"]


async def test_overdue_lists_exactly_the_tasks_shown_overdue(api: TaskApi) -> None:
    today = datetime.now(UTC).date()
    bodies: list[dict[str, Any]] = [
        {"title": "long past", "due_date": "2001-01-01"},
        {"title": "a minute ago", "due_date": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
        {"title": "done long ago", "due_date": "2001-01-01", "status": "completed"},
        {"title": "far ahead", "due_date": "2999-01-01"},
        {"title": "never due"},
    ]
    for zone in ("Pacific/Kiritimati", "UTC", "Pacific/Pago_Pago"):
        for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
            bodies.append({"title": f"{day} in {zone}", "due_date": day.isoformat(), "timezone": zone})
    tasks = [await api.create("alice", **body) for body in bodies]

    overdue = await titles(api, overdue="true")
    not_overdue = await titles(api, overdue="false")

    shown = {task["title"]: task["overdue"] for task in (await api.list("alice", limit=1000)).json()}
    assert sorted(overdue) == sorted(title for title, late in shown.items() if late)
    assert sorted(not_overdue) == sorted(title for title, late in shown.items() if not late)
    assert {"long past", "a minute ago"} <= set(overdue)
    assert {"done long ago", "far ahead", "never due"} <= set(not_overdue)
    assert len(overdue) + len(not_overdue) == len(tasks)


def _day_ended_in_kiritimati_not_in_pago_pago() -> str:
    """A date whose day has ended in Kiritimati (UTC+14) but not in Pago Pago (UTC-11): such a
    day runs from 10:00 UTC on it to 11:00 UTC the day after, so one is always at hand."""
    now = datetime.now(UTC)
    return (now.date() if now.hour >= 10 else now.date() - timedelta(days=1)).isoformat()


async def test_a_new_time_zone_moves_the_end_of_an_all_day_tasks_day(api: TaskApi) -> None:
    day = _day_ended_in_kiritimati_not_in_pago_pago()
    task = await api.create("alice", title="t", due_date=day, timezone="Pacific/Kiritimati")

    moved = (await api.call("PATCH", "alice", task["id"], json={"timezone": "Pacific/Pago_Pago"})).json()
    listed_after_move = await titles(api, overdue="true")
    redated = (await api.call("PATCH", "alice", task["id"], json={"due_date": day})).json()
    listed_after_redate = await titles(api, overdue="true")
    back = (
        await api.call("PATCH", "alice", task["id"], json={"due_date": day, "timezone": "Pacific/Kiritimati"})
    ).json()

    assert task["overdue"] is True
    assert (moved["overdue"], listed_after_move) == (False, [])
    assert (redated["overdue"], redated["timezone"], listed_after_redate) == (False, "Pacific/Pago_Pago", [])
    assert back["overdue"] is True
    assert await titles(api, overdue="true") == ["t"]


async def test_a_timed_task_keeps_its_moment_when_its_zone_changes(api: TaskApi) -> None:
    task = await api.create("alice", title="t", due_date="2001-01-01T12:00Z")

    moved = (await api.call("PATCH", "alice", task["id"], json={"timezone": "Asia/Kolkata"})).json()

    assert (moved["due_date"], moved["overdue"]) == ("2001-01-01T17:30:00+05:30", True)
    assert await titles(api, overdue="true") == ["t"]


async def test_filters_combine_and_pages_keep_them(api: TaskApi) -> None:
    for index in range(5):
        await api.create("alice", title=f"high {index}", priority="high", due_date=f"2026-12-0{index + 1}")
        await api.create("alice", title=f"low {index}", priority="low", due_date=f"2026-12-0{index + 1}")

    first = await api.list(
        "alice", priority="high", due_date_from="2026-12-02", sort_by="due_date", sort_order="desc", limit=2
    )
    following = await api.client.get(
        first.headers["link"].split(";")[0].strip("<>"), headers=api.auth("alice")
    )

    assert [task["title"] for task in first.json()] == ["high 4", "high 3"]
    assert first.headers["x-total-count"] == "4"
    assert [task["title"] for task in following.json()] == ["high 2", "high 1"]


async def test_another_users_tasks_never_match_a_filter(api: TaskApi) -> None:
    await api.create("bob", title="bob's", priority="urgent", due_date="2001-01-01")

    for params in (
        {"priority": "urgent"},
        {"overdue": "true"},
        {"due_date_to": "2001-01-01"},
        {"sort": "priority"},
    ):
        response = await api.list("alice", **params)
        assert (response.json(), response.headers["x-total-count"]) == ([], "0")


async def _searchable(api: TaskApi) -> None:
    for title, description in [
        ("Buy groceries", "milk, eggs"),
        ("Call the plumber", "the kitchen sink drips"),
        ("Straße kehren", None),
        ("Save 50% on flights", "book_early"),
        ("Empty C:\\temp\\new", None),
        ("Count to 500", None),
        ("ÜBER-Plan", "Grocery list for the week"),
    ]:
        await api.create("alice", title=title, description=description)
    await api.create("bob", title="Bob's groceries")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"search": "gro"}, ["ÜBER-Plan", "Buy groceries"]),
        ({"search": "GROCERIES"}, ["Buy groceries"]),
        ({"search": "sink"}, ["Call the plumber"]),
        ({"search": "call kitchen"}, ["Call the plumber"]),
        ({"search": "call groceries"}, []),
        ({"search": "  plumber   CALL "}, ["Call the plumber"]),
        ({"q": "strasse"}, ["Straße kehren"]),
        ({"search_query": "über"}, ["ÜBER-Plan"]),
        ({"search": "50%"}, ["Save 50% on flights"]),
        ({"search": "book_"}, ["Save 50% on flights"]),
        ({"search": "5_0"}, []),
        ({"search": "%"}, ["Save 50% on flights"]),
        ({"search": "/"}, []),
        # The escape character is matched as typed too, before a letter, a wildcard or itself.
        ({"search": "\\"}, ["Empty C:\\temp\\new"]),
        ({"search": "c:\\temp\\"}, ["Empty C:\\temp\\new"]),
        ({"search": "\\%"}, []),
        ({"search": "\\\\"}, []),
        (
            {"search": ""},
            [
                "ÜBER-Plan",
                "Count to 500",
                "Empty C:\\temp\\new",
                "Save 50% on flights",
                "Straße kehren",
                "Call the plumber",
                "Buy groceries",
            ],
        ),
        ({"search": "gro", "q": "gro"}, ["ÜBER-Plan", "Buy groceries"]),
        ({"search": "gro", "priority": "high"}, []),
    ],
)
async def test_search_finds_words_and_parts_of_words_in_title_and_description(
    api: TaskApi, params: dict[str, str], expected: list[str]
) -> None:
    await _searchable(api)

    response = await api.list("alice", **params)

    assert [task["title"] for task in response.json()] == expected
    assert response.headers["x-total-count"] == str(len(expected))


@pytest.mark.parametrize(
    "params",
    [
        {"search": "a", "q": "b"},
        {"q": "a", "search_query": "b"},
        {"search": "x" * 201},
        {"search": " ".join("abcdefghi")},
    ],
)
async def test_a_search_that_cannot_be_run_is_400(api: TaskApi, params: dict[str, str]) -> None:
    response = await api.list("alice", **params)

    assert response.status_code == 400
    assert "'search" in response.json()["detail"] or "'q'" in response.json()["detail"]


async def test_search_follows_edits_of_the_title_and_the_description(api: TaskApi) -> None:
    task = await api.create("alice", title="Buy milk", description="semi-skimmed")

    await api.call("PATCH", "alice", task["id"], json={"title": "Buy OAT drink"})
    after_title = await titles(api, search="oat")
    await api.call("PATCH", "alice", task["id"], json={"description": "from the Corner shop"})
    after_description = [await titles(api, search=word) for word in ("corner", "skimmed", "drink")]
    await api.call("PUT", "alice", task["id"], json={"description": None})

    assert after_title == ["Buy OAT drink"]
    assert await titles(api, search="milk") == []
    assert after_description == [["Buy OAT drink"], [], ["Buy OAT drink"]]
    assert await titles(api, search="corner") == []


@pytest.mark.parametrize("sent", ["status=all", "sort=-created_at", "tags=", "search=", "priority="])
def test_a_list_sent_no_parameters_gets_the_filter_every_default_gives(sent: str) -> None:
    # Lists without parameters skip reading the model, so its defaults must be what they get.
    assert list_filter(QueryParams("")) == list_filter(QueryParams(sent))
    assert list_filter(QueryParams("limit=5&offset=5")) == list_filter(QueryParams(sent))


async def _planning_connections(url: str) -> int:
    found = await rows(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
        APPLICATION_NAME + PLANNING_POOL_SUFFIX,
    )
    return int(found[0][0])


async def test_a_search_is_planned_with_its_values_and_other_lists_keep_their_plans(
    postgres_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    # A connection an earlier test's app closed can linger in pg_stat_activity for a moment.
    await eventually(lambda: _no_planning_connections(postgres_url), "rid of earlier planning connections")
    async with serving(postgres_url) as client:
        created = await client.post(
            "/api/tasks", json={"title": "Buy milk", "tags": ["home"]}, headers=auth("alice")
        )
        assert created.status_code == 201
        for query in ("", "?tags=home", "?completed=false&sort=due_date", "?priority=high"):
            listed = await client.get(f"/api/tasks{query}", headers=auth("alice"))
            assert listed.status_code == 200
        assert await _planning_connections(postgres_url) == 0

        found = await client.get("/api/tasks?search=mil", headers=auth("alice"))

        assert [task["title"] for task in found.json()] == ["Buy milk"]
        assert await _planning_connections(postgres_url) == 1


async def _no_planning_connections(url: str) -> bool:
    return await _planning_connections(url) == 0
