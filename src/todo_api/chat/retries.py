"""A chat turn sent with `Idempotency-Key`: answered once however often it is retried.

A turn waits seconds on the model, too long to hold a transaction, so the key is claimed first
(a pending record, committed at once: a retry meanwhile is a 409), the turn runs, and then its
answer is kept for retries with the key, or, when the turn failed or its stream was left, the
key is released so that a retry runs again. A retry of a kept turn gets the stored answer with
`Idempotent-Replayed: true`: as JSON, or, with `Accept: text/event-stream`, as one `done` event
(the text was streamed once; the answer is whole).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta

from starlette.responses import Response, StreamingResponse

from todo_api.chat import service
from todo_api.chat.schemas import EVENT_STREAM, JSON, ChatResponse
from todo_api.config import Settings
from todo_api.conversations.schemas import ToolCall
from todo_api.idempotency.dependencies import REPLAYED
from todo_api.idempotency.service import Answer, Claim

logger = logging.getLogger(__name__)

# Past the longest a turn can take, a pending claim is taken for lost (its process stopped).
LOST_MARGIN_SECONDS = 60.0


def longest_turn(settings: Settings) -> timedelta:
    """How long a turn can run: every model request of it (CHAT_MAX_TURNS) timing out after
    each of its tries, and a margin for its tools."""
    tries = settings.chat_max_retries + 1
    return timedelta(seconds=settings.chat_timeout * tries * settings.chat_max_turns + LOST_MARGIN_SECONDS)


def replay(answer: Answer, *, streamed: bool, stream_headers: Mapping[str, str]) -> Response:
    """The stored answer of an earlier turn with the key, as JSON or as one `done` event."""
    headers = dict(answer.headers) | {REPLAYED: "true"}
    if not streamed:
        return Response(answer.body, answer.status, headers)
    headers.pop("content-type", None)
    done = b"event: done\ndata: " + answer.body + b"\n\n"
    return StreamingResponse(iter([done]), media_type=EVENT_STREAM, headers=headers | dict(stream_headers))


async def keep(claim: Claim | None, answered: ChatResponse, headers: Mapping[str, str]) -> None:
    """Keep the turn's answer for retries with the claimed key. The turn is answered and stored
    whatever happens here: a failure is logged, and the key's claim lapses with time."""
    if claim is None:
        return
    body = answered.model_dump_json().encode()
    try:
        await claim.keep(Answer(status=200, body=body, headers={"content-type": JSON, **headers}))
    except Exception as error:
        _not_done("kept", error)


async def release(claim: Claim | None) -> None:
    """Free the claimed key after a failed turn, so that a retry runs again."""
    if claim is None:
        return
    try:
        await claim.release()
    except Exception as error:  # the database is away: the claim lapses with time
        _not_done("released", error)


async def kept(
    pieces: AsyncGenerator[str | ToolCall | ChatResponse, None],
    claim: Claim | None,
    headers: Mapping[str, str],
) -> AsyncGenerator[str | ToolCall | ChatResponse, None]:
    """A streamed turn's pieces, its answer kept for retries once it comes, before it is sent;
    the key released if the turn fails or the stream is left before its answer."""
    answered = False
    try:
        async for piece in pieces:
            if isinstance(piece, ChatResponse):
                await keep(claim, piece, headers)
                answered = True
            yield piece
    finally:
        await pieces.aclose()
        if not answered and claim is not None:
            # Left or cancelled (the client went away): whatever awaits here would be cancelled
            # again, so the key is released by a task of its own.
            service.in_background(release(claim))


def _not_done(what: str, error: Exception) -> None:
    logger.warning(
        f"chat turn's Idempotency-Key not {what}",
        extra={"event": "chat_idempotency_failed", "error": type(error).__name__},
    )
