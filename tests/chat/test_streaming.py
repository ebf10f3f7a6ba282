"""With `Accept: text/event-stream` the answer streams: text deltas, each tool call once it
returned, then `done` with the JSON answer's body, or `error` with the status it would have had."""

from __future__ import annotations

from fastapi import FastAPI

from tests.chat.conftest import Chat, WritingForever, parse_events
from tests.chat.model_server import Call, Fail, Say, ScriptedModel
from tests.conftest import eventually
from todo_api.assistants.catalogue import Caller
from todo_api.auth import User
from todo_api.chat import service
from todo_api.conversations import service as conversations
from todo_api.state import AppState


async def test_the_answer_streams_as_server_sent_events(chat: Chat, model: ScriptedModel) -> None:
    model.answer(
        Call(("add_task", {"title": "Buy milk", "priority": "high"})), Say("Added Buy milk for you.")
    )

    response = await chat.send("alice", "add buy milk", stream=True)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-accel-buffering"] == "no"
    events = parse_events(response.text)
    assert response.headers["x-conversation-id"] == str(events[-1].data["conversation_id"])
    names = [event.name for event in events]
    assert names[0] == "tool_call"
    assert set(names[1:-1]) == {"delta"}
    assert names[-1] == "done"
    assert len(names) > 3, "the text came in pieces"
    call = events[0].data
    assert (call["name"], call["arguments"]) == ("add_task", {"title": "Buy milk", "priority": "high"})
    [task] = await chat.tasks("alice")
    assert call["result"]["id"] == task["id"]
    assert (
        "".join(event.data["text"] for event in events if event.name == "delta") == "Added Buy milk for you."
    )
    done = events[-1].data
    assert done["response"] == "Added Buy milk for you."
    assert done["tool_calls"] == [call]
    stored = (await chat.conversation("alice", done["conversation_id"])).json()
    assert stored["messages"][-1] == done["message"]
    # The model was asked to stream, and read the tool's arguments from streamed fragments.
    assert all(request.body["stream"] is True for request in model.received)


async def test_a_streamed_turn_continues_a_conversation(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Say("one"), Say("two"))
    first = await chat.ok("alice", "first")

    response = await chat.send("alice", "second", first["conversation_id"], stream=True)

    done = parse_events(response.text)[-1]
    assert done.name == "done"
    assert done.data["conversation_id"] == first["conversation_id"]
    assert model.received[1].messages[1:] == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "second"},
    ]


async def test_a_failure_while_streaming_is_an_error_event_and_the_message_is_kept(
    chat: Chat, model: ScriptedModel
) -> None:
    model.answer(Fail(500))

    response = await chat.send("alice", "hello", stream=True)

    assert response.status_code == 200
    [event] = parse_events(response.text)
    assert event.name == "error"
    assert event.data["status"] == 502
    assert "marked unanswered" in event.data["detail"]
    assert "provider-secret-text" not in response.text
    [conversation] = (await chat.client.get("/api/conversations", headers=chat.auth("alice"))).json()
    assert response.headers["x-conversation-id"] == str(conversation["id"])
    stored = (await chat.conversation("alice", conversation["id"])).json()
    assert [(m["content"], m["unanswered"]) for m in stored["messages"]] == [("hello", True)]


async def test_a_stream_left_before_its_end_leaves_the_message_unanswered(app: FastAPI) -> None:
    state: AppState = app.state.todo_api
    caller = Caller(user=User("alice"), state=state)
    opened = await service.begin_turn(caller, conversation_id=None, message="hello", timezone=None)
    pieces = service.stream(WritingForever(), opened)

    assert await anext(pieces) == "Hel"
    await pieces.aclose()  # what the server does when the client goes away

    async def marked() -> bool:
        found = await conversations.get_conversation(
            state.database, user_id="alice", conversation_id=opened.conversation_id, limit=10
        )
        return bool(found.messages[-1]["unanswered"])

    await eventually(marked, "marked unanswered")
