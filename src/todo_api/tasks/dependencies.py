"""What the task routes load from a request: the task id, the If-Match versions, the quota, a
list's filters and order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, Header, Path, Query, Request
from pydantic import BeforeValidator
from starlette.convertors import Convertor, register_url_convertor

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


class Digits(Convertor[str]):
    """A path segment of digits, kept as text for TaskId to read: a task route then never matches
    /api/tasks/reminders, whose other methods are a 405 (not a 404 for a task named "reminders")."""

    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("digits", Digits())

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


def _alias(name: str) -> str:
    return f"Another name for {name}, as some apps call it; send one of the two."


async def parse_task_filter(
    *,
    status: Annotated[
        StatusFilter, Query(description="One of: all, pending, in_progress, completed.")
    ] = "all",
    completed: Annotated[
        bool | None, Query(description="true: only completed tasks; false: only those not completed.")
    ] = None,
    priority: Annotated[
        list[str] | None, Query(description=f"Only tasks of priority {PRIORITY_FILTER_RULE}.")
    ] = None,
    due_date_from: Annotated[str | None, Query(description=f"Only tasks due from {DUE_BOUND_RULE}.")] = None,
    due_after: Annotated[str | None, Query(description=_alias("due_date_from"))] = None,
    due_date_to: Annotated[str | None, Query(description=f"Only tasks due until {DUE_BOUND_RULE}.")] = None,
    due_before: Annotated[str | None, Query(description=_alias("due_date_to"))] = None,
    tags: Annotated[list[str] | None, Query(description=f"Only tasks with these {TAG_FILTER_RULE}.")] = None,
    tag: Annotated[list[str] | None, Query(description=_alias("tags"))] = None,
    tags_match: Annotated[
        Literal["any", "all"], Query(description=f"How tags match: {TAGS_MATCH_RULE}.")
    ] = "any",
    search: Annotated[
        str | None,
        Query(max_length=MAX_SEARCH_LENGTH, description=f"Only tasks matching all these {SEARCH_RULE}."),
    ] = None,
    q: Annotated[str | None, Query(max_length=MAX_SEARCH_LENGTH, description=_alias("search"))] = None,
    search_query: Annotated[
        str | None, Query(max_length=MAX_SEARCH_LENGTH, description=_alias("search"))
    ] = None,
    has_due_date: Annotated[
        bool | None, Query(description="true: only tasks with a due date; false: only those without.")
    ] = None,
    overdue: Annotated[
        bool | None,
        Query(description="true: only tasks not completed and past their due date; false: all others."),
    ] = None,
    sort: Annotated[SortKey | None, Query(description=f"The order: {SORT_RULE}.")] = None,
    sort_by: Annotated[SortKey | None, Query(description=_alias("sort"))] = None,
    sort_order: Annotated[SortOrder | None, Query(description=f"The direction: {ORDER_RULE}.")] = None,
    order: Annotated[SortOrder | None, Query(description=_alias("sort_order"))] = None,
) -> TaskFilter:
    """A list's filters and order from its query parameters, each also under the names apps use."""
    # An empty bound is none: what a form with an empty date field sends.
    from_name, from_value = listing.one_of(
        "due_date_from", due_date_from or None, "due_after", due_after or None
    )
    to_name, to_value = listing.one_of("due_date_to", due_date_to or None, "due_before", due_before or None)
    tags_name, tag_names = listing.one_of("tags", tags, "tag", tag)
    search_name, search_text = listing.one_of("search", search or None, "q", q or None)
    search_name, search_text = listing.one_of(search_name, search_text, "search_query", search_query or None)
    direction = listing.one_of("sort_order", sort_order, "order", order)[1]
    field, descending = listing.sort_order(listing.one_of("sort", sort, "sort_by", sort_by), direction)
    return TaskFilter(
        status=status,
        completed=completed,
        priorities=listing.priority_ranks("priority", priority or ()),
        due_from=None if from_value is None else listing.due_from(from_name, from_value),
        due_before=None if to_value is None else listing.due_before(to_name, to_value),
        tags=listing.tag_patterns(tags_name, tag_names or ()),
        all_tags=tags_match == "all",
        search=() if search_text is None else listing.search_patterns(search_name, search_text),
        has_due_date=has_due_date,
        overdue=overdue,
        sort=field,
        descending=descending,
    )


TaskFilterDep = Annotated[TaskFilter, Depends(parse_task_filter)]
