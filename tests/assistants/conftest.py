"""A real `todo-api serve` for the MCP tests, and the official MCP Python SDK client for it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from tests.conftest import SECRET, Database
from tests.interop.service_driver import TodoService


@pytest.fixture(scope="module")
def mcp_service(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TodoService]:
    """`todo-api serve` on a database of its own (SQLite, or TEST_DATABASE_URL's PostgreSQL)."""
    workdir = tmp_path_factory.mktemp("mcp-service")
    with database.private(workdir) as url:
        service = TodoService(workdir / "service", {"DATABASE_URL": url, "BETTER_AUTH_SECRET": SECRET})
        with service:
            yield service


def new_user() -> str:
    """A user id no other test uses, so tests sharing a service never see each other's tasks."""
    return f"user-{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def mcp_session(url: str, token: str) -> AsyncIterator[ClientSession]:
    """An initialized MCP session to `url`, sending `token` as the bearer."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def structured(result: CallToolResult) -> dict[str, Any]:
    """A successful call's structured content."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    """A failed call's message (the call must have failed as a tool error)."""
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)
