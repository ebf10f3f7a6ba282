"""Priority: four levels stored as ranks, other apps' words accepted, the canonical word returned."""

from __future__ import annotations

import pytest

from tests.tasks.conftest import TaskApi


async def test_a_new_task_is_medium_unless_told(api: TaskApi) -> None:
    task = await api.create("alice")

    assert task["priority"] == "medium"
    assert (await api.get("alice", task["id"])).json()["priority"] == "medium"


@pytest.mark.parametrize("priority", ["low", "medium", "high", "urgent"])
async def test_each_level_round_trips(api: TaskApi, priority: str) -> None:
    task = await api.create("alice", priority=priority)

    assert task["priority"] == priority
    assert (await api.get("alice", task["id"])).json()["priority"] == priority


@pytest.mark.parametrize(("sent", "kept"), [("normal", "medium"), ("critical", "urgent")])
async def test_another_apps_word_is_kept_as_the_canonical_one(api: TaskApi, sent: str, kept: str) -> None:
    task = await api.create("alice", priority=sent)

    assert task["priority"] == kept
    assert (await api.get("alice", task["id"])).json()["priority"] == kept


@pytest.mark.parametrize(("sent", "kept"), [("HIGH", "high"), ("Urgent", "urgent"), ("NoRmAl", "medium")])
async def test_priority_is_read_in_any_case(api: TaskApi, sent: str, kept: str) -> None:
    assert (await api.create("alice", priority=sent))["priority"] == kept


@pytest.mark.parametrize("sent", [2, 4.0, True, None, "", "highest", "med", " high", ["high"]])
async def test_anything_else_is_refused_naming_the_field(api: TaskApi, sent: object) -> None:
    response = await api.call("POST", "alice", json={"title": "t", "priority": sent})

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "priority"]]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_an_update_changes_only_the_priority(api: TaskApi, method: str) -> None:
    task = await api.create("alice", title="Renew the passport", description="before June")

    response = await api.call(method, "alice", task["id"], json={"priority": "critical"})

    assert response.status_code == 200
    changed = response.json()
    assert changed["priority"] == "urgent"
    assert {key: value for key, value in changed.items() if key not in ("priority", "updated_at")} == {
        key: value for key, value in task.items() if key not in ("priority", "updated_at")
    }


async def test_other_updates_keep_the_priority(api: TaskApi) -> None:
    task = await api.create("alice", priority="low")

    renamed = await api.call("PATCH", "alice", task["id"], json={"title": "renamed"})
    toggled = await api.call("PATCH", "alice", task["id"], suffix="/complete")

    assert renamed.json()["priority"] == "low"
    assert toggled.json()["priority"] == "low"


async def test_priority_cannot_be_cleared(api: TaskApi) -> None:
    task = await api.create("alice", priority="high")

    response = await api.call("PATCH", "alice", task["id"], json={"priority": None})

    assert response.status_code == 422
    assert (await api.get("alice", task["id"])).json()["priority"] == "high"


async def test_the_schema_lists_the_words_and_the_answer_only_the_canonical_ones(api: TaskApi) -> None:
    schemas = (await api.client.get("/openapi.json")).json()["components"]["schemas"]

    for model in ("TaskCreate", "TaskUpdate"):
        priority = schemas[model]["properties"]["priority"]
        assert priority["enum"] == ["low", "medium", "high", "urgent", "normal", "critical"]
        assert "normal" in priority["description"]
        assert "critical" in priority["description"]
    # Optional in the typed client: the default is in words, not a schema `default`.
    assert "medium when left out" in schemas["TaskCreate"]["properties"]["priority"]["description"]
    assert "priority" not in schemas["TaskCreate"].get("required", [])
    public = schemas["TaskPublic"]["properties"]["priority"]
    public_enum = public.get("enum") or schemas[public["$ref"].rsplit("/", 1)[-1]]["enum"]
    assert public_enum == ["low", "medium", "high", "urgent"]
