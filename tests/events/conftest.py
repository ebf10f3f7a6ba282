"""Reading a user's events stream as a browser does: over a real socket, frame by frame."""

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

from tests.chat.model_server import served
from tests.conftest import PATIENCE, serving_app
from todo_api.db.connection import Database

Auth = Callable[[str], dict[str, str]]


@dataclass(frozen=True)
class Frame:
    """One Server-Sent Events frame: its id, name and JSON data (comments are frames named ':')."""

    id: str | None
    name: str
    data: Any


class EventReader:
    """The frames of one open stream, read as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, seconds: float = PATIENCE, *, comments: bool = False) -> Frame:
        """The next frame (heartbeat comments skipped unless asked for); a test failure when
        none comes within `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        fields: dict[str, str] = {}
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                pytest.fail(f"no event within {seconds:g} s")
            try:
                line = await asyncio.wait_for(anext(self._lines), remaining)
            except TimeoutError:
                pytest.fail(f"no event within {seconds:g} s")
            if line.startswith(":"):
                if comments:
                    return Frame(None, ":", line[1:].strip())
                continue
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                continue
            if "data" in fields:
                return Frame(fields.get("id"), fields.get("event", "message"), json.loads(fields["data"]))
            fields = {}  # a frame without data (`retry:`) dispatches nothing

    async def events(self, count: int, seconds: float = PATIENCE) -> list[Frame]:
        return [await self.next(seconds) for _ in range(count)]


@asynccontextmanager
async def opened(
    url: str, headers: dict[str, str], params: dict[str, str] | None = None
) -> AsyncIterator[EventReader]:
    """The stream at `url` (a served app's base URL), open for the block; it must answer 200."""
    async with (
        httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client,
        client.stream("GET", "/api/events", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventReader(response)


@pytest.fixture
async def served_app(database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app on the test's database, its lifespan running, and a client for it (in-process)."""
    async with serving_app(database_url) as pair:
        yield pair


def database_of(app: FastAPI) -> Database:
    """The running app's database, for a test to call the events service on."""
    database: Database = app.state.todo_api.database
    return database


__all__ = ["Auth", "EventReader", "Frame", "database_of", "opened", "served"]
