"""What the chat routes take and answer, and the events of a streamed answer."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

from todo_api.conversations.schemas import MessagePublic, ToolCall
from todo_api.json_bodies import whole_number
from todo_api.models import MAX_ID
from todo_api.tasks.schemas import TimeZoneName

# What a chat answer is: JSON, or with `Accept: text/event-stream`, server-sent events.
JSON = "application/json"
EVENT_STREAM = "text/event-stream"
# The largest CHAT_MAX_MESSAGE_LENGTH; the configured one is checked by the route.
LONGEST_MESSAGE = 100_000


class ChatRequest(BaseModel):
    """One message to the assistant."""

    model_config = ConfigDict(extra="forbid")

    message: Annotated[
        StrictStr,
        Field(
            min_length=1,
            max_length=LONGEST_MESSAGE,
            description=(
                "What you say to the assistant, up to CHAT_MAX_MESSAGE_LENGTH characters (4000 by default)."
            ),
        ),
    ]
    conversation_id: Annotated[
        Annotated[StrictInt, Field(ge=1, le=MAX_ID)] | None,
        BeforeValidator(whole_number),
        Field(description="The conversation to continue (one of yours); leave it out to start a new one."),
    ] = None
    timezone: Annotated[
        TimeZoneName | None,
        Field(
            description=(
                "Your IANA time zone (such as Europe/Berlin), in which the assistant reads dates such as "
                "'tomorrow' and due times; UTC when left out."
            )
        ),
    ] = None


class ChatResponse(BaseModel):
    """The assistant's answer, stored in the conversation."""

    conversation_id: int = Field(
        description="The conversation, new or continued: send it with the next message."
    )
    response: str = Field(description="The assistant's answer.")
    tool_calls: list[ToolCall] = Field(
        description="The task tools the assistant called for this answer, in order, with their results."
    )
    message: MessagePublic = Field(description="The stored answer, as the conversation lists it.")


class TextDelta(BaseModel):
    """`event: delta`: the next piece of the answer's text."""

    text: str


class StreamError(BaseModel):
    """`event: error`: the turn failed after the stream began; what its status would have been."""

    status: int = Field(description="404, 502, 503 or 504.")
    detail: str


STREAM_DESCRIPTION = (
    "With `Accept: text/event-stream`: server-sent events, each `data` one JSON object. "
    "`delta` (`{text}`): the next piece of the answer; `tool_call` (`{name, arguments, result}`): a "
    "task tool the assistant called, once it returned; then `done` (the same body as the JSON "
    "answer, once stored) or `error` (`{status, detail}`, the status the JSON answer would have had)."
)
