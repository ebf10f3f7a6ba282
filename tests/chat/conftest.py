"""The chat tests' model (`model_server`), an app configured for it, and a client that chats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.chat.model_server import MODEL, ScriptedModel, scripted_model
from tests.conftest import serving_app
from todo_api.chat.turns import Reply as TurnReply
from todo_api.chat.turns import Turn
from todo_api.conversations.schemas import ToolCall

# What the tests give as the provider's key: it must reach the model, and nothing else.
PROVIDER_KEY = "sk-test-placeholder-provider-key-0000"


def chat_settings(model: ScriptedModel, **overrides: Any) -> dict[str, Any]:
    """Settings that point the chat endpoint at the scripted model; no retries unless asked."""
    return {
        "chat_model": MODEL,
        "openai_base_url": model.url,
        "openai_api_key": PROVIDER_KEY,
        "chat_max_retries": 0,
    } | overrides


@dataclass
class Event:
    """One server-sent event."""

    name: str
    data: Any


def parse_events(text: str) -> list[Event]:
    """The events of a text/event-stream body, each `data` read as JSON; comments (a line that
    begins with a colon: the heartbeats) are skipped, as an SSE parser skips them."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
        if fields:
            events.append(Event(fields["event"][0], json.loads("\n".join(fields["data"]))))
    return events


class Chat:
    """Chats with the app as a given user, in one route family."""

    def __init__(
        self, client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], *, path_form: bool
    ) -> None:
        self.client = client
        self.auth = auth
        self.path_form = path_form

    def url(self, user: str) -> str:
        return f"/api/{user}/chat" if self.path_form else "/api/chat"

    async def send(
        self,
        user: str,
        message: str,
        conversation_id: int | None = None,
        *,
        stream: bool = False,
        **body: Any,
    ) -> httpx.Response:
        payload: dict[str, Any] = {"message": message} | body
        if conversation_id is not None:
            payload["conversation_id"] = conversation_id
        headers = self.auth(user) | ({"Accept": "text/event-stream"} if stream else {})
        return await self.client.post(self.url(user), json=payload, headers=headers)

    async def ok(
        self, user: str, message: str, conversation_id: int | None = None, **body: Any
    ) -> dict[str, Any]:
        """A turn that must succeed: its JSON answer."""
        response = await self.send(user, message, conversation_id, **body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def tasks(self, user: str) -> list[dict[str, Any]]:
        response = await self.client.get("/api/tasks", headers=self.auth(user), params={"sort": "created_at"})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    async def conversation(self, user: str, conversation_id: int) -> httpx.Response:
        return await self.client.get(f"/api/conversations/{conversation_id}", headers=self.auth(user))


class WritingForever:
    """An assistant that writes one piece and then waits for ever (for a client to leave)."""

    model = "writing"

    async def answer(self, turn: Turn) -> TurnReply:
        raise NotImplementedError

    async def stream(self, turn: Turn) -> AsyncIterator[str | ToolCall | TurnReply]:
        yield "Hel"
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        pass


@pytest.fixture
async def model() -> AsyncIterator[ScriptedModel]:
    async with scripted_model() as running:
        yield running


@asynccontextmanager
async def chat_app(
    database_url: str,
    model: ScriptedModel,
    auth: Callable[[str], dict[str, str]],
    *,
    path_form: bool = False,
    **overrides: Any,
) -> AsyncIterator[tuple[FastAPI, Chat]]:
    """The real app on `database_url`, chatting with `model`."""
    async with serving_app(database_url, **chat_settings(model, **overrides)) as (app, client):
        yield app, Chat(client, auth, path_form=path_form)


@pytest.fixture(params=["token-form", "path-form"])
async def chat(
    request: pytest.FixtureRequest,
    database_url: str,
    model: ScriptedModel,
    auth: Callable[[str], dict[str, str]],
) -> AsyncIterator[Chat]:
    """A client of the app on the test's database, chatting in each route family."""
    async with chat_app(database_url, model, auth, path_form=request.param == "path-form") as (_, client):
        yield client
