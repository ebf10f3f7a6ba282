"""What clients receive of conversations, and the tool calls the chat step stores with an answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field, JsonValue

from todo_api.models import MessageRole


class ToolCall(BaseModel):
    """One call the assistant made to a task tool while answering, and what it returned."""

    name: str = Field(description="The tool's name, e.g. add_task.")
    arguments: dict[str, JsonValue] = Field(description="The arguments it was called with.")
    result: JsonValue = Field(description="What the tool returned.")


class MessagePublic(BaseModel):
    """One message of a conversation."""

    id: int
    role: MessageRole
    content: str
    tool_calls: list[ToolCall] = Field(description="The tool calls an assistant message made; [] for none.")
    unanswered: bool = Field(
        description="true for a message of yours the assistant could not answer (the model failed); "
        "it is not sent to the model again."
    )
    created_at: datetime


class ConversationPublic(BaseModel):
    """A conversation, as the list of your conversations shows it."""

    id: int
    title: str | None = Field(description="The start of its first message; null if it had none.")
    message_count: int = Field(description="How many messages it has in all.")
    created_at: datetime
    updated_at: datetime = Field(description="When its last message was added; the list's order.")


class ConversationDetail(ConversationPublic):
    """A conversation with a page of its messages, oldest first."""

    messages: list[MessagePublic] = Field(
        description="Its latest `limit` messages (before `before`, when given), oldest first."
    )


def conversation_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """ConversationPublic's fields of a row (the columns of CONVERSATION_COLUMNS)."""
    return {
        "id": row["id"],
        "title": row["title"],
        "message_count": row["message_count"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def message_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """MessagePublic's fields of a row (the columns of MESSAGE_COLUMNS)."""
    tool_calls = row["tool_calls"]
    return {
        "id": row["message_id"],
        "role": row["role"],
        "content": row["content"],
        # Stored as the JSON text it is sent as: passed through, not parsed and written again.
        "tool_calls": [] if tool_calls is None else orjson.Fragment(tool_calls),
        "unanswered": row["unanswered"],
        "created_at": row["message_created_at"],
    }


def dump_conversations(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The JSON of `list[ConversationPublic]`; rows come from our typed columns, as tasks' do."""
    return orjson.dumps([conversation_fields(row) for row in rows], option=orjson.OPT_UTC_Z)


def dump_conversation(conversation: Mapping[str, Any], messages: Iterable[Mapping[str, Any]]) -> bytes:
    """The JSON of a ConversationDetail."""
    detail = conversation_fields(conversation) | {"messages": [message_fields(row) for row in messages]}
    return orjson.dumps(detail, option=orjson.OPT_UTC_Z)


def tool_calls_column(tool_calls: Sequence[ToolCall]) -> str | None:
    """The stored form of an answer's tool calls: JSON text, or None for none."""
    return (
        orjson.dumps([call.model_dump(mode="json") for call in tool_calls]).decode() if tool_calls else None
    )
