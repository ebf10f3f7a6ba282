"""Conversation operations. Every statement is scoped to the owner, so another user's
conversation is indistinguishable from a missing one.

Reading and deleting are one statement each, in autocommit (one round trip on PostgreSQL).
Adding a message is two, in a transaction: the conversation is taken (its activity and count)
and the message added only if it is the caller's.

Until the chat endpoint exists, the functions that add messages are called by the tests only;
they are what it will call for each turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from todo_api.conversations.errors import ConversationNotFound
from todo_api.conversations.schemas import ToolCall, tool_calls_column
from todo_api.conversations.statements import (
    ADD_MESSAGE,
    COUNT_CONVERSATIONS,
    DELETE_CONVERSATION,
    MARK_UNANSWERED,
    START_CONVERSATION,
    TOUCH_CONVERSATION,
    list_page_query,
    with_messages_query,
)
from todo_api.db.connection import Connection, Database, ForeignKeyViolation
from todo_api.db.query import Row
from todo_api.errors import Unauthenticated
from todo_api.models import MAX_ID, MessageRole, utc_now

# A title is the start of the conversation's first message, on one line.
TITLE_LENGTH = 80


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """One page of conversations (the columns of CONVERSATION_COLUMNS) and how many there are."""

    items: list[Row]
    total: int


@dataclass(frozen=True, slots=True)
class ConversationWithMessages:
    """A conversation, a page of its messages oldest first, and whether older ones remain."""

    conversation: Row
    messages: list[Row]
    older: bool


async def list_conversations(
    database: Database, *, user_id: str, limit: int, offset: int
) -> ConversationPage:
    """One page of the user's conversations, the most recently active first, and how many."""
    async with database.autocommit() as connection:
        rows = await connection.fetch(list_page_query(), {"owner": user_id, "limit": limit, "offset": offset})
        if rows or offset == 0:
            return ConversationPage(items=rows, total=rows[0]["total"] if rows else 0)
        # Past the last page no row carries the total: only then a second statement counts.
        counted = await connection.fetch(COUNT_CONVERSATIONS, {"owner": user_id})
    return ConversationPage(items=rows, total=counted[0]["total"])


async def get_conversation(
    database: Database, *, user_id: str, conversation_id: int, limit: int, before: int | None = None
) -> ConversationWithMessages:
    """The user's conversation with its latest `limit` messages (those before the message id
    `before`, when given), oldest first; or ConversationNotFound."""
    async with database.autocommit() as connection:
        return await _with_messages(
            connection,
            user_id=user_id,
            conversation_id=conversation_id,
            limit=limit,
            before=before,
            answered_only=False,
        )


async def delete_conversation(database: Database, *, user_id: str, conversation_id: int) -> None:
    """Delete the user's conversation and its messages (ON DELETE CASCADE), or ConversationNotFound."""
    async with database.autocommit() as connection:
        deleted = await connection.fetch_one(
            DELETE_CONVERSATION, {"owner": user_id, "conversation_id": conversation_id}
        )
    if deleted is None:
        raise ConversationNotFound()


async def start_conversation(database: Database, *, user_id: str, content: str) -> Row:
    """Start a conversation of the user's with their first message, titled after it; the stored
    message (its `conversation_id` names the new conversation)."""
    now = utc_now()
    try:
        async with database.transaction() as connection:
            # An INSERT ... RETURNING returns its row.
            [conversation] = await connection.fetch(
                START_CONVERSATION, {"owner": user_id, "new_title": title_of(content), "now": now}
            )
            return await _add_message(
                connection,
                user_id=user_id,
                conversation_id=conversation["id"],
                role=MessageRole.USER,
                content=content,
                tool_calls=(),
            )
    except ForeignKeyViolation:
        # Only in shared database mode: a still-valid token of a deleted Better Auth user.
        raise Unauthenticated("Invalid token: the user no longer exists") from None


async def add_user_message(database: Database, *, user_id: str, conversation_id: int, content: str) -> Row:
    """Add the user's next message to their conversation, or ConversationNotFound."""
    return await _append(
        database, MessageRole.USER, user_id=user_id, conversation_id=conversation_id, content=content
    )


async def add_assistant_message(
    database: Database,
    *,
    user_id: str,
    conversation_id: int,
    content: str,
    tool_calls: Sequence[ToolCall] = (),
) -> Row:
    """Add the assistant's answer, with the tool calls it made, to the user's conversation, or
    ConversationNotFound (the user deleted it while the model was answering)."""
    return await _append(
        database,
        MessageRole.ASSISTANT,
        user_id=user_id,
        conversation_id=conversation_id,
        content=content,
        tool_calls=tool_calls,
    )


async def mark_unanswered(database: Database, *, user_id: str, message_id: int) -> None:
    """Mark the user's message as one the model failed to answer (a provider timeout or error):
    it stays in the conversation, and is no longer part of the history sent to the model. A
    message that is not one of the user's own is ConversationNotFound."""
    async with database.autocommit() as connection:
        marked = await connection.fetch_one(MARK_UNANSWERED, {"owner": user_id, "message_id": message_id})
    if marked is None:
        raise ConversationNotFound()


async def recent_history(
    database: Database, *, user_id: str, conversation_id: int, max_turns: int, max_characters: int
) -> list[Row]:
    """What a chat turn sends the model: the conversation's latest answered messages, oldest
    first, at most `max_turns` of the user's messages and `max_characters` of text in all (tool
    calls counted as their JSON), starting with a user's message; or ConversationNotFound."""
    async with database.autocommit() as connection:
        # A turn is a user's message and the answer to it.
        page = await _with_messages(
            connection,
            user_id=user_id,
            conversation_id=conversation_id,
            limit=2 * max_turns,
            before=None,
            answered_only=True,
        )
    kept: list[Row] = []
    characters = turns = 0
    for message in reversed(page.messages):
        characters += len(message["content"]) + len(message["tool_calls"] or "")
        turns += message["role"] == MessageRole.USER
        if characters > max_characters or turns > max_turns:
            break
        kept.append(message)
    # A model reads an answer after the question it answers.
    while kept and kept[-1]["role"] != MessageRole.USER:
        kept.pop()
    return kept[::-1]


def title_of(content: str) -> str | None:
    """A conversation's title: the start of its first message, on one line; None if blank."""
    line = " ".join(content.split())
    if len(line) > TITLE_LENGTH:
        line = line[: TITLE_LENGTH - 1].rstrip() + "…"
    return line or None


async def _with_messages(
    connection: Connection,
    *,
    user_id: str,
    conversation_id: int,
    limit: int,
    before: int | None,
    answered_only: bool,
) -> ConversationWithMessages:
    values: dict[str, Any] = {
        "owner": user_id,
        "conversation_id": conversation_id,
        "through": MAX_ID if before is None else before - 1,
        # One more than asked for: whether older messages remain, without counting them.
        "limit": limit + 1,
    }
    rows = await connection.fetch(with_messages_query(answered_only=answered_only), values)
    if not rows:
        raise ConversationNotFound()
    page = [row for row in rows if row["message_id"] is not None]
    older = len(page) > limit
    return ConversationWithMessages(conversation=rows[0], messages=page[1:] if older else page, older=older)


async def _append(
    database: Database,
    role: MessageRole,
    *,
    user_id: str,
    conversation_id: int,
    content: str,
    tool_calls: Sequence[ToolCall] = (),
) -> Row:
    async with database.transaction() as connection:
        return await _add_message(
            connection,
            user_id=user_id,
            conversation_id=conversation_id,
            role=role,
            content=content,
            tool_calls=tool_calls,
        )


async def _add_message(
    connection: Connection,
    *,
    user_id: str,
    conversation_id: int,
    role: MessageRole,
    content: str,
    tool_calls: Sequence[ToolCall],
) -> Row:
    owned = {"owner": user_id, "conversation_id": conversation_id, "now": utc_now()}
    if await connection.fetch_one(TOUCH_CONVERSATION, owned) is None:
        raise ConversationNotFound()
    values = owned | {
        "new_role": role.value,
        "new_content": content,
        "new_tool_calls": tool_calls_column(tool_calls),
    }
    [message] = await connection.fetch(ADD_MESSAGE, values)
    return message
