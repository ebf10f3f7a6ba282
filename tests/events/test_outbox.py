"""The outbox: every change of a task writes its event with it, on both databases."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from tests.conftest import rows
from tests.events.conftest import Auth, database_of
from todo_api.events import service
from todo_api.events.schemas import dump_event
from todo_api.events.service import Position
from todo_api.models import utc_now


async def events_of(app: FastAPI, user: str, after: int = 0) -> list[dict[str, Any]]:
    """The user's events as clients are sent them."""
    rows = await service.events_after(database_of(app), user_id=user, after=after, limit=1000)
    return [orjson.loads(dump_event(row, now=utc_now())) for row in rows]


def without_overdue(task: dict[str, Any]) -> dict[str, Any]:
    # Computed per answer from the time it is written; the rest is what was stored.
    return {name: value for name, value in task.items() if name != "overdue"}


async def test_each_change_writes_its_event_with_the_task_after_it(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    created = await client.post(
        "/api/tasks", json={"title": "Buy milk", "tags": ["home"]}, headers=auth("alice")
    )
    url = f"/api/tasks/{created.json()['id']}"
    edited = await client.patch(url, json={"description": "2 litres"}, headers=auth("alice"))
    completed = await client.patch(f"{url}/complete", json={"completed": True}, headers=auth("alice"))
    reopened = await client.patch(url, json={"completed": False}, headers=auth("alice"))
    deleted = await client.delete(url, headers=auth("alice"))
    assert deleted.status_code == 204

    events = await events_of(app, "alice")

    assert [(event["seq"], event["type"]) for event in events] == [
        (1, "task.created"),
        (2, "task.updated"),
        (3, "task.completed"),
        (4, "task.updated"),
        (5, "task.deleted"),
    ]
    answers = [created, edited, completed, reopened]
    for event, answer in zip(events, answers, strict=False):
        assert without_overdue(event["task"]) == without_overdue(answer.json())
    assert events[-1]["task"] is None
    assert {event["task_id"] for event in events} == {created.json()["id"]}
    assert {event["user_id"] for event in events} == {"alice"}
    assert len({uuid.UUID(event["event_id"]) for event in events}) == len(events)
    assert all(datetime.fromisoformat(event["at"]) <= utc_now() for event in events)


async def test_every_path_that_changes_tasks_writes_events(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    recurring = await client.post(
        "/api/tasks",
        json={"title": "Stretch", "due_date": "2026-12-07", "recurrence_pattern": "daily", "tags": ["gym"]},
        headers=auth("alice"),
    )
    task_id = recurring.json()["id"]
    completed = await client.patch(f"/api/tasks/{task_id}/complete", headers=auth("alice"))
    next_id = completed.json()["next_task_id"]
    renamed = await client.patch("/api/tags/gym", json={"name": "fitness"}, headers=auth("alice"))
    assert renamed.status_code == 200, renamed.text

    events = await events_of(app, "alice", after=1)

    # The next occurrence is created in the completion's transaction, before the task is
    # written completed; the rename changes both tasks, which both had the tag.
    assert [(event["type"], event["task_id"]) for event in events[:2]] == [
        ("task.created", next_id),
        ("task.completed", task_id),
    ]
    assert sorted((event["type"], event["task_id"]) for event in events[2:]) == [
        ("task.updated", task_id),
        ("task.updated", next_id),
    ]
    assert all(event["task"]["tags"] == ["fitness"] for event in events[2:])
    assert [event["seq"] for event in events] == [2, 3, 4, 5]


async def test_a_refused_write_writes_no_event(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    created = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice"))
    url = f"/api/tasks/{created.json()['id']}"
    await client.patch(url, json={"title": "y"}, headers=auth("alice"))

    stale = await client.patch(
        url, json={"title": "z"}, headers=auth("alice") | {"If-Match": created.headers["etag"]}
    )
    missing = await client.patch("/api/tasks/999999", json={"title": "z"}, headers=auth("alice"))
    not_theirs = await client.delete(url, headers=auth("bob"))
    invalid = await client.patch(url, json={"title": ""}, headers=auth("alice"))

    assert [stale.status_code, missing.status_code, not_theirs.status_code, invalid.status_code] == [
        412,
        404,
        404,
        422,
    ]
    assert [event["seq"] for event in await events_of(app, "alice")] == [1, 2]
    assert await events_of(app, "bob") == []


async def test_each_user_has_a_sequence_of_their_own(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served_app
    for user in ("alice", "bob", "alice"):
        await client.post("/api/tasks", json={"title": user}, headers=auth(user))

    alice, bob = await events_of(app, "alice"), await events_of(app, "bob")

    assert [event["seq"] for event in alice] == [1, 2]
    assert [event["seq"] for event in bob] == [1]
    assert {event["task"]["title"] for event in bob} == {"bob"}
    assert await service.position(database_of(app), user_id="alice") == Position(last=2, oldest=1)
    assert await service.position(database_of(app), user_id="carol") == Position(last=0, oldest=None)
    assert await service.positions(database_of(app), user_ids=["alice", "bob", "carol"]) == {
        "alice": 2,
        "bob": 1,
    }


async def test_old_events_are_pruned(
    served_app: tuple[FastAPI, httpx.AsyncClient], auth: Auth, database_url: str
) -> None:
    app, client = served_app
    for title in ("old", "new"):
        await client.post("/api/tasks", json={"title": title}, headers=auth("alice"))
    cutoff = utc_now() - timedelta(days=7)
    await _age_event(database_url, seq=1, days=8)

    await service.prune(database_of(app), before=cutoff, keep_unpublished=False)

    assert [event["seq"] for event in await events_of(app, "alice")] == [2]
    assert await service.position(database_of(app), user_id="alice") == Position(last=2, oldest=2)


async def _age_event(database_url: str, *, seq: int, days: int) -> None:
    if database_url.startswith("sqlite"):
        import sqlite3  # noqa: PLC0415

        path = database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            connection.execute(
                "UPDATE task_event SET at = datetime(at, ?) WHERE seq = ?", (f"-{days} days", seq)
            )
        return
    await rows(
        database_url, "UPDATE task_event SET at = at - make_interval(days => $1) WHERE seq = $2", days, seq
    )


@pytest.mark.parametrize(
    ("after", "position", "resumes"),
    [
        (5, Position(last=5, oldest=1), True),
        (4, Position(last=5, oldest=5), True),
        (3, Position(last=5, oldest=5), False),
        (0, Position(last=0, oldest=None), True),
        (0, Position(last=3, oldest=None), False),
        (6, Position(last=5, oldest=1), False),
        (0, Position(last=5, oldest=1), True),
    ],
)
def test_a_client_can_resume_only_while_the_next_event_is_kept(
    after: int, position: Position, resumes: bool
) -> None:
    assert position.can_resume(after) is resumes
