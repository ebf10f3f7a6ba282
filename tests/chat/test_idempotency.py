"""Idempotency-Key on chat turns: a retried turn is answered once (one model run, one stored
answer) and replayed after; a retry while the turn runs is a 409; a failed or abandoned turn
frees its key, so that a retry runs again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.chat.conftest import Chat, WritingForever, chat_app, parse_events
from tests.chat.model_server import Fail, Say, ScriptedModel, Silent
from tests.conftest import eventually, make_settings
from todo_api.assistants.catalogue import Caller
from todo_api.auth import User
from todo_api.chat import retries, service
from todo_api.idempotency import service as idempotency
from todo_api.idempotency.errors import KeyInUse
from todo_api.state import AppState

Auth = Callable[[str], dict[str, str]]
KEY = "Idempotency-Key"
A_DAY = timedelta(days=1)


def keyed(key: str) -> dict[str, str]:
    return {KEY: key}


async def send(chat: Chat, message: str, key: str, *, stream: bool = False, **body: object) -> httpx.Response:
    headers = chat.auth("alice") | keyed(key) | ({"Accept": "text/event-stream"} if stream else {})
    return await chat.client.post(chat.url("alice"), json={"message": message} | body, headers=headers)


async def messages(chat: Chat, conversation_id: int) -> list[tuple[str, str, bool]]:
    stored = (await chat.conversation("alice", conversation_id)).json()
    return [(m["role"], m["content"], m["unanswered"]) for m in stored["messages"]]


async def sent(model: ScriptedModel) -> bool:
    """Whether the model got the turn's request."""
    return len(model.received) == 1


async def answered(requests: list[asyncio.Task[httpx.Response]], count: int) -> bool:
    return sum(request.done() for request in requests) >= count


async def conversation_count(chat: Chat) -> int:
    return len((await chat.client.get("/api/conversations", headers=chat.auth("alice"))).json())


async def test_a_retried_turn_is_answered_once_and_replayed(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Say("Hello there."))
    key = str(uuid.uuid4())

    first = await send(chat, "hello", key)
    retried = await send(chat, "hello", key)

    assert first.status_code == retried.status_code == 200, (first.text, retried.text)
    assert "idempotent-replayed" not in first.headers
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json() == first.json()
    assert retried.headers["x-conversation-id"] == first.headers["x-conversation-id"]
    assert retried.headers["content-type"] == "application/json"
    assert len(model.received) == 1
    assert await conversation_count(chat) == 1
    assert await messages(chat, first.json()["conversation_id"]) == [
        ("user", "hello", False),
        ("assistant", "Hello there.", False),
    ]


async def test_the_same_key_for_another_message_is_refused(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Say("Hello there."))
    key = str(uuid.uuid4())
    first = await send(chat, "hello", key)

    other = await send(chat, "goodbye", key)

    assert first.status_code == 200
    assert other.status_code == 422
    assert "different request" in other.json()["detail"]
    assert len(model.received) == 1
    assert await conversation_count(chat) == 1


async def test_a_retry_while_the_turn_runs_is_a_conflict(chat: Chat, model: ScriptedModel) -> None:
    thinking = asyncio.Event()
    model.answer(Silent(Say("Done thinking."), until=thinking))
    key = str(uuid.uuid4())

    first = asyncio.create_task(send(chat, "think hard", key))
    await eventually(lambda: sent(model), "sent to the model")
    during = await send(chat, "think hard", key)
    thinking.set()
    answered = await first
    after = await send(chat, "think hard", key)

    assert during.status_code == 409
    assert int(during.headers["retry-after"]) >= 1
    assert "still in progress" in during.json()["detail"]
    assert answered.status_code == 200
    assert after.status_code == 200
    assert after.headers["idempotent-replayed"] == "true"
    assert after.json() == answered.json()
    assert len(model.received) == 1


async def test_a_failed_turn_frees_its_key_for_the_retry(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Fail(500), Say("Second time lucky."))
    key = str(uuid.uuid4())

    failed = await send(chat, "hello", key)
    retried = await send(chat, "hello", key)
    replayed = await send(chat, "hello", key)

    assert failed.status_code == 502
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["response"] == "Second time lucky."
    assert replayed.headers["idempotent-replayed"] == "true"
    assert len(model.received) == 2


async def test_a_refused_turn_frees_its_key(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Say("Hello there."))
    key = str(uuid.uuid4())

    # Another user's conversation (or none): a 404 before anything is stored.
    refused = await send(chat, "hello", key, conversation_id=999_999)
    fixed = await send(chat, "hello", key)

    assert refused.status_code == 404
    assert fixed.status_code == 200, fixed.text
    assert "idempotent-replayed" not in fixed.headers


async def test_a_streamed_turn_is_replayed_as_its_answer(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Say("Hello there, streamed."))
    key = str(uuid.uuid4())

    streamed = await send(chat, "hello", key, stream=True)
    again = await send(chat, "hello", key, stream=True)
    as_json = await send(chat, "hello", key)

    first_events = parse_events(streamed.text)
    assert [event.name for event in first_events][-1] == "done"
    assert "delta" in [event.name for event in first_events]
    replayed = parse_events(again.text)
    assert again.status_code == 200
    assert again.headers["content-type"].startswith("text/event-stream")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-conversation-id"] == streamed.headers["x-conversation-id"]
    assert [(event.name, event.data) for event in replayed] == [("done", first_events[-1].data)]
    assert as_json.json() == first_events[-1].data
    assert len(model.received) == 1


async def test_the_key_is_the_callers_own(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Say("For alice."), Say("For bob."))
    key = str(uuid.uuid4())

    alice = await send(chat, "hello", key)
    bob_headers = chat.auth("bob") | keyed(key)
    bob = await chat.client.post(chat.url("bob"), json={"message": "hello"}, headers=bob_headers)

    assert alice.status_code == bob.status_code == 200
    assert "idempotent-replayed" not in bob.headers
    assert bob.json()["response"] == "For bob."


async def test_a_replayed_turn_costs_no_chat_turn(
    database_url: str, model: ScriptedModel, auth: Auth
) -> None:
    model.answer(Say("Hello there."))
    async with chat_app(database_url, model, auth, rate_limit_enabled=True, rate_limit_chat="1/minute") as (
        _,
        chat,
    ):
        key = str(uuid.uuid4())
        first = await send(chat, "hello", key)
        retried = await send(chat, "hello", key)
        another = await send(chat, "and another thing", str(uuid.uuid4()))

    assert (first.status_code, retried.status_code, another.status_code) == (200, 200, 429)
    assert retried.headers["idempotent-replayed"] == "true"
    assert len(model.received) == 1


async def test_a_chat_turns_key_is_not_a_task_writes(chat: Chat, model: ScriptedModel) -> None:
    model.answer(Say("Hello there."))
    key = str(uuid.uuid4())
    await send(chat, "hello", key)

    write = await chat.client.post(
        "/api/tasks", json={"title": "buy milk"}, headers=chat.auth("alice") | keyed(key)
    )

    assert write.status_code == 422
    assert await chat.tasks("alice") == []


async def test_twenty_racing_retries_run_one_turn(
    postgres_url: str, model: ScriptedModel, auth: Auth
) -> None:
    thinking = asyncio.Event()
    model.answer(Silent(Say("Only once."), until=thinking))
    key = str(uuid.uuid4())
    async with chat_app(postgres_url, model, auth) as (_, chat):
        racing = [asyncio.create_task(send(chat, "add one task", key)) for _ in range(20)]
        await eventually(lambda: sent(model), "sent to the model")
        # The model is held until every retry has been answered, so that each one met the
        # turn while it ran (a retry reaching the server after the turn ended is a replay).
        await eventually(lambda: answered(racing, 19), "19 retries answered while the turn ran")
        thinking.set()
        answers = await asyncio.gather(*racing)
        after = await send(chat, "add one task", key)

        assert sorted(response.status_code for response in answers) == [200] + [409] * 19
        assert after.headers["idempotent-replayed"] == "true"
        assert await conversation_count(chat) == 1
    assert len(model.received) == 1


async def _claim(state: AppState, key: str, *, lost_after: timedelta = A_DAY) -> idempotency.Claim:
    claimed = await idempotency.claim(
        state.database, user_id="alice", key=key, fingerprint="f", ttl=A_DAY, lost_after=lost_after
    )
    assert isinstance(claimed, idempotency.Claim)
    return claimed


async def test_a_stream_left_before_its_answer_frees_its_key(app: FastAPI) -> None:
    state: AppState = app.state.todo_api
    claim = await _claim(state, "left")
    opened = await service.begin_turn(
        Caller(user=User("alice"), state=state), conversation_id=None, message="hello", timezone=None
    )
    pieces = retries.kept(service.stream(WritingForever(), opened), claim, {})

    assert await anext(pieces) == "Hel"
    await pieces.aclose()  # what the server does when the client goes away

    async def free() -> bool:
        try:
            await _claim(state, "left")
        except KeyInUse:
            return False
        return True

    await eventually(free, "free to claim again")


async def test_a_lost_claim_is_taken_over_and_its_late_answer_not_kept(app: FastAPI) -> None:
    state: AppState = app.state.todo_api
    lost = await _claim(state, "k")
    with pytest.raises(KeyInUse):
        await _claim(state, "k")

    taken = await _claim(state, "k", lost_after=timedelta(0))
    await lost.keep(idempotency.Answer(status=200, body=b'{"late": true}'))

    with pytest.raises(KeyInUse):  # still the taker's, pending: the lost one's answer was not kept
        await _claim(state, "k")
    await taken.keep(idempotency.Answer(status=200, body=b'{"taken": true}'))
    replayed = await idempotency.claim(
        state.database, user_id="alice", key="k", fingerprint="f", ttl=A_DAY, lost_after=timedelta(0)
    )
    assert replayed == idempotency.Answer(status=200, body=b'{"taken": true}', headers={}, replayed=True)


async def test_a_pending_claim_within_its_time_is_not_taken_over(app: FastAPI) -> None:
    state: AppState = app.state.todo_api
    await _claim(state, "k")

    with pytest.raises(KeyInUse):
        await _claim(state, "k", lost_after=timedelta(hours=1))


def test_the_longest_turn_covers_every_try_of_every_model_request(database_url: str) -> None:
    settings = make_settings(database_url, chat_timeout=10, chat_max_retries=2, chat_max_turns=4)

    assert retries.longest_turn(settings) >= timedelta(seconds=10 * 3 * 4)
