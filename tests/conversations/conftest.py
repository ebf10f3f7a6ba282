"""Every conversation test runs against both route families: /api/conversations and
/api/{user_id}/conversations.

Until the chat endpoint exists, conversations and their messages are created through the
service functions it will call (`start_conversation`, `add_user_message`,
`add_assistant_message`), on the running app's own database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from todo_api.conversations import service
from todo_api.conversations.schemas import ToolCall
from todo_api.db.connection import Database
from todo_api.state import AppState


def app_database(app: FastAPI) -> Database:
    """The running app's database, for the service functions."""
    state: AppState = app.state.todo_api
    return state.database


class ConversationApi:
    """Calls the conversation routes of one family as a given user, and makes conversations
    through the service."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        database: Database,
        auth: Callable[[str], dict[str, str]],
        *,
        path_form: bool,
    ) -> None:
        self.client = client
        self.database = database
        self.auth = auth
        self.path_form = path_form

    def url(self, user: str, conversation_id: int | str | None = None) -> str:
        base = f"/api/{user}/conversations" if self.path_form else "/api/conversations"
        return base + (f"/{conversation_id}" if conversation_id is not None else "")

    async def call(
        self, method: str, user: str, conversation_id: int | str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = self.auth(user) | kwargs.pop("headers", {})
        return await self.client.request(method, self.url(user, conversation_id), headers=headers, **kwargs)

    async def start(self, user: str, *turns: tuple[str, str]) -> int:
        """A conversation of `user`'s with these (question, answer) turns; its id."""
        first, *rest = turns or (("hello", "hi"),)
        started = await service.start_conversation(self.database, user_id=user, content=first[0])
        conversation_id: int = started["conversation_id"]
        await service.add_assistant_message(
            self.database, user_id=user, conversation_id=conversation_id, content=first[1]
        )
        for question, answer in rest:
            await self.turn(user, conversation_id, question, answer)
        return conversation_id

    async def turn(self, user: str, conversation_id: int, question: str, answer: str, **extra: Any) -> None:
        await service.add_user_message(
            self.database, user_id=user, conversation_id=conversation_id, content=question
        )
        await service.add_assistant_message(
            self.database, user_id=user, conversation_id=conversation_id, content=answer, **extra
        )

    async def get(self, user: str, conversation_id: int, **params: Any) -> httpx.Response:
        return await self.call("GET", user, conversation_id, params=params)

    async def list(self, user: str, **params: Any) -> httpx.Response:
        return await self.call("GET", user, params=params)


@pytest.fixture(params=["token-form", "path-form"])
def api(
    request: pytest.FixtureRequest,
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Callable[[str], dict[str, str]],
) -> ConversationApi:
    return ConversationApi(client, app_database(app), auth, path_form=request.param == "path-form")


ADD_MILK = ToolCall(
    name="add_task",
    arguments={"title": "Buy milk", "priority": "high"},
    result={"id": 1, "title": "Buy milk"},
)
