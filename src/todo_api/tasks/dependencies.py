"""Request-level helpers for the task routes: path ids and list headers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from starlette.datastructures import URL

# The id column is a 32-bit integer; anything outside names no task (404, not a DB error).
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The task's id.")]


def next_page_link(url: URL, *, limit: int, offset: int, total: int) -> str | None:
    """An RFC 8288 `Link` to the next page while more rows remain."""
    if offset + limit >= total:
        return None
    return f'<{url.include_query_params(limit=limit, offset=offset + limit)}>; rel="next"'
