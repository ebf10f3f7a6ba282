"""POST /api/chat and /api/{user_id}/chat: one message to the assistant, answered as JSON or,
with `Accept: text/event-stream`, as server-sent events while the model writes.

The caller is the one the edge authenticated (`CurrentUser`); the agent's tools act for that
caller only. Without CHAT_MODEL the routes answer 503 and nothing else depends on a model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import Example
from pydantic import BaseModel
from starlette.responses import StreamingResponse

from todo_api.assistants.catalogue import Caller
from todo_api.auth import CurrentUser
from todo_api.chat import retries, service
from todo_api.chat.errors import ChatNotConfigured, ModelUnanswered
from todo_api.chat.schemas import (
    EVENT_STREAM,
    JSON,
    STREAM_DESCRIPTION,
    ChatRequest,
    ChatResponse,
    StreamError,
    TextDelta,
)
from todo_api.chat.turns import Assistant
from todo_api.config import Settings
from todo_api.conversations.schemas import ToolCall
from todo_api.errors import AppError
from todo_api.families import route_families
from todo_api.first_use import BuiltOnFirstUse
from todo_api.http_errors import documented
from todo_api.idempotency.dependencies import REPLAYED_HEADER, IdempotencyKey, idempotent_responses
from todo_api.idempotency.service import Answer
from todo_api.state import app_state

if TYPE_CHECKING:
    from starlette.applications import Starlette

T = TypeVar("T")

# The first path segment of both families, which the edge guards.
COLLECTION = "chat"
COLLECTIONS = (COLLECTION,)
# Proxies hold a streamed answer back unless told not to (nginx reads X-Accel-Buffering); the
# hardening layer already makes every API answer Cache-Control: no-store.
STREAM_HEADERS = {"X-Accel-Buffering": "no"}
# What a stream sends while the model is silent (CHAT_HEARTBEAT): an SSE comment, which every
# EventSource and SSE parser skips.
HEARTBEAT = b": keep-alive\n\n"
# The turn's conversation, on every answer once the message is stored (a failed turn's too), so
# a client that retries continues that conversation instead of starting another.
CONVERSATION_ID_HEADER = "X-Conversation-ID"
# What a browser's script on another origin may read of a chat answer (CORS).
EXPOSED_HEADERS = [CONVERSATION_ID_HEADER]
CONVERSATION_ID_DOCUMENTED = {
    CONVERSATION_ID_HEADER: {
        "description": (
            "The conversation the message was stored in, new or continued: on a failed turn too "
            "(send it as `conversation_id` to retry in the same conversation)."
        ),
        "schema": {"type": "integer"},
    }
}


def _with_conversation_id(response: dict[str, Any]) -> dict[str, Any]:
    return response | {"headers": CONVERSATION_ID_DOCUMENTED}


CHAT_ERRORS: dict[int | str, dict[str, Any]] = {
    404: documented(
        "No such conversation for this user (another user's conversation is reported the same way)."
    ),
    422: {"description": "The body failed validation; `detail` lists each problem."},
    502: _with_conversation_id(
        documented(
            "The model provider failed, or its answer could not be read; the message is kept, marked "
            "unanswered."
        )
    ),
    503: _with_conversation_id(
        documented(
            "Chat is not configured (CHAT_MODEL unset; `detail` names the settings), the model provider "
            "is rate-limiting this service (retry after `Retry-After` seconds when given; the message is "
            "kept, marked unanswered, and `X-Conversation-ID` names its conversation), or the database "
            "is unreachable."
        )
    ),
    504: _with_conversation_id(
        documented("The model did not answer within CHAT_TIMEOUT; the message is kept, marked unanswered.")
    ),
}


class ChatAgent:
    """The app's chat agent: built on the first chat request (the Agents SDK is loaded then, not
    with the app), while one run of the app's lifespan is open; closed when it ends."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._agent = BuiltOnFirstUse(self._build, _close, what="chat")

    def running(self) -> AbstractAsyncContextManager[None]:
        """Answer chat requests while the context is open; close the agent's client on leaving."""
        return self._agent.running()

    async def get(self) -> Assistant:
        """The agent, built on first use; ChatNotConfigured without a model."""
        if self.settings.chat_model is None:
            raise ChatNotConfigured()
        return await self._agent.get()

    async def _build(self) -> Assistant:
        # Importing the SDK takes a second or two of CPU; in a thread, this worker goes on
        # answering its other requests meanwhile.
        build = await asyncio.to_thread(_import_agent)
        return build(self.settings)


async def _close(agent: Assistant) -> None:
    await agent.aclose()


def _import_agent() -> Callable[[Settings], Assistant]:
    from todo_api.chat.agent import SDKAgent  # noqa: PLC0415 (loaded on first use)

    return SDKAgent


def install_chat_agent(app: Starlette, agent: ChatAgent) -> None:
    """Make `agent` the one that answers `app`'s chat requests."""
    app.state.todo_api_chat = agent


async def chat_assistant(request: Request) -> Assistant:
    """The app's agent: a 503 saying what to set when no model is configured."""
    agent: ChatAgent = request.app.state.todo_api_chat
    if agent.settings.chat_model is None:
        raise ChatNotConfigured()
    return await agent.get()


async def _count_turn(request: Request, user_id: str) -> None:
    """The caller's own limit on chat turns (a 429): counted for each turn that runs, not for a
    retry answered with the stored answer, which costs no model call."""
    limiter = app_state(request).rate_limiter
    if limiter is not None:
        await limiter.check_chat(user_id)


ChatAssistant = Annotated[Assistant, Depends(chat_assistant)]

# What Swagger UI's "Try it out" fills in (the first) and ReDoc shows; each succeeds as shown
# with a model configured (tests/test_docs.py sends every one).
CHAT_EXAMPLES: dict[str, Example] = {
    "new_conversation": {
        "summary": "Start a conversation, in your time zone",
        "value": {"message": "Add buy milk tomorrow with high priority", "timezone": "Europe/Berlin"},
    },
    "question": {
        "summary": "Just a message (a new conversation, in UTC)",
        "value": {"message": "What's due this week?"},
    },
}


async def chat(
    request: Request,
    body: Annotated[ChatRequest, Body(openapi_examples=CHAT_EXAMPLES)],
    user: CurrentUser,
    assistant: ChatAssistant,
    idempotency: IdempotencyKey,
) -> Response:
    """Send the assistant a message, in a new conversation or one of yours; it answers with the
    task tools, acting for you only. JSON by default; server-sent events with
    `Accept: text/event-stream`. With `Idempotency-Key`, a retry gets the first answer instead
    of a second turn."""
    state = app_state(request)
    _check_length(body.message, state.settings.chat_max_message_length)
    streamed = EVENT_STREAM in request.headers.get("accept", "")
    claim = await idempotency.claim(state.database, lost_after=retries.longest_turn(state.settings))
    if isinstance(claim, Answer):
        return retries.replay(claim, streamed=streamed, stream_headers=STREAM_HEADERS)
    try:
        await _count_turn(request, user.id)
        opened = await service.begin_turn(
            Caller(user=user, state=state),
            conversation_id=body.conversation_id,
            message=body.message,
            timezone=body.timezone,
        )
    except BaseException:
        await retries.release(claim)
        raise
    conversation = {CONVERSATION_ID_HEADER: str(opened.conversation_id)}
    if streamed:
        pieces = retries.kept(service.stream(assistant, opened), claim, conversation)
        return StreamingResponse(
            _events(pieces, heartbeat=state.settings.chat_heartbeat),
            media_type=EVENT_STREAM,
            headers=STREAM_HEADERS | conversation,
        )
    try:
        answered = await service.answer(assistant, opened)
    except BaseException as error:
        await retries.release(claim)
        if isinstance(error, AppError):
            error.headers.update(conversation)
        raise
    await retries.keep(claim, answered, conversation)
    return Response(answered.model_dump_json(), media_type=JSON, headers=conversation)


def add_chat_routes(router: APIRouter) -> None:
    """Register the chat route on `router` (one family's)."""
    router.add_api_route(
        "",
        chat,
        methods=["POST"],
        response_model=ChatResponse,
        summary="Chat with the assistant about your tasks",
        responses=idempotent_responses(
            {
                200: {
                    "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
                    "description": STREAM_DESCRIPTION,
                    "headers": CONVERSATION_ID_DOCUMENTED | REPLAYED_HEADER,
                },
                **CHAT_ERRORS,
            }
        ),
    )


def build_routers() -> list[APIRouter]:
    """Both families of the chat route."""
    return route_families(COLLECTION, add_chat_routes)


def _check_length(message: str, longest: int) -> None:
    if len(message) > longest:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_long",
                    "loc": ("body", "message"),
                    "msg": f"String should have at most {longest} characters",
                    "input": message,
                    "ctx": {"max_length": longest},
                }
            ]
        )


async def _events(
    pieces: AsyncGenerator[str | ToolCall | ChatResponse, None], *, heartbeat: float
) -> AsyncIterator[bytes]:
    """The turn as server-sent events: `delta`, `tool_call`, then `done` or `error`; and a
    comment whenever `heartbeat` seconds pass without one, so no proxy takes the silence of a
    model still thinking for a dead connection."""
    try:
        async for piece in _paced(pieces, heartbeat):
            if piece is None:
                yield HEARTBEAT
            elif isinstance(piece, str):
                yield _event("delta", TextDelta(text=piece))
            elif isinstance(piece, ToolCall):
                yield _event("tool_call", piece)
            else:
                yield _event("done", piece)
    except (ModelUnanswered, AppError) as error:
        # The status line is sent: what the JSON answer's status would have been is in the event.
        yield _event("error", StreamError(status=error.status_code, detail=error.detail))


async def _paced(pieces: AsyncGenerator[T, None], every: float) -> AsyncIterator[T | None]:
    """`pieces` as they come, with a None each time `every` seconds pass without one."""
    waiting: asyncio.Future[T] | None = None
    try:
        while True:
            if waiting is None:
                waiting = asyncio.ensure_future(anext(pieces))
            done, _ = await asyncio.wait({waiting}, timeout=every)
            if not done:
                yield None
                continue
            try:
                piece = waiting.result()
            except StopAsyncIteration:
                return
            waiting = None
            yield piece
    finally:
        if waiting is None:
            await pieces.aclose()  # left between pieces: the source ends as if read to its end
        elif not waiting.done():
            # Left while a piece was awaited (the client went away): the source is cancelled
            # where it waits, as it would be if it were read directly.
            waiting.cancel()


def _event(name: str, data: BaseModel) -> bytes:
    # One line of JSON (orjson writes no newline inside), so one `data:` line per event.
    payload = orjson.dumps(data.model_dump(mode="json"))
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"
