"""What an assistant may do with the caller's tasks: each operation is one call to the same
task service function as its REST route, for the caller the /mcp endpoint authenticated (never
for a user named in a tool's arguments), charged against the caller's rate limit first. No MCP
SDK here: `tools` turns these into MCP tools and their failures into tool errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from todo_api.assistants.caller import Caller
from todo_api.assistants.schemas import DeletedTask, TaskList, TaskPublic
from todo_api.errors import BadRequest
from todo_api.models import PRIORITY_RANKS, TaskPriority, TaskStatus, utc_now
from todo_api.tasks import service as tasks
from todo_api.tasks.listing import (
    SortKey,
    TaskFilter,
    due_before,
    due_from,
    search_patterns,
    sort_order,
    tag_patterns,
)
from todo_api.tasks.schemas import StatusFilter, TaskCreate, TaskUpdate, public_fields


async def add_task(
    caller: Caller,
    *,
    title: str,
    description: str | None,
    priority: TaskPriority,
    tags: list[str] | str | None,
    due_date: str | None,
    timezone: str | None,
    remind_at: str | None,
    remind_before_minutes: int | str | None,
    recurrence_pattern: str | None,
    recurrence_interval: int | None,
    recurrence_rule: str | None,
) -> TaskPublic:
    """Create a task owned by the caller."""
    await _charge(caller, write=True)
    data = TaskCreate.model_validate(
        {"title": title, "description": description, "priority": priority, "tags": tags or []}
        | {"due_date": due_date, "timezone": timezone}
        | {"remind_at": remind_at, "remind_before_minutes": remind_before_minutes}
        | {
            name: value
            for name, value in (
                ("recurrence_pattern", recurrence_pattern),
                ("recurrence_interval", recurrence_interval),
                ("recurrence_rule", recurrence_rule),
            )
            if value is not None
        }
    )
    row = await tasks.create_task(
        caller.state.database,
        user_id=caller.user.id,
        data=data,
        max_tasks=caller.state.settings.max_tasks_per_user,
    )
    return _public(row)


async def list_tasks(
    caller: Caller,
    *,
    status: StatusFilter,
    sort: SortKey,
    priority: Sequence[TaskPriority] | None,
    due_date_from: str | None,
    due_date_to: str | None,
    overdue: bool | None,
    search: str | None,
    tags: list[str] | None,
    tags_match: Literal["any", "all"],
    limit: int,
    offset: int,
) -> TaskList:
    """One page of the caller's tasks that pass the filters given, and how many pass in all."""
    await _charge(caller, write=False)
    field, descending = sort_order(("sort", sort), None)
    listing = TaskFilter(
        status=status,
        priorities=frozenset(PRIORITY_RANKS[level] for level in priority or ()),
        due_from=None if due_date_from is None else due_from("due_date_from", due_date_from),
        due_before=None if due_date_to is None else due_before("due_date_to", due_date_to),
        overdue=overdue,
        search=() if search is None else search_patterns("search", search),
        tags=tag_patterns("tags", tags or ()),
        all_tags=tags_match == "all",
        sort=field,
        descending=descending,
    )
    page = await tasks.list_tasks(
        caller.state.database, user_id=caller.user.id, listing=listing, limit=limit, offset=offset
    )
    return TaskList(tasks=[_public(row) for row in page.items], total=page.total)


async def get_task(caller: Caller, *, task_id: int) -> TaskPublic:
    """One of the caller's tasks."""
    await _charge(caller, write=False)
    return _public(await tasks.get_task(caller.state.database, user_id=caller.user.id, task_id=task_id))


async def update_task(
    caller: Caller,
    *,
    task_id: int,
    title: str | None,
    description: str | None,
    status: TaskStatus | None,
    priority: TaskPriority | None,
    tags: list[str] | str | None,
    due_date: str | None,
    timezone: str | None,
    remind_at: str | None,
    remind_before_minutes: int | str | None,
    recurrence_pattern: str | None,
    recurrence_interval: int | None,
    recurrence_rule: str | None,
) -> TaskPublic:
    """Apply the changes given (None: left as it is; an empty due date clears it); at least
    one is needed."""
    changes = {
        "title": title,
        "description": description,
        "status": status,
        "priority": priority,
        "tags": tags,
        "due_date": due_date,
        "timezone": timezone,
        "remind_at": remind_at,
        "remind_before_minutes": remind_before_minutes,
        "recurrence_pattern": recurrence_pattern,
        "recurrence_interval": recurrence_interval,
        "recurrence_rule": recurrence_rule,
    }
    if all(value is None for value in changes.values()):
        # TaskUpdate would say so too, naming REST's `completed`, which this tool does not take.
        raise BadRequest(
            "Invalid arguments: give at least one of title, description, status, priority, tags, "
            "due_date, timezone, a reminder or a recurrence to change"
        )
    await _charge(caller, write=True)
    given = {name: value for name, value in changes.items() if value is not None}
    update = TaskUpdate.model_validate(given | ({"due_date": None} if due_date == "" else {}))
    row = await tasks.update_task(
        caller.state.database,
        user_id=caller.user.id,
        task_id=task_id,
        changes=update,
        max_tasks=caller.state.settings.max_tasks_per_user,
    )
    return _public(row)


async def complete_task(caller: Caller, *, task_id: int, completed: bool | None) -> TaskPublic:
    """Set completion, or toggle it when `completed` is None."""
    await _charge(caller, write=True)
    row = await tasks.set_completed(
        caller.state.database,
        user_id=caller.user.id,
        task_id=task_id,
        completed=completed,
        max_tasks=caller.state.settings.max_tasks_per_user,
    )
    return _public(row)


async def delete_task(caller: Caller, *, task_id: int) -> DeletedTask:
    """Delete one of the caller's tasks."""
    await _charge(caller, write=True)
    await tasks.delete_task(caller.state.database, user_id=caller.user.id, task_id=task_id)
    return DeletedTask(deleted_task_id=task_id)


async def _charge(caller: Caller, *, write: bool) -> None:
    if caller.state.rate_limiter is not None:
        await caller.state.rate_limiter.check(caller.user.id, write=write)


def _public(row: Mapping[str, Any]) -> TaskPublic:
    return TaskPublic.model_validate(public_fields(row, now=utc_now()))
