"""What every paginated list shares: its `limit` and `offset` parameters, the total in
`X-Total-Count`, and an RFC 8288 `Link` to the next page while more remain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from starlette.datastructures import URL

PageLimit = Annotated[int, Query(ge=1, le=1000, description="An integer from 1 to 1000.")]
# Bounded so a huge offset is a 400, not an integer the database cannot take.
PageOffset = Annotated[int, Query(ge=0, le=2**31 - 1, description="An integer from 0 to 2147483647.")]


def link_to(url: URL, rel: str, **params: str | int) -> str:
    """An RFC 8288 `Link` to `url` with `params` in its query (the others kept)."""
    return f'<{url.include_query_params(**params)}>; rel="{rel}"'


def next_page_link(url: URL, *, limit: int, offset: int) -> str:
    """An RFC 8288 `Link` to the page after this one."""
    return link_to(url, "next", limit=limit, offset=offset + limit)


def page_headers(url: URL, *, total: int, limit: int, offset: int) -> dict[str, str]:
    """`X-Total-Count`, and `Link` to the next page while more remain."""
    headers = {"X-Total-Count": str(total)}
    if offset + limit < total:  # more remain (the URL is built only then)
        headers["Link"] = next_page_link(url, limit=limit, offset=offset)
    return headers


def page_headers_openapi(counted: str) -> dict[int | str, dict[str, Any]]:
    """The 200 response's headers of a list whose total counts `counted`, for OpenAPI."""
    return {
        200: {
            "headers": {
                "X-Total-Count": {"description": counted, "schema": {"type": "integer"}},
                "Link": {"description": 'rel="next" link while more remain.', "schema": {"type": "string"}},
            }
        }
    }
