"""Two users never see, change or delete each other's tasks, through any endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tasks.conftest import TaskApi

ATTACKS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "", {}),
    ("PUT", "", {"json": {"title": "pwned"}}),
    ("PATCH", "", {"json": {"title": "pwned", "completed": True}}),
    ("PATCH", "/complete", {}),
    ("PATCH", "/complete", {"json": {"completed": True}}),
    # Un-completing is a statement of its own (a completed task becomes pending, any other is
    # left as it is); against a completed task it is the write that changes the most.
    ("PATCH", "/complete", {"json": {"completed": False}}),
    ("PATCH", "", {"json": {"completed": False}}),
    ("DELETE", "", {}),
]


@pytest.mark.parametrize("victim_status", ["pending", "completed"])
@pytest.mark.parametrize(("method", "suffix", "kwargs"), ATTACKS)
async def test_other_users_task_is_not_found_and_unchanged(
    api: TaskApi, method: str, suffix: str, kwargs: dict[str, Any], victim_status: str
) -> None:
    victim_task = await api.create(
        "alice", title="alice's secret", description="private", status=victim_status
    )

    response = await api.call(method, "bob", victim_task["id"], suffix, **kwargs)

    assert response.status_code == 404
    assert response.json() == {"detail": "Task not found"}
    assert "alice" not in response.text
    after = await api.get("alice", victim_task["id"])
    assert after.status_code == 200
    assert after.json() == victim_task


async def test_other_users_task_looks_exactly_like_a_missing_one(api: TaskApi) -> None:
    victim_task = await api.create("alice")

    existing = await api.get("bob", victim_task["id"])
    missing = await api.get("bob", victim_task["id"] + 1000)

    assert (existing.status_code, existing.json()) == (missing.status_code, missing.json())


async def test_lists_show_only_the_callers_tasks(api: TaskApi) -> None:
    await api.create("alice", title="a1")
    await api.create("alice", title="a2")
    await api.create("bob", title="b1")

    alice = await api.list("alice")
    bob = await api.list("bob")

    assert sorted(task["title"] for task in alice.json()) == ["a1", "a2"]
    assert [task["title"] for task in bob.json()] == ["b1"]
    assert alice.headers["x-total-count"] == "2"
    assert bob.headers["x-total-count"] == "1"


async def test_user_id_in_the_body_or_query_is_never_trusted(api: TaskApi) -> None:
    await api.create("alice", title="alice's")

    created = await api.call("POST", "bob", json={"title": "mine", "user_id": "alice"})
    listed = await api.call("GET", "bob", params={"user_id": "alice"})

    assert created.json()["user_id"] == "bob"
    assert [task["title"] for task in listed.json()] == ["mine"]


async def test_claims_other_than_sub_do_not_choose_the_user(api: TaskApi, make_token: Any) -> None:
    await api.create("alice", title="alice's")
    token = make_token("bob", user_id="alice", id="alice", uid="alice")

    response = await api.client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})

    assert response.json() == []


PATH_FORM_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/alice/tasks", {}),
    ("POST", "/api/alice/tasks", {"json": {"title": "planted"}}),
    ("GET", "/api/alice/tasks/{id}", {}),
    ("PUT", "/api/alice/tasks/{id}", {"json": {"title": "pwned"}}),
    ("PATCH", "/api/alice/tasks/{id}", {"json": {"title": "pwned"}}),
    ("PATCH", "/api/alice/tasks/{id}/complete", {}),
    ("DELETE", "/api/alice/tasks/{id}", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), PATH_FORM_ROUTES)
async def test_path_user_that_is_not_the_caller_is_403(
    client: Any, auth: Any, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    api = TaskApi(client, auth, path_form=True)
    victim_task = await api.create("alice")

    response = await client.request(method, path.format(id=victim_task["id"]), headers=auth("bob"), **kwargs)

    assert response.status_code == 403
    assert response.json() == {"detail": "The user id in the path does not match the token"}
    assert (await api.get("alice", victim_task["id"])).json() == victim_task
    assert (await api.list("alice")).headers["x-total-count"] == "1"


async def test_path_user_mismatch_is_403_even_for_a_missing_task_or_bad_body(client: Any, auth: Any) -> None:
    missing = await client.get("/api/alice/tasks/999", headers=auth("bob"))
    bad_body = await client.post("/api/alice/tasks", json={"title": ""}, headers=auth("bob"))

    assert missing.status_code == 403
    assert bad_body.status_code == 403
