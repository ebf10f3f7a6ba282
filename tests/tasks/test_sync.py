"""Delta sync: every list says where the user's changes stood (X-Sync-Token), and `?since=` with it
answers what changed after, deletions as tombstones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from tests.conftest import serving_app
from tests.events.test_outbox import _age_event
from tests.tasks.conftest import TaskApi
from todo_api.events import service as events
from todo_api.models import utc_now


def token_of(response_headers: dict[str, str] | object) -> int:
    return int(response_headers["x-sync-token"])  # type: ignore[index]


async def test_every_list_carries_the_users_position(api: TaskApi) -> None:
    empty = await api.list("alice")
    await api.create("alice", title="one")
    task = await api.create("alice", title="two")
    await api.call("PATCH", "alice", task["id"], json={"title": "two, edited"})
    listed = await api.list("alice")
    filtered = await api.list("alice", search="one")
    past_the_end = await api.list("alice", offset=10)
    others = await api.list("bob")

    assert token_of(empty.headers) == 0
    assert token_of(listed.headers) == token_of(filtered.headers) == token_of(past_the_end.headers) == 3
    assert past_the_end.json() == []
    assert past_the_end.headers["x-total-count"] == "2"
    assert token_of(others.headers) == 0


async def test_since_answers_the_changes_after_a_list_with_tombstones(api: TaskApi) -> None:
    kept = await api.create("alice", title="kept")
    edited = await api.create("alice", title="edited")
    deleted = await api.create("alice", title="deleted")
    listed = await api.list("alice")
    await api.call("PATCH", "alice", edited["id"], json={"title": "edited once"})
    await api.call("DELETE", "alice", deleted["id"])
    created = await api.create("alice", title="new")
    await api.call("PATCH", "alice", edited["id"], json={"title": "edited twice"})
    await api.create("bob", title="not alice's")

    changes = await api.list("alice", since=listed.headers["x-sync-token"])
    after_that = await api.list("alice", since=changes.headers["x-sync-token"])

    assert changes.status_code == 200
    # Each task once, in the order of its latest change; the deleted one as a tombstone.
    assert [(item["id"], item.get("title"), item.get("deleted")) for item in changes.json()] == [
        (deleted["id"], None, True),
        (created["id"], "new", None),
        (edited["id"], "edited twice", None),
    ]
    assert changes.json()[0] == {"id": deleted["id"], "deleted": True}
    assert changes.json()[2] == (await api.get("alice", edited["id"])).json()
    assert kept["id"] not in {item["id"] for item in changes.json()}
    assert token_of(changes.headers) == 7
    assert after_that.json() == []
    assert token_of(after_that.headers) == 7


async def test_a_sync_cut_short_by_its_limit_links_to_the_rest(api: TaskApi) -> None:
    for title in ("a", "b", "c", "d", "e"):
        await api.create("alice", title=title)

    first = await api.list("alice", since=0, limit=2)
    seen = [item["title"] for item in first.json()]
    response = first
    while "link" in response.headers:
        url = response.headers["link"].partition("<")[2].partition(">")[0]
        response = await api.client.get(url, headers=api.auth("alice"))
        seen += [item["title"] for item in response.json()]

    assert [item["title"] for item in first.json()] == ["a", "b"]
    assert token_of(first.headers) == 2
    assert seen == ["a", "b", "c", "d", "e"]
    assert token_of(response.headers) == 5


async def test_since_takes_no_filter_sort_or_offset(api: TaskApi) -> None:
    for params in (
        {"since": 0, "completed": "true"},
        {"since": 0, "sort": "title"},
        {"since": 0, "offset": 5},
    ):
        response = await api.list("alice", **params)
        assert response.status_code == 400, params
        assert "since" in response.json()["detail"]


@pytest.mark.parametrize("given", ["x", "-1", "1.5", "", "99999999999999999999"])
async def test_a_sync_token_that_is_not_a_whole_number_is_a_400(api: TaskApi, given: str) -> None:
    response = await api.list("alice", since=given)

    assert response.status_code == 400
    assert "sync token" in response.json()["detail"]


@pytest.mark.parametrize("given", ["pruned", "from the future"])
async def test_a_token_whose_changes_are_not_all_kept_is_a_410(
    database_url: str, auth: object, given: str
) -> None:
    async with serving_app(database_url) as (app, client):
        api = TaskApi(client, auth, path_form=False)  # type: ignore[arg-type]
        for title in ("one", "two", "three"):
            await api.create("alice", title=title)
        if given == "pruned":
            await _age_event(database_url, seq=1, days=30)
            await _age_event(database_url, seq=2, days=30)
            await events.prune(_database(app), before=utc_now() - timedelta(days=7), keep_unpublished=False)
        token = "1" if given == "pruned" else "9"

        expired = await api.list("alice", since=token)
        still_kept = await api.list("alice", since=2 if given == "pruned" else 3)

    assert expired.status_code == 410
    assert "list your tasks again" in expired.json()["detail"]
    assert still_kept.status_code == 200


async def test_a_token_at_the_latest_change_resumes_after_its_events_are_pruned(
    database_url: str, auth: object
) -> None:
    async with serving_app(database_url) as (app, client):
        api = TaskApi(client, auth, path_form=False)  # type: ignore[arg-type]
        for title in ("one", "two", "three"):
            await api.create("alice", title=title)
        for seq in (1, 2, 3):
            await _age_event(database_url, seq=seq, days=30)
        await events.prune(_database(app), before=utc_now() - timedelta(days=7), keep_unpublished=False)

        up_to_date = await api.list("alice", since=3)
        behind = await api.list("alice", since=2)

    # Nothing changed after 3, and nothing of it needs the pruned events: an empty answer.
    assert up_to_date.status_code == 200, up_to_date.text
    assert (up_to_date.json(), token_of(up_to_date.headers)) == ([], 3)
    assert "link" not in up_to_date.headers
    assert behind.status_code == 410


async def test_a_page_cut_by_its_limit_ends_at_its_last_change(api: TaskApi) -> None:
    for title in ("a", "b", "c", "d", "e"):
        await api.create("alice", title=title)

    first = await api.list("alice", since=0, limit=3)

    assert [item["title"] for item in first.json()] == ["a", "b", "c"]
    assert token_of(first.headers) == 3
    assert "link" in first.headers


def _database(app: FastAPI) -> object:
    return app.state.todo_api.database
