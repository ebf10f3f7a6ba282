"""The user comes from the token only: another user's conversation is a 404, and the agent
cannot touch another user's tasks, even when the model asks for their ids or names the user."""

from __future__ import annotations

from typing import Any

from tests.chat.conftest import Chat
from tests.chat.model_server import Call, Say, ScriptedModel


async def _alices_task(chat: Chat, model: ScriptedModel) -> tuple[int, dict[str, Any]]:
    model.answer(Call(("add_task", {"title": "Alice's secret"})), Say("Added."))
    answer = await chat.ok("alice", "add my secret")
    [task] = await chat.tasks("alice")
    return answer["conversation_id"], task


async def test_another_users_conversation_cannot_be_continued(chat: Chat, model: ScriptedModel) -> None:
    conversation_id, _ = await _alices_task(chat, model)
    sent_before = len(model.received)

    refused = await chat.send("bob", "what did alice say?", conversation_id)
    streamed = await chat.send("bob", "what did alice say?", conversation_id, stream=True)
    read = await chat.conversation("bob", conversation_id)

    assert refused.status_code == 404
    assert refused.json() == {"detail": "Conversation not found"}
    assert streamed.status_code == 404
    assert streamed.headers["content-type"] == "application/json"
    assert read.status_code == 404
    # Nothing was sent to the model and nothing added to Alice's conversation.
    assert len(model.received) == sent_before
    stored = (await chat.conversation("alice", conversation_id)).json()
    assert stored["message_count"] == 2


async def test_the_agent_cannot_touch_another_users_tasks_by_id(chat: Chat, model: ScriptedModel) -> None:
    _, task = await _alices_task(chat, model)
    task_id = task["id"]
    model.answer(
        Call(
            ("get_task", {"task_id": task_id}),
            ("complete_task", {"task_id": task_id, "completed": True}),
            ("update_task", {"task_id": task_id, "title": "stolen"}),
            ("delete_task", {"task_id": task_id}),
        ),
        Say("Nothing there."),
    )

    answer = await chat.ok("bob", f"delete task {task_id}")

    assert [call["result"] for call in answer["tool_calls"]] == ["Task not found"] * 4
    assert await chat.tasks("alice") == [task]
    assert await chat.tasks("bob") == []


async def test_a_tool_argument_naming_a_user_is_refused(chat: Chat, model: ScriptedModel) -> None:
    _, task = await _alices_task(chat, model)
    model.answer(
        Call(
            ("delete_task", {"task_id": task["id"], "user_id": "alice"}),
            ("add_task", {"title": "planted", "user_id": "alice"}),
            ("list_tasks", {"owner": "alice"}),
        ),
        Say("I cannot."),
    )

    answer = await chat.ok("bob", "delete alice's task")

    results = [call["result"] for call in answer["tool_calls"]]
    assert results[0] == (
        "Invalid arguments: user_id not taken; the tools act for the signed-in user only, "
        "and no argument names a user"
    )
    assert results[1].startswith("Invalid arguments: user_id not taken")
    assert results[2].startswith("Invalid arguments: owner not taken")
    assert await chat.tasks("alice") == [task]
    assert await chat.tasks("bob") == []
    # No tool's schema has a place for a user.
    for tool in model.received[-1].body["tools"]:
        parameters = tool["function"]["parameters"]
        assert not {"user_id", "user", "owner"} & set(parameters["properties"])
        assert parameters["additionalProperties"] is False


async def test_the_path_user_must_be_the_token_user(chat: Chat, model: ScriptedModel) -> None:
    response = await chat.client.post("/api/alice/chat", json={"message": "hi"}, headers=chat.auth("bob"))

    assert response.status_code == 403
    assert model.received == []


async def test_a_caller_without_a_token_is_refused(chat: Chat, model: ScriptedModel) -> None:
    response = await chat.client.post(chat.url("alice"), json={"message": "hi"})

    assert response.status_code == 401
    assert model.received == []
