"""What the task routes load from a request: the task id, the If-Match versions, the quota."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from todo_api.state import app_state
from todo_api.tasks.schemas import versions_in

# The id column is a 32-bit integer; anything outside names no task (404, not a DB error).
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The task's id.")]


async def parse_if_match(
    task_id: TaskId,
    if_match: Annotated[
        str | None,
        Header(description="ETag(s) from an earlier response; the write happens only if one still matches."),
    ] = None,
) -> list[datetime] | None:
    """The versions an If-Match header accepts: None for no condition, [] for none at all."""
    return None if if_match is None else versions_in(if_match, task_id=task_id)


IfMatch = Annotated[list[datetime] | None, Depends(parse_if_match)]


async def max_tasks_per_user(request: Request) -> int:
    """The configured task quota per user."""
    return app_state(request).settings.max_tasks_per_user


TaskQuota = Annotated[int, Depends(max_tasks_per_user)]
