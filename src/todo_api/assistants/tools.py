"""The task operations as MCP tools: each one is a call to `service` for the caller the /mcp
endpoint authenticated (see `router`), never for a user named in the call; every failure is a
tool error of one sentence the model can act on."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import ValidationError

from todo_api.assistants import service
from todo_api.assistants.caller import MCP_PATH, current_caller
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

INSTRUCTIONS = (
    "Manages the signed-in user's to-do list. Every tool acts on that user's own tasks only; "
    "a task id that is not theirs is reported as not found. Use list_tasks to find a task's id "
    "before changing it."
)
UNEXPECTED = "The task service failed unexpectedly; the error was logged. Try again later."


@asynccontextmanager
async def as_tool_errors() -> AsyncIterator[None]:
    """Every failure inside, as a tool error with one sentence the model can act on."""
    try:
        yield
    except AppError as error:
        # Not found, quota reached, rate limited: the model reads the same sentence REST sends.
        raise ToolError(error.detail) from None
    except ValidationError as error:
        raise ToolError(describe(error)) from None
    except Exception as error:
        if is_database_unavailable(error):
            raise ToolError("The database is unavailable; retry shortly.") from None
        log_unhandled_error(error, path=MCP_PATH, client=None)
        raise ToolError(UNEXPECTED) from None


def describe(error: ValidationError) -> str:
    """One clause per problem, without pydantic's links or echoed input."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "Invalid arguments: " + "; ".join(problems)


def tool_error_text(error: ToolError) -> str:
    """The sentence for a tool failure the SDK reports as a ToolError (whose `__cause__` is what
    was raised, per `Tool.run`): our own sentence, not the SDK's text around it."""
    cause = error.__cause__
    if isinstance(cause, ValidationError):
        # The arguments failed the tool's input schema; the SDK's text is pydantic's whole report.
        return describe(cause)
    if isinstance(cause, ToolError):
        # Raised by the tool (`as_tool_errors`); the SDK prefixes "Error executing tool <name>: ".
        return str(cause)
    return str(error)  # the SDK's own, such as "Unknown tool: <name>"


class TaskToolsServer(MCPServer[Any]):
    """The SDK's server, with every anticipated tool failure answered in our own sentence."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise  # a crash: the SDK logs it and tells the model only that the tool failed
        except ToolError as error:
            return CallToolResult(
                content=[TextContent(type="text", text=tool_error_text(error))], is_error=True
            )


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
    async with as_tool_errors():
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
    async with as_tool_errors():
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
    async with as_tool_errors():
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
    async with as_tool_errors():
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
    async with as_tool_errors():
        return await service.complete_task(current_caller.get(), task_id=task_id, completed=completed)


async def delete_task(task_id: TaskIdArgument) -> DeletedTask:
    """Delete one of the user's tasks for good. Confirm with the user first: it cannot be undone."""
    async with as_tool_errors():
        return await service.delete_task(current_caller.get(), task_id=task_id)


READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
ADDS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
CHANGES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
TOGGLES = ToolAnnotations(
    readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False
)
REMOVES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)
TOOLS = (
    (add_task, "Add a task", ADDS),
    (list_tasks, "List tasks", READ_ONLY),
    (get_task, "Get a task", READ_ONLY),
    (update_task, "Update a task", CHANGES),
    (complete_task, "Complete or reopen a task", TOGGLES),
    (delete_task, "Delete a task", REMOVES),
)


@contextmanager
def _logging_left_alone() -> Iterator[None]:
    """The SDK's constructor calls `logging.basicConfig` (a Rich handler at INFO on the root
    logger) unless the root logger already has a handler. Logging is the process's to set up
    (`todo_api.logs`), so the root logger holds a placeholder handler while the server is built."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        yield
    finally:
        root.removeHandler(placeholder)


def build_server() -> MCPServer[Any]:
    """An MCP server with the task tools; its transport is set up by `router.MCPEndpoint`."""
    with _logging_left_alone():
        server = TaskToolsServer("todo-api", instructions=INSTRUCTIONS, version="0.1.0")
    for tool, title, hints in TOOLS:
        # The docstring, as one paragraph: its line breaks and indentation mean nothing to a model.
        description = " ".join((tool.__doc__ or "").split())
        server.add_tool(tool, title=title, description=description, annotations=hints, structured_output=True)
    return server
