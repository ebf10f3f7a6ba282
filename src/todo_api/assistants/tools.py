"""The task operations as MCP tools: each one is a call to `service` for the caller the /mcp
endpoint authenticated (see `router`), never for a user named in the call; every failure is a
tool error the model can read."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import ValidationError

from todo_api.assistants import service
from todo_api.assistants.caller import MCP_PATH, current_caller
from todo_api.assistants.schemas import (
    CompletedArgument,
    DeletedTask,
    DescriptionArgument,
    LimitArgument,
    NewDescriptionArgument,
    NewStatusArgument,
    NewTitleArgument,
    OffsetArgument,
    SortArgument,
    StatusFilterArgument,
    TaskIdArgument,
    TaskList,
    TaskPublic,
    TitleArgument,
)
from todo_api.db.connection import is_database_unavailable
from todo_api.errors import AppError
from todo_api.logs import log_unhandled_error

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
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        problems.append(f"{where}: {problem['msg']}" if where else problem["msg"])
    return "Invalid arguments: " + "; ".join(problems)


async def add_task(title: TitleArgument, description: DescriptionArgument = None) -> TaskPublic:
    """Add a new task to the user's to-do list. Returns the created task, with its id."""
    async with as_tool_errors():
        return await service.add_task(current_caller.get(), title=title, description=description)


async def list_tasks(
    status: StatusFilterArgument = "all",
    sort: SortArgument = "-created_at",
    limit: LimitArgument = 100,
    offset: OffsetArgument = 0,
) -> TaskList:
    """List the user's tasks, newest first by default, optionally only those with one status.
    `total` says how many match in all; when it exceeds offset + limit, call again with a
    larger offset for the next page."""
    async with as_tool_errors():
        return await service.list_tasks(
            current_caller.get(), status=status, sort=sort, limit=limit, offset=offset
        )


async def get_task(task_id: TaskIdArgument) -> TaskPublic:
    """Get one of the user's tasks by id, with its description and status."""
    async with as_tool_errors():
        return await service.get_task(current_caller.get(), task_id=task_id)


async def update_task(
    task_id: TaskIdArgument,
    title: NewTitleArgument = None,
    description: NewDescriptionArgument = None,
    status: NewStatusArgument = None,
) -> TaskPublic:
    """Change a task's title, description or status; fields left out stay as they are, and at
    least one must be given. Returns the updated task."""
    async with as_tool_errors():
        return await service.update_task(
            current_caller.get(), task_id=task_id, title=title, description=description, status=status
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


def build_server() -> MCPServer:
    """An MCP server with the task tools; its transport is set up by `router.MCPEndpoint`."""
    with _logging_left_alone():
        server: MCPServer = MCPServer("todo-api", instructions=INSTRUCTIONS, version="0.1.0")
    for tool, title, hints in TOOLS:
        # The docstring, as one paragraph: its line breaks and indentation mean nothing to a model.
        description = " ".join((tool.__doc__ or "").split())
        server.add_tool(tool, title=title, description=description, annotations=hints, structured_output=True)
    return server
