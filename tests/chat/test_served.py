"""A streamed answer over a real socket, through uvicorn as `todo-api serve` runs it: the events
reach the client as they are written, and a model that is silent for long has the stream kept
alive by heartbeat comments that proxies see as traffic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.chat.conftest import chat_app, parse_events
from tests.chat.model_server import Say, ScriptedModel, Silent, served
from tests.conftest import PATIENCE, answered_within, eventually


@asynccontextmanager
async def streamed_turn(
    database_url: str,
    model: ScriptedModel,
    auth: Callable[[str], dict[str, str]],
    message: str,
    **overrides: Any,
) -> AsyncIterator[AsyncIterator[str]]:
    """The lines of a streamed chat turn's answer from the app served on a real socket, read
    as they arrive."""
    headers = auth("alice") | {"Accept": "text/event-stream"}
    async with (
        chat_app(database_url, model, auth, **overrides) as (app, _),
        served(app) as url,
        httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client,
        client.stream("POST", "/api/chat", json={"message": message}, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield response.aiter_lines()


async def test_events_reach_the_client_while_the_model_is_still_writing(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    finish = asyncio.Event()
    model.answer(Say("Hello there, this answer streams.", hold=finish))
    async with streamed_turn(database_url, model, auth, "hi") as lines:
        read: list[str] = []
        # The model has sent its first piece and waits: the first delta must arrive now, or
        # never (the wait for it fails the test) if the stream were held back.
        while not read or not read[-1].startswith("data: "):
            read.append(await answered_within(anext(lines)))
        first = parse_events("\n".join(read))
        finish.set()
        read += [line async for line in lines]

    assert [event.name for event in first] == ["delta"]
    events = parse_events("\n".join(read))
    assert events[-1].name == "done"
    assert events[-1].data["response"] == "Hello there, this answer streams."
    assert "".join(event.data["text"] for event in events if event.name == "delta") == (
        "Hello there, this answer streams."
    )


async def test_a_silent_model_gets_heartbeats_before_its_answer(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    answering = asyncio.Event()
    model.answer(Silent(Say("At last."), until=answering))
    async with streamed_turn(database_url, model, auth, "hi", chat_heartbeat=0.05) as lines:
        # The model says nothing until it is told to: a heartbeat must come meanwhile.
        first = await answered_within(anext(lines))
        answering.set()
        rest = [line async for line in lines]

    assert first == ": keep-alive"
    events = parse_events("\n".join([first, *rest]))
    assert [event.name for event in events][-1] == "done"
    assert events[-1].data["response"] == "At last."


async def test_a_client_gone_while_the_model_is_silent_leaves_the_message_unanswered(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    never = asyncio.Event()
    model.answer(Silent(Say("Too late."), until=never))
    headers = auth("alice") | {"Accept": "text/event-stream"}
    async with (
        chat_app(database_url, model, auth, chat_heartbeat=0.05) as (app, chat),
        served(app) as url,
        httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client,
    ):
        async with client.stream("POST", "/api/chat", json={"message": "hi"}, headers=headers) as response:
            conversation_id = int(response.headers["x-conversation-id"])
            assert await answered_within(anext(response.aiter_lines())) == ": keep-alive"
        # The client went away between heartbeats, while the model was still silent.

        async def marked() -> bool:
            stored = (await chat.conversation("alice", conversation_id)).json()
            return bool(stored["messages"][-1]["unanswered"])

        await eventually(marked, "marked unanswered")
