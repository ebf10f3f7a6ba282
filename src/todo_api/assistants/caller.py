"""Who an /mcp request acts for. Kept apart from the tools so that the endpoint can name the
caller without importing the MCP SDK, which a worker loads only when /mcp is first called."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from todo_api.auth import User
from todo_api.state import AppState

MCP_PATH = "/mcp"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who the current /mcp request was authenticated as, and the app it reached."""

    user: User
    state: AppState


# Set by the endpoint for the one request it is serving; the tools read nothing else to know
# whose tasks they act on.
current_caller: ContextVar[Caller] = ContextVar("current_caller")
