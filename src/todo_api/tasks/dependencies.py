"""What the task routes load from a request: the task id, the If-Match versions, the quota, a
list's filters and order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Path, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from starlette.datastructures import QueryParams

from todo_api.errors import BadRequest
from todo_api.path_ids import ID_RANGE, canonical_id
from todo_api.state import app_state
from todo_api.tasks import listing
from todo_api.tasks.listing import (
    DUE_BOUND_RULE,
    MAX_SEARCH_LENGTH,
    ORDER_RULE,
    PRIORITY_FILTER_RULE,
    SEARCH_RULE,
    SORT_RULE,
    TAG_FILTER_RULE,
    TAGS_MATCH_RULE,
    SortKey,
    SortOrder,
    TaskFilter,
)
from todo_api.tasks.schemas import StatusFilter, versions_in

TaskId = Annotated[
    int,
    BeforeValidator(canonical_id),
    Path(description="The task's id.", json_schema_extra=ID_RANGE),
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


def _alias(name: str) -> str:
    return f"Another name for {name}, as some apps call it; send one of the two."


class ListParameters(BaseModel):
    """A list's filters and order as sent, each also under the names apps use."""

    model_config = ConfigDict(extra="ignore")

    status: StatusFilter = Field("all", description="One of: all, pending, in_progress, completed.")
    completed: bool | None = Field(
        None, description="true: only completed tasks; false: only those not completed."
    )
    priority: list[str] | None = Field(None, description=f"Only tasks of priority {PRIORITY_FILTER_RULE}.")
    due_date_from: str | None = Field(None, description=f"Only tasks due from {DUE_BOUND_RULE}.")
    due_after: str | None = Field(None, description=_alias("due_date_from"))
    due_date_to: str | None = Field(None, description=f"Only tasks due until {DUE_BOUND_RULE}.")
    due_before: str | None = Field(None, description=_alias("due_date_to"))
    tags: list[str] | None = Field(None, description=f"Only tasks with these {TAG_FILTER_RULE}.")
    tag: list[str] | None = Field(None, description=_alias("tags"))
    tags_match: Literal["any", "all"] = Field("any", description=f"How tags match: {TAGS_MATCH_RULE}.")
    search: str | None = Field(
        None, max_length=MAX_SEARCH_LENGTH, description=f"Only tasks matching all these {SEARCH_RULE}."
    )
    q: str | None = Field(None, max_length=MAX_SEARCH_LENGTH, description=_alias("search"))
    search_query: str | None = Field(None, max_length=MAX_SEARCH_LENGTH, description=_alias("search"))
    has_due_date: bool | None = Field(
        None, description="true: only tasks with a due date; false: only those without."
    )
    overdue: bool | None = Field(
        None, description="true: only tasks not completed and past their due date; false: all others."
    )
    sort: SortKey | None = Field(None, description=f"The order: {SORT_RULE}.")
    sort_by: SortKey | None = Field(None, description=_alias("sort"))
    sort_order: SortOrder | None = Field(None, description=f"The direction: {ORDER_RULE}.")
    order: SortOrder | None = Field(None, description=_alias("sort_order"))


def _query_parameter(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    # As FastAPI documents a query parameter: optional, its description beside its schema.
    if schema.get("default", ...) is None:
        schema = {key: value for key, value in schema.items() if key != "default"}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": schema["description"],
    }


_LIST_PARAMETER_SCHEMAS: dict[str, Any] = ListParameters.model_json_schema()["properties"]
# The OpenAPI description of ListParameters, for the list routes (openapi_extra): read from the
# query string in one validation, they are not declared to FastAPI one by one.
LIST_PARAMETERS_OPENAPI: dict[str, Any] = {
    "parameters": [_query_parameter(name, schema) for name, schema in _LIST_PARAMETER_SCHEMAS.items()]
}
# The parameters that are lists: each may be sent several times (and comma-separated).
REPEATED_PARAMETERS = frozenset(
    name
    for name, schema in _LIST_PARAMETER_SCHEMAS.items()
    if any(option.get("type") == "array" for option in schema.get("anyOf", [schema]))
)


async def parse_task_filter(request: Request) -> TaskFilter:
    """A list's filters and order from its query parameters, each also under the names apps use.

    Validated as one model rather than declared to FastAPI one by one, which costs a list far
    more with this many parameters (docs/performance.md has the profile)."""
    return list_filter(request.query_params)


def list_filter(query: QueryParams) -> TaskFilter:
    """A list's filters and order from a query string's parameters (BadRequest if invalid)."""
    sent = {
        name: query.getlist(name) if name in REPEATED_PARAMETERS else query[name]
        for name in ListParameters.model_fields
        if name in query
    }
    if not sent:
        return UNFILTERED
    try:
        parameters = ListParameters.model_validate(sent)
    except ValidationError as error:
        fields = ListParameters.model_fields
        names = dict.fromkeys(str(problem["loc"][0]) for problem in error.errors())
        raise BadRequest(
            "; ".join(f"invalid '{name}': {fields[name].description}" for name in names)
        ) from None
    return _task_filter(parameters)


def _task_filter(sent: ListParameters) -> TaskFilter:
    # An empty bound is none: what a form with an empty date field sends.
    from_name, from_value = listing.one_of(
        "due_date_from", sent.due_date_from or None, "due_after", sent.due_after or None
    )
    to_name, to_value = listing.one_of(
        "due_date_to", sent.due_date_to or None, "due_before", sent.due_before or None
    )
    tags_name, tag_names = listing.one_of("tags", sent.tags, "tag", sent.tag)
    search_name, search_text = listing.one_of("search", sent.search or None, "q", sent.q or None)
    search_name, search_text = listing.one_of(
        search_name, search_text, "search_query", sent.search_query or None
    )
    direction = listing.one_of("sort_order", sent.sort_order, "order", sent.order)[1]
    field, descending = listing.sort_order(
        listing.one_of("sort", sent.sort, "sort_by", sent.sort_by), direction
    )
    return TaskFilter(
        status=sent.status,
        completed=sent.completed,
        priorities=listing.priority_ranks("priority", sent.priority or ()),
        due_from=None if from_value is None else listing.due_from(from_name, from_value),
        due_before=None if to_value is None else listing.due_before(to_name, to_value),
        tags=listing.tag_patterns(tags_name, tag_names or ()),
        all_tags=sent.tags_match == "all",
        search=() if search_text is None else listing.search_patterns(search_name, search_text),
        has_due_date=sent.has_due_date,
        overdue=sent.overdue,
        sort=field,
        descending=descending,
    )


# Most lists send none of the parameters: their filter is made once (a TaskFilter is frozen).
UNFILTERED = _task_filter(ListParameters())

TaskFilterDep = Annotated[TaskFilter, Depends(parse_task_filter)]


# The outbox numbers events with 64-bit integers.
MAX_SYNC_TOKEN = 2**63 - 1

SyncSince = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_SYNC_TOKEN,
        description=(
            "A sync token (a list's `X-Sync-Token`, or an event's `seq`): answers with the tasks "
            "changed after it instead of a page, each once in the order of its latest change, a "
            'deleted one as `{"id": 7, "deleted": true}`, and the next token in `X-Sync-Token` '
            "(410 when the changes after it are no longer kept: list again). Takes only `limit`."
        ),
    ),
]
