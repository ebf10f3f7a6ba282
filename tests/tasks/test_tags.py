"""Tags: as a list or a comma-separated string, one per name ignoring case; listing by tag;
the caller's tags with their counts; renaming and removing a tag across all of one's tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.tasks.conftest import TaskApi
from todo_api.models import utc_now
from todo_api.state import AppState
from todo_api.tasks import service
from todo_api.tasks.statements import retag_statement
from todo_api.tasks.tags import tag_keys_column, tags_column


async def tags_call(api: TaskApi, method: str, user: str, name: str = "", **kwargs: Any) -> httpx.Response:
    base = f"/api/{user}/tags" if api.path_form else "/api/tags"
    url = base + (f"/{name}" if name else "")
    return await api.client.request(method, url, headers=api.auth(user), **kwargs)


async def titles(api: TaskApi, **params: Any) -> list[str]:
    response = await api.list("alice", **params)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (["work", "home"], ["work", "home"]),
        ("work, home", ["work", "home"]),
        ("  Deep Work  ", ["Deep Work"]),
        (["Work", "work", "WORK", "home"], ["Work", "home"]),
        ("a,b , c,,B", ["a", "b", "c"]),
        (["", " ", "x", "\t"], ["x"]),
        ("", []),
        ([], []),
        (["Straße", "STRASSE"], ["Straße"]),
        (["👨‍👩‍👧 family", "50% done", "a_b"], ["👨‍👩‍👧 family", "50% done", "a_b"]),
        ([f"t{index}" for index in range(19)] + ["T0"], [f"t{index}" for index in range(19)]),
        (",".join(f"t{index}" for index in range(20)), [f"t{index}" for index in range(20)]),
        (["x" * 50], ["x" * 50]),
    ],
)
async def test_tags_are_taken_as_a_list_or_a_string_and_kept_once_each(
    api: TaskApi, sent: Any, kept: list[str]
) -> None:
    task = await api.create("alice", tags=sent)

    assert task["tags"] == kept
    assert (await api.get("alice", task["id"])).json()["tags"] == kept


async def test_a_task_without_tags_has_an_empty_list(api: TaskApi) -> None:
    task = await api.create("alice")

    assert task["tags"] == []


@pytest.mark.parametrize(
    "sent",
    [
        [f"t{index}" for index in range(21)],
        ["same"] * 21,
        ",".join(f"t{index}" for index in range(21)),
        ["a,b"],
        ["x" * 51],
        ["tab\there"],
        ["line\nbreak"],
        [1],
        ["ok", None],
        7,
        {"name": "work"},
    ],
)
async def test_tags_that_break_the_rules_are_422_and_nothing_is_written(api: TaskApi, sent: Any) -> None:
    response = await api.call("POST", "alice", json={"title": "t", "tags": sent})

    assert response.status_code == 422
    assert "tags" in response.text
    assert (await api.list("alice")).json() == []


async def test_an_update_replaces_the_tags_and_empty_or_null_clears_them(api: TaskApi) -> None:
    task = await api.create("alice", title="t", tags=["a", "b"], priority="high")

    replaced = await api.call("PATCH", "alice", task["id"], json={"tags": "c, a"})
    cleared = await api.call("PATCH", "alice", task["id"], json={"tags": []})
    again = await api.call("PUT", "alice", task["id"], json={"tags": ["d"]})
    nulled = await api.call("PATCH", "alice", task["id"], json={"tags": None})

    assert replaced.json()["tags"] == ["c", "a"]
    assert replaced.json()["priority"] == "high"
    assert cleared.json()["tags"] == []
    assert again.json()["tags"] == ["d"]
    assert nulled.json()["tags"] == []
    assert nulled.json()["title"] == "t"


async def _tagged(api: TaskApi) -> None:
    for title, tags in [
        ("report", ["Work", "urgent"]),
        ("gym", ["health", "workout"]),
        ("shopping", ["home", "errands"]),
        ("taxes", ["home", "work", "urgent"]),
        ("untagged", []),
        ("odd", ["50%", "a_b"]),
    ]:
        await api.create("alice", title=title, tags=tags)
    await api.create("bob", title="bob's work", tags=["work"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tags": "work"}, ["taxes", "report"]),
        ({"tags": "WORK"}, ["taxes", "report"]),
        ({"tag": "work"}, ["taxes", "report"]),
        ({"tags": "work,health"}, ["taxes", "gym", "report"]),
        ({"tags": ["work", "health"]}, ["taxes", "gym", "report"]),
        ({"tags": "work,urgent", "tags_match": "all"}, ["taxes", "report"]),
        ({"tags": "work,home", "tags_match": "all"}, ["taxes"]),
        ({"tags": ["home"], "tag": ["home"]}, ["taxes", "shopping"]),
        ({"tags": "health,home", "tags_match": "all"}, []),
        ({"tags": "wor"}, []),
        ({"tags": "50%"}, ["odd"]),
        ({"tags": "5%"}, []),
        ({"tags": "a_b"}, ["odd"]),
        ({"tags": "aXb"}, []),
        ({"tags": ""}, ["odd", "untagged", "taxes", "shopping", "gym", "report"]),
        ({"tags": "x" * 80}, []),
        ({"tags": "urgent", "search": "tax"}, ["taxes"]),
    ],
)
async def test_listing_by_tags_matches_whole_tags_in_any_case(
    api: TaskApi, params: dict[str, Any], expected: list[str]
) -> None:
    await _tagged(api)

    response = await api.list("alice", **params)

    assert [task["title"] for task in response.json()] == expected
    assert response.headers["x-total-count"] == str(len(expected))


@pytest.mark.parametrize(
    "params",
    [
        {"tags": ",".join(f"t{index}" for index in range(21))},
        {"tags": "a", "tag": "b"},
        {"tags_match": "some"},
    ],
)
async def test_a_tag_filter_that_cannot_be_run_is_400(api: TaskApi, params: dict[str, Any]) -> None:
    response = await api.list("alice", **params)

    assert response.status_code == 400
    assert "'tag" in response.json()["detail"]


async def test_the_tag_list_counts_each_tag_once_per_task_as_most_tasks_write_it(api: TaskApi) -> None:
    await _tagged(api)
    await api.create("alice", title="more work", tags=["work"])

    response = await tags_call(api, "GET", "alice")

    assert response.status_code == 200
    assert response.json() == [
        {"name": "50%", "task_count": 1},
        {"name": "a_b", "task_count": 1},
        {"name": "errands", "task_count": 1},
        {"name": "health", "task_count": 1},
        {"name": "home", "task_count": 2},
        {"name": "urgent", "task_count": 2},
        {"name": "work", "task_count": 3},
        {"name": "workout", "task_count": 1},
    ]
    assert (await tags_call(api, "GET", "carol")).json() == []


async def test_renaming_a_tag_changes_every_task_that_has_it_and_no_other(api: TaskApi) -> None:
    await _tagged(api)
    before = {task["title"]: task for task in (await api.list("alice")).json()}
    bobs = (await api.list("bob")).json()

    response = await tags_call(api, "PATCH", "alice", "WORK", json={"name": "job"})

    after = {task["title"]: task for task in (await api.list("alice")).json()}
    assert response.status_code == 200
    assert response.json() == {"name": "job", "task_count": 2}
    assert after["report"]["tags"] == ["job", "urgent"]
    assert after["taxes"]["tags"] == ["home", "job", "urgent"]
    for title in ("report", "taxes"):
        assert after[title]["updated_at"] > before[title]["updated_at"]
    for title in ("gym", "shopping", "untagged", "odd"):
        assert after[title] == before[title]
    assert (await api.list("bob")).json() == bobs


async def test_renaming_onto_a_tag_a_task_has_merges_them(api: TaskApi) -> None:
    await _tagged(api)

    response = await tags_call(api, "PATCH", "alice", "work", json={"name": "Home"})

    assert response.json() == {"name": "Home", "task_count": 3}
    tags = {task["title"]: task["tags"] for task in (await api.list("alice")).json()}
    assert tags["taxes"] == ["home", "urgent"]
    assert tags["report"] == ["Home", "urgent"]
    assert tags["shopping"] == ["home", "errands"]


async def test_renaming_can_change_only_the_case(api: TaskApi) -> None:
    await _tagged(api)

    response = await tags_call(api, "PATCH", "alice", "work", json={"name": "WORK"})

    assert response.json() == {"name": "WORK", "task_count": 2}
    assert await titles(api, tags="WORK") == ["taxes", "report"]
    assert [tag["name"] for tag in (await tags_call(api, "GET", "alice")).json()].count("WORK") == 1


async def test_a_rename_of_many_tasks_is_written_in_batches(
    api: TaskApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "RETAG_BATCH", 2)
    for index in range(5):
        await api.create("alice", title=f"t{index}", tags=["old", f"n{index}"])

    response = await tags_call(api, "PATCH", "alice", "old", json={"name": "new"})

    assert response.json() == {"name": "new", "task_count": 5}
    listed = (await api.list("alice", sort="created_at")).json()
    assert [task["tags"] for task in listed] == [["new", f"n{index}"] for index in range(5)]


async def test_removing_a_tag_takes_it_off_every_task_and_keeps_the_tasks(api: TaskApi) -> None:
    await _tagged(api)

    response = await tags_call(api, "DELETE", "alice", "Urgent")
    again = await tags_call(api, "DELETE", "alice", "urgent")

    assert response.status_code == 204
    assert again.status_code == 404
    tags = {task["title"]: task["tags"] for task in (await api.list("alice")).json()}
    assert tags["report"] == ["Work"]
    assert tags["taxes"] == ["home", "work"]
    assert len(tags) == 6


async def test_a_tag_with_a_slash_is_named_in_the_path_as_it_is(api: TaskApi) -> None:
    await api.create("alice", tags=["work/q1"])

    renamed = await tags_call(api, "PATCH", "alice", "work/q1", json={"name": "work/q2"})
    removed = await tags_call(api, "DELETE", "alice", "work/q2")

    assert renamed.json() == {"name": "work/q2", "task_count": 1}
    assert removed.status_code == 204


async def test_another_users_tag_is_not_found_and_stays(api: TaskApi) -> None:
    await api.create("bob", title="bob's", tags=["secret"])

    renamed = await tags_call(api, "PATCH", "alice", "secret", json={"name": "mine"})
    removed = await tags_call(api, "DELETE", "alice", "secret")

    assert (renamed.status_code, removed.status_code) == (404, 404)
    assert renamed.json() == {"detail": "Tag not found"}
    assert (await api.list("bob")).json()[0]["tags"] == ["secret"]


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "a,b"}, {"name": "x" * 51}, {"name": 5}, {}])
async def test_a_new_name_that_breaks_the_rules_is_422_and_nothing_changes(
    api: TaskApi, body: dict[str, Any]
) -> None:
    task = await api.create("alice", tags=["work"])

    response = await tags_call(api, "PATCH", "alice", "work", json=body)

    assert response.status_code == 422
    assert (await api.get("alice", task["id"])).json() == task


async def test_the_retag_statement_changes_only_the_owners_tasks(
    app: FastAPI, client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]]
) -> None:
    # The service passes it only ids it read as the owner's; the statement checks the owner
    # itself too, as every task statement does, so no id that slipped in can change a stranger's.
    created = await client.post(
        "/api/tasks", json={"title": "bob's", "tags": ["secret"]}, headers=auth("bob")
    )
    bobs = created.json()
    state: AppState = app.state.todo_api
    values = {
        "owner": "alice",
        "now": utc_now(),
        "id_0": bobs["id"],
        "tags_0": tags_column(["taken"]),
        "tag_keys_0": tag_keys_column(["taken"]),
    }

    async with state.database.transaction() as connection:
        await connection.fetch(retag_statement(1), values)

    assert (await client.get(f"/api/tasks/{bobs['id']}", headers=auth("bob"))).json() == bobs
