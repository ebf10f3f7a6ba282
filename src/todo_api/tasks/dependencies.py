"""Request-level helpers for the task routes: path ids, versions (ETag/If-Match), quotas, links."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from starlette.datastructures import URL

# The id column is a 32-bit integer; anything outside names no task (404, not a DB error).
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The task's id.")]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def etag_for(task: Mapping[str, Any]) -> str:
    """A strong validator: the task id and the exact time of its last change."""
    return f'"{task["id"]}-{(task["updated_at"] - _EPOCH) // _MICROSECOND}"'


async def parse_if_match(
    task_id: TaskId,
    if_match: Annotated[
        str | None,
        Header(description="ETag(s) from an earlier response; the write happens only if one still matches."),
    ] = None,
) -> list[datetime] | None:
    """The versions an If-Match header accepts: None for no condition, [] for none at all."""
    if if_match is None or if_match.strip() == "*":
        return None
    versions = []
    for tag in if_match.split(","):
        # If-Match uses strong comparison, so weak (W/) tags never match.
        task_part, _, micros = tag.strip().removeprefix('"').removesuffix('"').partition("-")
        if task_part == str(task_id) and micros.isdigit():
            versions.append(_EPOCH + int(micros) * _MICROSECOND)
    return versions


IfMatch = Annotated[list[datetime] | None, Depends(parse_if_match)]


async def max_tasks_per_user(request: Request) -> int:
    """The configured task quota per user."""
    limit: int = request.app.state.settings.max_tasks_per_user
    return limit


TaskQuota = Annotated[int, Depends(max_tasks_per_user)]


def next_page_link(url: URL, *, limit: int, offset: int, total: int) -> str | None:
    """An RFC 8288 `Link` to the next page while more rows remain."""
    if offset + limit >= total:
        return None
    return f'<{url.include_query_params(limit=limit, offset=offset + limit)}>; rel="next"'
