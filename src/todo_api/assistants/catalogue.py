"""The task tools as plain typed functions: the one catalogue that both the MCP server
(`tools`) and the chat agent publish. Each is one call to `service` for the caller in
`current_caller` (set by whoever authenticated the request), never for a user named in its
arguments: no argument names a user. Their signatures are the tools' argument schemas and their
docstrings the tools' descriptions. No SDK here; a failure is raised as it is, and
`failure_sentence` is what the model reads of it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from pydantic import ValidationError

from todo_api.assistants import service
from todo_api.assistants.caller import Caller, current_caller
from todo_api.assistants.schemas import (
    CompletedArgument,
    DeletedTask,
    DescriptionArgument,
    DueDateArgument,
    DueFromArgument,
    DueToArgument,
    LimitArgument,
    NewDescriptionArgument,
    NewDueDateArgument,
    NewPriorityArgument,
    NewStatusArgument,
    NewTagsArgument,
    NewTimezoneArgument,
    NewTitleArgument,
    OffsetArgument,
    OverdueArgument,
    PriorityArgument,
    PriorityFilterArgument,
    RecurrenceIntervalArgument,
    RecurrencePatternArgument,
    RecurrenceRuleArgument,
    RemindAtArgument,
    RemindBeforeArgument,
    SearchArgument,
    SortArgument,
    StatusFilterArgument,
    TagFilterArgument,
    TagsArgument,
    TagsMatchArgument,
    TaskIdArgument,
    TaskList,
    TaskPublic,
    TimezoneArgument,
    TitleArgument,
)
from todo_api.db.connection import is_database_unavailable
from todo_api.errors import AppError
from todo_api.logs import log_unhandled_error
from todo_api.models import DEFAULT_PRIORITY

# What every tool does and does not do, for a model's instructions.
RULES = (
    "Every tool acts on the signed-in user's own tasks only; a task id that is not theirs is "
    "reported as not found. Use list_tasks to find a task's id before changing it."
)
DATABASE_UNAVAILABLE = "The database is unavailable; retry shortly."
NAMES_A_USER = "the tools act for the signed-in user only, and no argument names a user"
UNEXPECTED = "The task service failed unexpectedly; the error was logged. Try again later."


def failure_sentence(error: Exception, *, path: str) -> str:
    """What a model reads of a tool's failure: one sentence it can act on. An error nobody
    anticipated is logged (with `path`, where the call came in) and named only as that."""
    if isinstance(error, AppError):
        # Not found, quota reached, rate limited: the model reads the same sentence REST sends.
        return error.detail
    if isinstance(error, ValidationError):
        return describe(error)
    if is_database_unavailable(error):
        return DATABASE_UNAVAILABLE
    log_unhandled_error(error, path=path, client=None)
    return UNEXPECTED


def refused_arguments(given: Iterable[str], taken: Collection[str]) -> str | None:
    """The sentence refusing the arguments given that a tool does not take (a `user_id`, say:
    refused, not ignored, so the model learns it cannot), or None when it takes them all."""
    unknown = sorted(set(given) - set(taken))
    if not unknown:
        return None
    return f"Invalid arguments: {', '.join(unknown)} not taken; {NAMES_A_USER}"


def describe(error: ValidationError) -> str:
    """One clause per problem, without pydantic's links or echoed input."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "Invalid arguments: " + "; ".join(problems)


async def add_task(
    title: TitleArgument,
    description: DescriptionArgument = None,
    *,
    priority: PriorityArgument = DEFAULT_PRIORITY,
    tags: TagsArgument = None,
    due_date: DueDateArgument = None,
    timezone: TimezoneArgument = None,
    remind_at: RemindAtArgument = None,
    remind_before_minutes: RemindBeforeArgument = None,
    recurrence_pattern: RecurrencePatternArgument = None,
    recurrence_interval: RecurrenceIntervalArgument = None,
    recurrence_rule: RecurrenceRuleArgument = None,
) -> TaskPublic:
    """Add a new task to the user's to-do list. Returns the created task, with its id."""
    return await service.add_task(
        current_caller.get(),
        title=title,
        description=description,
        priority=priority,
        tags=tags,
        due_date=due_date,
        timezone=timezone,
        remind_at=remind_at,
        remind_before_minutes=remind_before_minutes,
        recurrence_pattern=recurrence_pattern,
        recurrence_interval=recurrence_interval,
        recurrence_rule=recurrence_rule,
    )


async def list_tasks(
    *,
    status: StatusFilterArgument = "all",
    sort: SortArgument = "-created_at",
    priority: PriorityFilterArgument = None,
    due_date_from: DueFromArgument = None,
    due_date_to: DueToArgument = None,
    overdue: OverdueArgument = None,
    search: SearchArgument = None,
    tags: TagFilterArgument = None,
    tags_match: TagsMatchArgument = "any",
    limit: LimitArgument = 100,
    offset: OffsetArgument = 0,
) -> TaskList:
    """List the user's tasks, newest first by default, optionally only those with one status,
    some priorities or tags, a due date in a range, overdue, or matching a search. `total` says
    how many match in all; when it exceeds offset + limit, call again with a larger offset for
    the next page."""
    return await service.list_tasks(
        current_caller.get(),
        status=status,
        sort=sort,
        priority=priority,
        due_date_from=due_date_from,
        due_date_to=due_date_to,
        overdue=overdue,
        search=search,
        tags=tags,
        tags_match=tags_match,
        limit=limit,
        offset=offset,
    )


async def get_task(task_id: TaskIdArgument) -> TaskPublic:
    """Get one of the user's tasks by id, with its description and status."""
    return await service.get_task(current_caller.get(), task_id=task_id)


async def update_task(
    task_id: TaskIdArgument,
    *,
    title: NewTitleArgument = None,
    description: NewDescriptionArgument = None,
    status: NewStatusArgument = None,
    priority: NewPriorityArgument = None,
    tags: NewTagsArgument = None,
    due_date: NewDueDateArgument = None,
    timezone: NewTimezoneArgument = None,
    remind_at: RemindAtArgument = None,
    remind_before_minutes: RemindBeforeArgument = None,
    recurrence_pattern: RecurrencePatternArgument = None,
    recurrence_interval: RecurrenceIntervalArgument = None,
    recurrence_rule: RecurrenceRuleArgument = None,
) -> TaskPublic:
    """Change a task's title, description, status, priority, tags, due date, time zone, reminder or
    recurrence; fields
    left out stay as they are, and at least one must be given. Returns the updated task."""
    return await service.update_task(
        current_caller.get(),
        task_id=task_id,
        title=title,
        description=description,
        status=status,
        priority=priority,
        tags=tags,
        due_date=due_date,
        timezone=timezone,
        remind_at=remind_at,
        remind_before_minutes=remind_before_minutes,
        recurrence_pattern=recurrence_pattern,
        recurrence_interval=recurrence_interval,
        recurrence_rule=recurrence_rule,
    )


async def complete_task(task_id: TaskIdArgument, completed: CompletedArgument = None) -> TaskPublic:
    """Mark a task completed (completed=true) or not yet done (completed=false); without
    `completed`, toggle it. Returns the updated task."""
    return await service.complete_task(current_caller.get(), task_id=task_id, completed=completed)


async def delete_task(task_id: TaskIdArgument) -> DeletedTask:
    """Delete one of the user's tasks for good. Confirm with the user first: it cannot be undone."""
    return await service.delete_task(current_caller.get(), task_id=task_id)


# In the order a model is shown them.
TASK_TOOLS = (add_task, list_tasks, get_task, update_task, complete_task, delete_task)

__all__ = ["RULES", "TASK_TOOLS", "Caller", "current_caller", "describe", "failure_sentence"]
