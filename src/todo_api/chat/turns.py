"""A chat turn as the model sees it, and what answers it: what the service hands an assistant,
and what it gets back. No SDK here (`agent` is the Agents SDK's side of it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from todo_api.assistants.catalogue import RULES, Caller
from todo_api.conversations.schemas import ToolCall
from todo_api.db.query import Row

CHAT_PATH = "/api/chat"


@dataclass(slots=True)
class Turn:
    """One message to answer: who asked (the tools act for them only), what was said before,
    and the tool calls made so far while answering (kept even if the model then fails)."""

    caller: Caller
    instructions: str
    history: Sequence[Row]
    message: str
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Reply:
    """The model's answer to a turn, and the tool calls it made for it."""

    text: str
    tool_calls: list[ToolCall]


class Assistant(Protocol):
    """A model that answers turns with the task tools, whole or as it writes."""

    @property
    def model(self) -> str:
        """The model's name, for the log."""
        ...

    async def answer(self, turn: Turn) -> Reply:
        """The whole answer, or a ModelUnanswered error."""
        ...

    def stream(self, turn: Turn) -> AsyncIterator[str | ToolCall | Reply]:
        """Pieces of text and each tool call as it returns, then the Reply; or a ModelUnanswered."""
        ...

    async def aclose(self) -> None:
        """Release the model's client."""
        ...


def instructions(now: datetime, timezone: str) -> str:
    """The agent's instructions: short, with today's date and the time in the user's zone."""
    local = now.astimezone(ZoneInfo(timezone))
    return (
        "You help the signed-in user manage their to-do list with the task tools. "
        f"{RULES} It is now {local:%A %Y-%m-%d %H:%M} in the user's time zone, {timezone}: read "
        "dates such as 'tomorrow' or 'next Friday' from there, and pass "
        f'timezone="{timezone}" with a due date. Ask before deleting a task. Answer briefly, in '
        "the user's language."
    )
