"""What a chat request may be: a conversation id is a whole number however JSON writes it."""

from __future__ import annotations

from tests.chat.conftest import Chat
from tests.chat.model_server import Say, ScriptedModel


async def test_a_conversation_id_written_as_a_whole_float_continues_that_conversation(
    chat: Chat, model: ScriptedModel
) -> None:
    model.answer(Say("Hello."), Say("Still here."))
    first = await chat.ok("alice", "hi")

    again = await chat.ok("alice", "are you there?", float(first["conversation_id"]))
    fraction = await chat.send("alice", "and now?", first["conversation_id"] + 0.5)

    assert again["conversation_id"] == first["conversation_id"]
    assert fraction.status_code == 422
    stored = (await chat.conversation("alice", first["conversation_id"])).json()
    assert [message["content"] for message in stored["messages"]] == [
        "hi",
        "Hello.",
        "are you there?",
        "Still here.",
    ]
