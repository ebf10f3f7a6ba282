"""What the task routes load from a request: the task id, the If-Match versions, the quota."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from pydantic import BeforeValidator

from todo_api.state import app_state
from todo_api.tasks.schemas import versions_in

MAX_TASK_ID = 2**31 - 1


def _canonical_task_id(value: object) -> object:
    # One spelling per task: "+1", "01", "1.0" or "1 " would otherwise all name task 1, and
    # rules a proxy applies to /tasks/1 would not apply to them. The id column is a 32-bit
    # integer, so a larger number names no task either (a 404, not a database error).
    if isinstance(value, str):
        canonical = len(value) <= 10 and value.isascii() and value.isdigit() and value[0] != "0"
        if not canonical or int(value) > MAX_TASK_ID:
            raise ValueError("not a task id")
        return int(value)
    return value


TaskId = Annotated[
    int,
    BeforeValidator(_canonical_task_id),
    # The validator enforces the range; the schema states it.
    Path(description="The task's id.", json_schema_extra={"minimum": 1, "maximum": MAX_TASK_ID}),
]


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
