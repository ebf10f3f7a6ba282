"""Chat turns against the scripted model: a new conversation, a resumed one (after a restart of
the app too), and the tool calls that create, list, complete, update and delete tasks."""

from __future__ import annotations

from collections.abc import Callable

from tests.chat.conftest import PROVIDER_KEY, Chat, chat_app
from tests.chat.model_server import MODEL, Call, Say, ScriptedModel


async def test_a_message_starts_a_conversation_and_the_answer_is_stored(
    chat: Chat, model: ScriptedModel
) -> None:
    model.answer(Say("Hello! What shall we do?"))

    response = await chat.send("alice", "hi there")
    answer = response.json()

    assert response.headers["x-conversation-id"] == str(answer["conversation_id"])
    assert answer["response"] == "Hello! What shall we do?"
    assert answer["tool_calls"] == []
    message = answer["message"]
    assert (message["role"], message["content"], message["unanswered"]) == (
        "assistant",
        answer["response"],
        False,
    )
    stored = (await chat.conversation("alice", answer["conversation_id"])).json()
    assert [(m["role"], m["content"]) for m in stored["messages"]] == [
        ("user", "hi there"),
        ("assistant", "Hello! What shall we do?"),
    ]
    assert stored["messages"][1]["id"] == message["id"]
    [sent] = model.received
    assert sent.body["model"] == MODEL
    assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert sent.messages[0]["role"] == "system"
    assert sent.messages[1:] == [{"role": "user", "content": "hi there"}]
    assert set(sent.tool_names) == {
        "add_task",
        "list_tasks",
        "get_task",
        "update_task",
        "complete_task",
        "delete_task",
    }


async def test_the_agent_adds_a_task_for_the_caller(chat: Chat, model: ScriptedModel) -> None:
    model.answer(
        Call(("add_task", {"title": "Buy milk", "priority": "high", "due_date": "2030-01-02"})),
        Say("Added: Buy milk, due 2 January, high priority."),
    )

    answer = await chat.ok("alice", "add buy milk on 2 January 2030 with high priority")

    [task] = await chat.tasks("alice")
    assert (task["title"], task["priority"], task["due_date"]) == ("Buy milk", "high", "2030-01-02")
    [call] = answer["tool_calls"]
    assert call["name"] == "add_task"
    assert call["arguments"] == {"title": "Buy milk", "priority": "high", "due_date": "2030-01-02"}
    assert call["result"]["id"] == task["id"]
    assert answer["message"]["tool_calls"] == answer["tool_calls"]
    # The model read the tool's result before answering.
    tool_message = model.received[1].messages[-1]
    assert tool_message["role"] == "tool"
    assert '"Buy milk"' in tool_message["content"]
    assert await chat.tasks("bob") == []


async def test_a_conversation_resumes_with_its_history_after_a_restart(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    model.answer(
        Call(("add_task", {"title": "Buy milk"})),
        Say("Added Buy milk."),
        Say("It is task 1."),
    )
    async with chat_app(database_url, model, auth) as (_, chat):
        first = await chat.ok("alice", "add buy milk")
    # A new instance of the service on the same database: nothing of the conversation was in memory.
    async with chat_app(database_url, model, auth) as (_, chat):
        second = await chat.ok("alice", "which task was that?", first["conversation_id"])
        stored = (await chat.conversation("alice", first["conversation_id"])).json()

    assert second["conversation_id"] == first["conversation_id"]
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
    call = first["tool_calls"][0]
    sent = model.received[2].messages[1:]
    assert sent[0] == {"role": "user", "content": "add buy milk"}
    # The earlier answer's tool call and its result, then the answer, then the new message.
    assert sent[1]["role"] == "assistant"
    [earlier] = sent[1]["tool_calls"]
    assert earlier["function"]["name"] == "add_task"
    assert earlier["function"]["arguments"] == '{"title": "Buy milk"}'
    assert sent[2]["role"] == "tool"
    assert sent[2]["tool_call_id"] == earlier["id"]
    assert f'"id": {call["result"]["id"]}' in sent[2]["content"]
    assert sent[3] == {"role": "assistant", "content": "Added Buy milk."}
    assert sent[4] == {"role": "user", "content": "which task was that?"}


async def test_add_list_complete_update_and_delete_through_the_agent(
    chat: Chat, model: ScriptedModel
) -> None:
    model.answer(
        Call(("add_task", {"title": "Buy milk", "priority": "high", "due_date": "2030-01-02"})),
        Say("Added."),
    )
    added = await chat.ok("alice", "add buy milk on 2 January 2030 with high priority")
    task_id = added["tool_calls"][0]["result"]["id"]
    model.answer(
        Call(("list_tasks", {"due_date_from": "2030-01-01", "due_date_to": "2030-01-07"})),
        Say("Buy milk is due on 2 January."),
    )
    listed = await chat.ok("alice", "what's due that week?", added["conversation_id"])
    model.answer(Call(("complete_task", {"task_id": task_id, "completed": True})), Say("Done."))
    completed = await chat.ok("alice", "mark it done", added["conversation_id"])
    model.answer(Call(("update_task", {"task_id": task_id, "title": "Buy oat milk"})), Say("Renamed."))
    updated = await chat.ok("alice", "call it oat milk", added["conversation_id"])
    [after_update] = await chat.tasks("alice")
    model.answer(Call(("delete_task", {"task_id": task_id})), Say("Deleted."))
    deleted = await chat.ok("alice", "delete it", added["conversation_id"])

    result = listed["tool_calls"][0]["result"]
    assert (result["total"], [task["id"] for task in result["tasks"]]) == (1, [task_id])
    assert completed["tool_calls"][0]["result"]["status"] == "completed"
    assert updated["tool_calls"][0]["result"]["title"] == "Buy oat milk"
    assert (after_update["title"], after_update["completed"]) == ("Buy oat milk", True)
    assert deleted["tool_calls"][0]["result"] == {"deleted_task_id": task_id}
    assert await chat.tasks("alice") == []
    stored = (await chat.conversation("alice", added["conversation_id"])).json()
    assert stored["message_count"] == 10


async def test_a_tool_error_is_a_sentence_the_model_reads(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Call(("add_task", {"title": ""}), ("complete_task", {"task_id": "7"})), Say("Sorry."))

    answer = await chat.ok("alice", "add nothing")

    results = [call["result"] for call in answer["tool_calls"]]
    assert results[0].startswith("Invalid arguments: title:")
    assert results[1].startswith("Invalid arguments: task_id:")
    assert await chat.tasks("alice") == []
    tool_messages = [m for m in model.received[1].messages if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == [f'"{result}"' for result in results]


async def test_the_instructions_name_today_and_the_users_time_zone(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Say("Noted."), Say("Noted."))

    await chat.ok("alice", "hello", timezone="america/new_york")
    await chat.ok("alice", "hello")

    new_york, utc = (request.messages[0]["content"] for request in model.received)
    assert "America/New_York" in new_york
    assert 'timezone="America/New_York"' in new_york
    assert "UTC" in utc
    assert "not theirs is reported as not found" in utc


async def test_an_unknown_time_zone_is_refused(chat: Chat, model: ScriptedModel) -> None:
    response = await chat.send("alice", "hello", timezone="Mars/Olympus_Mons")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "timezone"]
    assert model.received == []


async def test_the_history_sent_is_bounded_by_turns(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    model.answer(Say("one"), Say("two"), Say("three"))
    async with chat_app(database_url, model, auth, chat_history_turns=1) as (_, chat):
        first = await chat.ok("alice", "first")
        await chat.ok("alice", "second", first["conversation_id"])
        await chat.ok("alice", "third", first["conversation_id"])

    assert model.received[2].messages[1:] == [
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "third"},
    ]


async def test_a_message_over_the_configured_length_is_refused(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    async with chat_app(database_url, model, auth, chat_max_message_length=10) as (_, chat):
        refused = await chat.send("alice", "x" * 11)
        empty = await chat.send("alice", "")
        listed = await chat.client.get("/api/conversations", headers=chat.auth("alice"))

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "message"]
    assert "at most 10 characters" in refused.json()["detail"][0]["msg"]
    assert empty.status_code == 422
    assert listed.json() == []
    assert model.received == []


async def test_a_model_calling_tools_in_a_loop_stops_with_a_clear_answer(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    model.answer(*[Call(("list_tasks", {}))] * 3)
    async with chat_app(database_url, model, auth, chat_max_turns=2) as (_, chat):
        answer = await chat.ok("alice", "list for ever")
        stored = (await chat.conversation("alice", answer["conversation_id"])).json()

    assert len(model.received) == 2
    assert answer["response"].startswith("I stopped after 2 steps without finishing.")
    assert [call["name"] for call in answer["tool_calls"]] == ["list_tasks", "list_tasks"]
    assert stored["messages"][-1]["content"] == answer["response"]
    assert stored["messages"][0]["unanswered"] is False
