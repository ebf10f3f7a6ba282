"""Each endpoint's success path and status codes, in both route families."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.tasks.conftest import TaskApi


async def test_create_returns_201_with_the_task_and_its_location(api: TaskApi) -> None:
    response = await api.call("POST", "alice", json={"title": "Buy milk", "description": "2 litres"})

    assert response.status_code == 201
    task = response.json()
    assert task["title"] == "Buy milk"
    assert task["description"] == "2 litres"
    assert task["user_id"] == "alice"
    assert task["status"] == "pending"
    assert task["completed"] is False
    assert isinstance(task["id"], int)
    assert response.headers["location"] == api.url("alice", task["id"])
    followed = await api.client.get(response.headers["location"], headers=api.auth("alice"))
    assert followed.json() == task


async def test_timestamps_are_iso_8601_with_an_offset(api: TaskApi) -> None:
    task = await api.create("alice")

    for field in ("created_at", "updated_at"):
        parsed = datetime.fromisoformat(task[field])
        assert parsed.utcoffset() is not None
        assert parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


async def test_get_returns_the_task(api: TaskApi) -> None:
    task = await api.create("alice", title="Read")

    response = await api.get("alice", task["id"])

    assert response.status_code == 200
    assert response.json() == task


async def test_missing_task_is_404(api: TaskApi) -> None:
    response = await api.get("alice", 999)

    assert response.status_code == 404
    assert response.json() == {"detail": "Task not found"}


async def test_non_numeric_or_out_of_range_id_is_404(api: TaskApi) -> None:
    for task_id in ("abc", "0", "-1", str(2**31), str(2**70), "1.5"):
        response = await api.get("alice", task_id)  # type: ignore[arg-type]
        assert response.status_code == 404, task_id
        assert response.json() == {"detail": "Not Found"}


async def test_put_and_patch_apply_only_the_fields_present(api: TaskApi) -> None:
    task = await api.create("alice", title="Old", description="keep me")

    for method, title in (("PUT", "New"), ("PATCH", "Newer")):
        response = await api.call(method, "alice", task["id"], json={"title": title})
        assert response.status_code == 200
        body = response.json()
        assert body["title"] == title
        assert body["description"] == "keep me"
        assert body["status"] == "pending"
        assert body["created_at"] == task["created_at"]
        # Compared as times: ISO strings of different precision do not sort as times do.
        assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(task["updated_at"])


async def test_editing_a_completed_tasks_text_keeps_it_completed(api: TaskApi) -> None:
    task = await api.create("alice", title="Done", description="long ago", completed=True)

    retitled = (await api.call("PUT", "alice", task["id"], json={"title": "Done, renamed"})).json()
    described = (await api.call("PATCH", "alice", task["id"], json={"description": "today"})).json()

    assert (retitled["title"], retitled["status"], retitled["completed"]) == (
        "Done, renamed",
        "completed",
        True,
    )
    assert (described["description"], described["status"], described["completed"]) == (
        "today",
        "completed",
        True,
    )
    assert (await api.get("alice", task["id"])).json() == described


async def test_update_can_clear_the_description(api: TaskApi) -> None:
    task = await api.create("alice", description="something")

    response = await api.call("PATCH", "alice", task["id"], json={"description": None})

    assert response.status_code == 200
    assert response.json()["description"] is None


async def test_update_status_keeps_completed_in_step(api: TaskApi) -> None:
    task = await api.create("alice")

    started = (await api.call("PATCH", "alice", task["id"], json={"status": "in_progress"})).json()
    done = (await api.call("PATCH", "alice", task["id"], json={"completed": True})).json()
    undone = (await api.call("PATCH", "alice", task["id"], json={"completed": False})).json()

    assert (started["status"], started["completed"]) == ("in_progress", False)
    assert (done["status"], done["completed"]) == ("completed", True)
    assert (undone["status"], undone["completed"]) == ("pending", False)


async def test_uncompleting_a_task_that_is_not_completed_keeps_its_status(api: TaskApi) -> None:
    task = await api.create("alice", status="in_progress")

    response = await api.call("PATCH", "alice", task["id"], json={"completed": False})

    assert response.json()["status"] == "in_progress"


async def test_complete_without_body_toggles(api: TaskApi) -> None:
    task = await api.create("alice")

    first = await api.call("PATCH", "alice", task["id"], "/complete")
    second = await api.call("PATCH", "alice", task["id"], "/complete")

    assert first.status_code == 200
    assert (first.json()["completed"], first.json()["status"]) == (True, "completed")
    assert (second.json()["completed"], second.json()["status"]) == (False, "pending")


async def test_toggling_an_in_progress_task_completes_it(api: TaskApi) -> None:
    task = await api.create("alice", status="in_progress")

    response = await api.call("PATCH", "alice", task["id"], "/complete")

    assert response.json()["status"] == "completed"


async def test_complete_with_body_sets_the_value(api: TaskApi) -> None:
    task = await api.create("alice")

    for _ in range(2):  # setting is idempotent, unlike toggling
        response = await api.call("PATCH", "alice", task["id"], "/complete", json={"completed": True})
        assert response.json()["completed"] is True
    response = await api.call("PATCH", "alice", task["id"], "/complete", json={"completed": False})
    assert response.json()["completed"] is False


async def test_complete_rejects_a_non_boolean(api: TaskApi) -> None:
    task = await api.create("alice")

    response = await api.call("PATCH", "alice", task["id"], "/complete", json={"completed": "yes"})

    assert response.status_code == 422
    assert (await api.get("alice", task["id"])).json()["completed"] is False


async def test_complete_missing_task_is_404(api: TaskApi) -> None:
    response = await api.call("PATCH", "alice", 12345, "/complete")

    assert response.status_code == 404


async def test_delete_returns_204_with_an_empty_body_then_404(api: TaskApi) -> None:
    task = await api.create("alice")

    response = await api.call("DELETE", "alice", task["id"])

    assert response.status_code == 204
    assert response.content == b""
    assert (await api.get("alice", task["id"])).status_code == 404
    assert (await api.call("DELETE", "alice", task["id"])).status_code == 404


async def test_update_missing_task_is_404(api: TaskApi) -> None:
    for method in ("PUT", "PATCH"):
        response = await api.call(method, "alice", 4242, json={"title": "x"})
        assert response.status_code == 404


async def test_deleted_ids_are_not_reused(api: TaskApi) -> None:
    first = await api.create("alice")
    await api.call("DELETE", "alice", first["id"])

    second = await api.create("bob")

    assert second["id"] != first["id"]


async def test_unknown_method_is_405_with_json(api: TaskApi) -> None:
    response = await api.call("POST", "alice", 1)

    assert response.status_code == 405
    assert "detail" in response.json()


@pytest.mark.parametrize("spelling", ["+{id}", "0{id}", "{id}.0", "{id}%20", "%20{id}", "{id}e0", "0x{id}"])
async def test_a_task_has_one_spelling_of_its_id(api: TaskApi, spelling: str) -> None:
    task = await api.create("alice")
    other_spelling = spelling.format(id=task["id"])

    responses = [await api.call(method, "alice", other_spelling) for method in ("GET", "PATCH", "DELETE")]

    assert [response.status_code for response in responses] == [404, 404, 404]
    assert (await api.get("alice", task["id"])).json() == task
