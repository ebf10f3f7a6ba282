"""When the model fails: a timeout is a 504, a provider error or an unreadable reply a 502, a
provider's rate limit a 503 with its Retry-After; never a 500, never the provider's words. The
user's message is kept in the conversation, marked unanswered, and not sent to the model again.
Without a model configured, chat is a 503 that names the settings, and nothing else changes."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from tests.chat.conftest import PROVIDER_KEY, Chat, chat_app
from tests.chat.model_server import Call, Fail, Garbage, Hang, Reply, Say, ScriptedModel
from tests.conftest import answered_within, serving

FAILURES = [
    pytest.param(Fail(500), 502, id="provider-500"),
    pytest.param(Fail(401), 502, id="provider-401"),
    pytest.param(Garbage(), 502, id="not-json"),
    pytest.param(Fail(429), 503, id="provider-429"),
]


async def _assert_kept_unanswered(chat: Chat, conversation_id: int, content: str) -> None:
    stored = (await chat.conversation("alice", conversation_id)).json()
    last = stored["messages"][-1]
    assert (last["role"], last["content"], last["unanswered"]) == ("user", content, True)


async def _only_conversation(chat: Chat) -> int:
    [conversation] = (await chat.client.get("/api/conversations", headers=chat.auth("alice"))).json()
    conversation_id: int = conversation["id"]
    return conversation_id


@pytest.mark.parametrize(("reply", "status"), FAILURES)
async def test_a_provider_failure_is_a_gateway_error_and_the_message_is_kept(
    chat: Chat, model: ScriptedModel, reply: Reply, status: int
) -> None:
    model.answer(reply)

    response = await chat.send("alice", "add buy milk")

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert "your message is kept in the conversation, marked unanswered" in detail
    assert "provider-secret-text" not in response.text
    assert "Traceback" not in response.text
    assert PROVIDER_KEY not in response.text
    conversation_id = await _only_conversation(chat)
    assert response.headers["x-conversation-id"] == str(conversation_id)
    await _assert_kept_unanswered(chat, conversation_id, "add buy milk")


async def test_a_failed_turn_names_its_conversation_so_a_retry_continues_it(
    chat: Chat, model: ScriptedModel
) -> None:
    model.answer(Fail(500), Say("Hello again."))

    failed = await chat.send("alice", "hello")
    retried = await chat.ok("alice", "hello", int(failed.headers["x-conversation-id"]))

    assert failed.status_code == 502
    assert retried["conversation_id"] == await _only_conversation(chat)
    stored = (await chat.conversation("alice", retried["conversation_id"])).json()
    assert [(m["content"], m["unanswered"]) for m in stored["messages"]] == [
        ("hello", True),
        ("hello", False),
        ("Hello again.", False),
    ]


async def test_the_conversation_header_is_documented_and_readable_across_origins(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    model.answer(Say("hi"))
    origin = "http://localhost:3000"
    async with chat_app(database_url, model, auth, cors_origins=[origin]) as (_, chat):
        document = (await chat.client.get("/openapi.json")).json()
        response = await chat.client.post(
            "/api/chat", json={"message": "hi"}, headers=auth("alice") | {"Origin": origin}
        )

    assert response.status_code == 200
    assert response.headers["x-conversation-id"] == str(response.json()["conversation_id"])
    exposed = response.headers["access-control-expose-headers"].lower().split(", ")
    assert "x-conversation-id" in exposed
    for path in ("/api/chat", "/api/{user_id}/chat"):
        answers = document["paths"][path]["post"]["responses"]
        for status in ("200", "502", "503", "504"):
            assert "X-Conversation-ID" in answers[status]["headers"], (path, status)
        assert "headers" not in answers["404"]


async def test_a_provider_rate_limit_passes_its_retry_after_on(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Fail(429, headers={"Retry-After": "7"}))

    response = await chat.send("alice", "hello")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.headers["x-conversation-id"] == str(await _only_conversation(chat))


async def test_a_provider_rate_limit_without_retry_after_has_none(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Fail(429))

    response = await chat.send("alice", "hello")

    assert response.status_code == 503
    assert "retry-after" not in response.headers


async def test_a_model_slower_than_chat_timeout_is_a_504(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    model.answer(Hang())
    async with chat_app(database_url, model, auth, chat_timeout=0.5) as (_, chat):
        response = await answered_within(chat.send("alice", "hello"))
        conversation_id = await _only_conversation(chat)
        await _assert_kept_unanswered(chat, conversation_id, "hello")

    assert response.status_code == 504
    assert response.json()["detail"].startswith("The model took too long to answer")
    assert response.headers["x-conversation-id"] == str(conversation_id)


async def test_an_unanswered_message_is_not_sent_to_the_model_again(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Say("one"), Fail(500), Say("three"))
    first = await chat.ok("alice", "first")
    failed = await chat.send("alice", "second", first["conversation_id"])
    third = await chat.ok("alice", "third", first["conversation_id"])

    assert failed.status_code == 502
    assert third["conversation_id"] == first["conversation_id"]
    assert model.received[2].messages[1:] == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "third"},
    ]
    stored = (await chat.conversation("alice", first["conversation_id"])).json()
    assert [(m["content"], m["unanswered"]) for m in stored["messages"]] == [
        ("first", False),
        ("one", False),
        ("second", True),
        ("third", False),
        ("three", False),
    ]


async def test_a_failed_call_is_retried_as_configured(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    model.answer(Fail(500), Say("after a retry"))
    async with chat_app(database_url, model, auth, chat_max_retries=1) as (_, chat):
        answer = await chat.ok("alice", "hello")

    assert answer["response"] == "after a retry"
    assert len(model.received) == 2


async def test_without_a_model_chat_is_503_naming_the_settings(
    database_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    async with serving(database_url) as client:
        response = await client.post("/api/chat", json={"message": "hi"}, headers=auth("alice"))
        bad_body = await client.post("/api/alice/chat", json={"nothing": 1}, headers=auth("alice"))
        created = await client.post("/api/tasks", json={"title": "still works"}, headers=auth("alice"))
        conversations = await client.get("/api/conversations", headers=auth("alice"))

    assert response.status_code == 503
    assert "CHAT_MODEL" in response.json()["detail"]
    assert "OPENAI_API_KEY" in response.json()["detail"]
    assert "retry-after" not in response.headers
    assert bad_body.status_code == 503
    assert created.status_code == 201
    assert conversations.json() == []


async def test_chat_turns_have_a_per_user_limit_of_their_own(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    model.answer(Say("one"), Say("for bob"))
    async with chat_app(database_url, model, auth, rate_limit_enabled=True, rate_limit_chat="1/minute") as (
        _,
        chat,
    ):
        first = await chat.send("alice", "one")
        second = await chat.send("alice", "two")
        bobs = await chat.send("bob", "one")
        task = await chat.client.post("/api/tasks", json={"title": "writes go on"}, headers=auth("alice"))

    assert [first.status_code, second.status_code, bobs.status_code] == [200, 429, 200]
    assert int(second.headers["retry-after"]) >= 1
    assert task.status_code == 201
    assert len(model.received) == 2


async def test_a_chat_turn_logs_one_line_without_its_content(
    chat: Chat, model: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model.answer(Say("one"))
    first = await chat.ok("alice", "secret-question-text")
    model.answer(Call(("add_task", {"title": "secret-task-title"})), Say("secret-answer-text"))
    second = await chat.ok("alice", "second-secret-question", first["conversation_id"])
    model.answer(Fail(500))
    failed = await chat.send("alice", "third-secret-question", first["conversation_id"])

    turns = [record for record in caplog.records if getattr(record, "event", None) == "chat_turn"]
    assert [(r.conversation_id, r.model, r.tool_calls, r.outcome) for r in turns] == [  # type: ignore[attr-defined]
        (first["conversation_id"], "scripted-model", [], "answered"),
        (first["conversation_id"], "scripted-model", ["add_task"], "answered"),
        (first["conversation_id"], "scripted-model", [], "unanswered (502)"),
    ]
    assert all(isinstance(r.duration_ms, float) for r in turns)  # type: ignore[attr-defined]
    assert second["response"] == "secret-answer-text"
    assert failed.status_code == 502
    logged = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    for secret in ("secret-question-text", "secret-task-title", "secret-answer-text", "provider-secret-text"):
        assert secret not in logged
    assert PROVIDER_KEY not in logged
    assert "Bearer" not in logged


async def test_an_unreachable_provider_is_a_502(
    database_url: str, auth: Callable[[str], dict[str, str]], unused_tcp_port: int
) -> None:
    overrides = {
        "chat_model": "any",
        "openai_base_url": f"http://127.0.0.1:{unused_tcp_port}/v1",
        "openai_api_key": PROVIDER_KEY,
        "chat_max_retries": 0,
    }
    async with serving(database_url, **overrides) as client:
        response = await client.post("/api/chat", json={"message": "hi"}, headers=auth("alice"))

    assert response.status_code == 502
    assert "your message is kept" in response.json()["detail"]
