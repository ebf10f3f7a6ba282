"""A chat turn: the user's message stored, the model asked with a bounded history, its answer
stored; or, when the model fails, the message kept and marked unanswered (it stays in the
conversation, is not sent to the model again, and the error says so). Any instance can answer
any turn: the conversation is in the database, nowhere else.

The history is read before the message is stored, so another user's conversation is refused
(ConversationNotFound, a 404) before anything is written. No web framework and no SDK here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Coroutine
from dataclasses import dataclass
from typing import Any

from todo_api.assistants.catalogue import Caller
from todo_api.chat.errors import ModelUnanswered
from todo_api.chat.schemas import ChatResponse
from todo_api.chat.turns import Assistant, Reply, Turn, instructions
from todo_api.conversations import service as conversations
from todo_api.conversations.schemas import MessagePublic, ToolCall
from todo_api.db.query import Row
from todo_api.models import MessageRole, utc_now

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class OpenTurn:
    """A turn whose message is stored and not yet answered."""

    turn: Turn
    conversation_id: int
    message_id: int
    started: float


async def begin_turn(
    caller: Caller, *, conversation_id: int | None, message: str, timezone: str | None
) -> OpenTurn:
    """Store the user's message (in a new conversation when `conversation_id` is None) and
    gather what the model is sent; ConversationNotFound if the conversation is not the user's."""
    started = time.perf_counter()
    database, settings, user_id = caller.state.database, caller.state.settings, caller.user.id
    history: list[Row] = []
    if conversation_id is None:
        stored = await conversations.start_conversation(database, user_id=user_id, content=message)
    else:
        history = await conversations.recent_history(
            database,
            user_id=user_id,
            conversation_id=conversation_id,
            max_turns=settings.chat_history_turns,
            max_characters=settings.chat_history_characters,
        )
        stored = await conversations.add_user_message(
            database, user_id=user_id, conversation_id=conversation_id, content=message
        )
    turn = Turn(
        caller=caller,
        instructions=instructions(utc_now(), timezone or "UTC"),
        history=history,
        message=message,
    )
    return OpenTurn(
        turn, conversation_id=stored["conversation_id"], message_id=stored["message_id"], started=started
    )


async def answer(assistant: Assistant, opened: OpenTurn) -> ChatResponse:
    """The model's whole answer, stored; or the error that kept it from answering."""
    try:
        reply = await assistant.answer(opened.turn)
    except ModelUnanswered as error:
        await _unanswered(assistant, opened, error)
        raise
    return await _answered(assistant, opened, reply)


async def stream(
    assistant: Assistant, opened: OpenTurn
) -> AsyncGenerator[str | ToolCall | ChatResponse, None]:
    """The answer as the model writes it (text, then each tool call as it returns), and last the
    stored answer; or the error that kept the model from answering. A stream left before its
    end (the client went away) leaves the message unanswered too."""
    reply: Reply | None = None
    try:
        async for piece in assistant.stream(opened.turn):
            if isinstance(piece, Reply):
                reply = piece
            else:
                yield piece
    except ModelUnanswered as error:
        await _unanswered(assistant, opened, error)
        raise
    except (asyncio.CancelledError, GeneratorExit):
        # The client went away. Whatever awaits here is cancelled again at once, so the mark is
        # set by a task of its own.
        in_background(_abandoned(assistant, opened))
        raise
    if reply is None:  # the assistant ended without its reply: a bug, not the model's failure
        raise RuntimeError("the assistant's stream ended without a reply")
    yield await _answered(assistant, opened, reply)


# Tasks started by `in_background`, held until they end (the loop keeps only weak references).
_background: set[asyncio.Task[None]] = set()


def in_background(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` on a task of its own, held until it ends."""
    task = asyncio.get_running_loop().create_task(work)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _answered(assistant: Assistant, opened: OpenTurn, reply: Reply) -> ChatResponse:
    caller = opened.turn.caller
    stored = await conversations.add_assistant_message(
        caller.state.database,
        user_id=caller.user.id,
        conversation_id=opened.conversation_id,
        content=reply.text,
        tool_calls=reply.tool_calls,
    )
    _log_turn(assistant, opened, outcome="answered")
    return ChatResponse(
        conversation_id=opened.conversation_id,
        response=reply.text,
        tool_calls=reply.tool_calls,
        message=MessagePublic(
            id=stored["message_id"],
            role=MessageRole.ASSISTANT,
            content=reply.text,
            tool_calls=reply.tool_calls,
            unanswered=False,
            created_at=stored["message_created_at"],
        ),
    )


async def _unanswered(assistant: Assistant, opened: OpenTurn, error: ModelUnanswered | None) -> None:
    caller = opened.turn.caller
    _log_turn(
        assistant, opened, outcome="abandoned" if error is None else f"unanswered ({error.status_code})"
    )
    await conversations.mark_unanswered(
        caller.state.database, user_id=caller.user.id, message_id=opened.message_id
    )


async def _abandoned(assistant: Assistant, opened: OpenTurn) -> None:
    try:
        await _unanswered(assistant, opened, None)
    except Exception as error:  # the database is away, or the app stopping: the mark is lost
        logger.warning(
            "unanswered chat message not marked",
            extra={"event": "chat_mark_failed", "error": type(error).__name__},
        )


def _log_turn(assistant: Assistant, opened: OpenTurn, *, outcome: str) -> None:
    # Names only: never the message, the answer, the instructions or a tool's arguments.
    logger.info(
        "chat turn",
        extra={
            "event": "chat_turn",
            "conversation_id": opened.conversation_id,
            "model": assistant.model,
            "tool_calls": [call.name for call in opened.turn.tool_calls],
            "outcome": outcome,
            "duration_ms": round((time.perf_counter() - opened.started) * 1000, 2),
        },
    )
