"""The events routes: a user's live stream of changes to their tasks (Server-Sent Events), and
the tickets that let a browser's EventSource open it without an Authorization header."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from todo_api.auth import CurrentUser
from todo_api.db.connection import Database
from todo_api.events import service
from todo_api.events.background import running
from todo_api.events.feed import EventFeed
from todo_api.events.schemas import EventPublic
from todo_api.events.stream import events_stream
from todo_api.families import route_families
from todo_api.http_errors import documented
from todo_api.models import EVENT_TYPES
from todo_api.state import DatabaseDep

if TYPE_CHECKING:
    from starlette.applications import Starlette

COLLECTION = "events"
COLLECTIONS = (COLLECTION,)
EVENT_STREAM = "text/event-stream"
# Proxies hold a streamed answer back unless told not to (nginx reads X-Accel-Buffering); the
# hardening layer already makes every API answer Cache-Control: no-store.
STREAM_HEADERS = {"X-Accel-Buffering": "no"}
# The largest position: the outbox numbers events with 64-bit integers.
MAX_POSITION = 2**63 - 1

STREAM_DESCRIPTION = """\
Server-Sent Events, one per change of one of your tasks, in the order they happened, from any
device or instance:

```
id: 42
event: task.updated
data: {"event_id": "…", "seq": 42, "type": "task.updated", "task_id": 7, "task": {…}, …}
```

`data` is an `EventPublic` (in the schemas). The stream starts with `event: ready` (`data:
{"seq": n}`, the position it is live from), and says `event: reset` when the events after the
position you gave are no longer kept (refetch your tasks; the stream goes on from the new
position). A `: keep-alive` comment comes after EVENTS_HEARTBEAT seconds of silence."""


# One frame of the stream, as Server-Sent Events parsers read it (the schema of each event of a
# text/event-stream answer, before OpenAPI 3.2's itemSchema). `data` is JSON: an EventPublic,
# or a StreamPosition for `ready` and `reset`.
FRAME_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "The event's `seq` (digits)."},
        "event": {"type": "string", "enum": ["ready", "reset", *EVENT_TYPES]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "anyOf": [
                    {"$ref": "#/components/schemas/EventPublic"},
                    {"$ref": "#/components/schemas/StreamPosition"},
                ]
            },
        },
    },
    "required": ["id", "event", "data"],
}


class StreamPosition(BaseModel):
    """The `data` of `ready` (the stream is live from `seq`) and `reset` (the events after the
    position given are no longer kept: refetch, and go on from `seq`)."""

    seq: int = Field(description="The number of the last event you now have.")
    detail: str | None = Field(default=None, description="Why a `reset` came (absent from `ready`).")


class Ticket(BaseModel):
    """A single-use ticket for `GET /api/events?ticket=…`."""

    ticket: str = Field(description="Opens one stream, once, within a minute.")
    expires_at: datetime = Field(description="When it stops working.")


def install_event_feed(app: Starlette, feed: EventFeed) -> None:
    """Make `feed` the one that wakes `app`'s streams."""
    app.state.todo_api_events = feed


# A Last-Event-ID that names no event of ours (another server's, say): the client must start over.
NOT_OURS = MAX_POSITION + 1


def last_event_position(
    header: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description=(
                "The `id` of the last event you have (EventSource sends it when it reconnects); "
                "one that names no event of ours is answered with a `reset`."
            ),
        ),
    ] = None,
    query: Annotated[
        int | None,
        Query(
            alias="last_event_id",
            ge=0,
            le=MAX_POSITION,
            description=(
                "a whole number: the last event's `id`, for a new EventSource (which cannot send "
                "Last-Event-ID), or a task list's `X-Sync-Token` to get every change since that list"
            ),
        ),
    ] = None,
) -> int | None:
    """The position a client resumes from: the header, else the query parameter; None for neither.

    The header is whatever an EventSource was last sent as an `id`; one that is not a number of
    ours is read as a position past every event, which the stream answers with a `reset`
    (refused, a browser's EventSource would give up instead of starting over)."""
    if header is None:
        return query
    text = header.strip()
    return int(text) if text.isascii() and text.isdigit() and int(text) <= MAX_POSITION else NOT_OURS


Position = Annotated[int | None, Depends(last_event_position)]


async def stream_events(
    request: Request,
    database: DatabaseDep,
    user: CurrentUser,
    after: Position,
    ticket: Annotated[
        str | None,
        Query(description="A ticket from `POST /api/events/tickets`, for a browser's EventSource."),
    ] = None,
) -> StreamingResponse:
    """Your changes as they happen (Server-Sent Events)."""
    del ticket  # redeemed at the edge, where the caller is proven
    feed: EventFeed = request.app.state.todo_api_events
    subscription = feed.subscribe(user.id)
    settings = feed.settings
    frames = await events_stream(
        subscription,
        database,
        after=after,
        heartbeat=settings.events_heartbeat,
        lifetime=settings.events_stream_lifetime,
    )
    return StreamingResponse(frames, media_type=EVENT_STREAM, headers=STREAM_HEADERS)


async def create_ticket(database: DatabaseDep, user: CurrentUser) -> Response:
    """A single-use ticket that opens your events stream within a minute: `new EventSource(
    "/api/events?ticket=…")`, for browsers, whose EventSource cannot send a bearer token. Never
    put the token itself in a URL."""
    ticket, expires_at = await service.issue_ticket(database, user_id=user.id)
    body = orjson.dumps({"ticket": ticket, "expires_at": expires_at}, option=orjson.OPT_UTC_Z)
    return Response(body, status.HTTP_201_CREATED, media_type="application/json")


def add_event_routes(router: APIRouter) -> None:
    router.add_api_route(
        "",
        stream_events,
        methods=["GET"],
        summary="Stream your changes (Server-Sent Events)",
        response_class=StreamingResponse,
        responses={
            200: {"description": STREAM_DESCRIPTION, "content": {EVENT_STREAM: {"schema": FRAME_SCHEMA}}},
            400: documented("`Last-Event-ID` or `last_event_id` is not a whole number."),
            429: documented("Too many of your streams are open at once (EVENTS_MAX_STREAMS_PER_USER)."),
        },
    )
    router.add_api_route(
        "/tickets",
        create_ticket,
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        response_model=Ticket,
        summary="Get a ticket to open your stream from a browser",
    )


def build_routers() -> list[APIRouter]:
    """Both families of the events routes."""
    return route_families(COLLECTION, add_event_routes)


def takes_tickets(method: str, path: str) -> bool:
    """Only the stream itself (`/api/events`, `/api/{user_id}/events`) opens with a ticket."""
    parts = path.split("/")
    return method == "GET" and parts[-1] == COLLECTION and "api" in parts[-3:-1]


class TicketUsersInDatabase:
    """The tickets `Authenticator` accepts: those issued by `create_ticket`, each once."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def takes_tickets(self, method: str, path: str) -> bool:
        return takes_tickets(method, path)

    async def user_for_ticket(self, ticket: str) -> str | None:
        return await service.redeem_ticket(self._database, ticket=ticket)


# Documented with the schemas: no route answers it as JSON, but a stream's `data` carries it.
DOCUMENTED_MODELS = (EventPublic, StreamPosition)

__all__ = [
    "COLLECTIONS",
    "DOCUMENTED_MODELS",
    "EventFeed",
    "TicketUsersInDatabase",
    "build_routers",
    "install_event_feed",
    "running",
]
