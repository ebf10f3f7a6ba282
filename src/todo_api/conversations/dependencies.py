"""What the conversation routes load from a request: the conversation's id, and where a page of
its messages ends."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator

from todo_api.models import MAX_ID
from todo_api.path_ids import ID_RANGE, canonical_id

ConversationId = Annotated[
    int,
    BeforeValidator(canonical_id),
    Path(description="The conversation's id.", json_schema_extra=ID_RANGE),
]
MessageCursor = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_ID,
        description=(
            "A message id: only messages older than it (for the page before one you have); "
            "the latest messages when left out."
        ),
    ),
]
