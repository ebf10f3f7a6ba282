"""The task tools of `catalogue` as MCP tools: each one is a call to `service` for the caller
the /mcp endpoint authenticated (see `router`), never for a user named in the call; every
failure is a tool error of one sentence the model can act on."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import ValidationError

from todo_api.assistants import catalogue
from todo_api.assistants.caller import MCP_PATH
from todo_api.assistants.catalogue import describe, failure_sentence, refused_arguments

P = ParamSpec("P")
R = TypeVar("R")

INSTRUCTIONS = "Manages the signed-in user's to-do list. " + catalogue.RULES


@asynccontextmanager
async def as_tool_errors() -> AsyncIterator[None]:
    """Every failure inside, as a tool error with one sentence the model can act on."""
    try:
        yield
    except Exception as error:
        raise ToolError(failure_sentence(error, path=MCP_PATH)) from None


def as_mcp_tool(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A catalogue function whose failures are tool errors; the SDK reads its signature and
    docstring through `functools.wraps`."""

    @functools.wraps(function)
    async def tool(*args: P.args, **kwargs: P.kwargs) -> R:
        async with as_tool_errors():
            return await function(*args, **kwargs)

    return tool


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
    """The SDK's server, with every anticipated tool failure answered in our own sentence, and
    an argument a tool does not take refused as the chat agent refuses it (the SDK's argument
    models ignore one)."""

    # Each tool's argument names, read from the tools' listed schemas on the first call.
    arguments_taken: dict[str, frozenset[str]] | None = None

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        if self.arguments_taken is None:
            self.arguments_taken = {
                tool.name: frozenset(tool.input_schema.get("properties", {}))
                for tool in await self.list_tools()
            }
        taken = self.arguments_taken.get(name)
        if taken is not None and (refused := refused_arguments(arguments, taken)):
            return _tool_error(refused)
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise  # a crash: the SDK logs it and tells the model only that the tool failed
        except ToolError as error:
            return _tool_error(tool_error_text(error))


def _tool_error(sentence: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=sentence)], is_error=True)


READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
ADDS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
CHANGES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
TOGGLES = ToolAnnotations(
    readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False
)
REMOVES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)
# The catalogue's tools, each with its title and hints.
TOOLS = (
    (catalogue.add_task, "Add a task", ADDS),
    (catalogue.list_tasks, "List tasks", READ_ONLY),
    (catalogue.get_task, "Get a task", READ_ONLY),
    (catalogue.update_task, "Update a task", CHANGES),
    (catalogue.complete_task, "Complete or reopen a task", TOGGLES),
    (catalogue.delete_task, "Delete a task", REMOVES),
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
        server.add_tool(
            as_mcp_tool(tool), title=title, description=description, annotations=hints, structured_output=True
        )
    return server
