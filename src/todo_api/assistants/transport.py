"""The MCP SDK's Streamable HTTP transport for the task tools, with its session manager running.

Imported by `router.MCPEndpoint` on a worker's first /mcp request, not with the app: the SDK is
a fifth of a worker's memory, and a worker that serves only the REST routes never needs it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import INVALID_REQUEST, PARSE_ERROR, jsonrpc_message_adapter
from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from todo_api.assistants.caller import MCP_PATH
from todo_api.assistants.tools import build_server
from todo_api.errors import AppError
from todo_api.hardening import MAX_BODY_BYTES
from todo_api.json_bodies import check_json
from todo_api.request_bodies import read_body, replaying

NOT_ONE_MESSAGE = (
    "Invalid Request: the body must be one JSON-RPC 2.0 message, an object such as "
    '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
)


class RunningTools:
    """The task tools' server with its session manager running in a task of its own: the
    manager's task group must be left by the task that entered it, and the request that starts
    it is not the lifespan that stops it."""

    def __init__(
        self, manager: StreamableHTTPSessionManager, runner: asyncio.Task[None], stopping: asyncio.Event
    ) -> None:
        self._manager = manager
        self._runner = runner
        self._stopping = stopping

    @classmethod
    async def start(cls) -> RunningTools:
        server = build_server()
        server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            max_request_body_size=MAX_BODY_BYTES,
            # The SDK's Host allow-list would refuse every deployed host name; the endpoint's
            # Origin check does the part that matters for a bearer-token API.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = server.session_manager
        started, stopping = asyncio.Event(), asyncio.Event()

        async def run_manager() -> None:
            async with manager.run():
                started.set()
                await stopping.wait()

        runner = asyncio.create_task(run_manager(), name="mcp session manager")
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({runner, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiting.cancel()
            runner.result()  # raises what stopped it
        return cls(manager, runner, stopping)

    async def handle_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The body is judged before the SDK reads it: the SDK answers a body that is not one
        # JSON-RPC message with pydantic's whole report, the input echoed in it.
        body = await read_body(receive)
        if body is None:
            return  # nobody is left to answer
        refusal = refuse(body)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._manager.handle_request(scope, replaying(body, receive), send)

    async def stop(self) -> None:
        self._stopping.set()
        await self._runner


def refuse(body: bytes) -> JSONResponse | None:
    """The JSON-RPC error, in one sentence, for a body that is not one JSON-RPC message; else None."""
    try:
        # The REST routes' judge of a JSON body (the message names the problem and its place).
        message = check_json(body)
    except AppError as error:
        return _jsonrpc_error(PARSE_ERROR, f"Parse error: {error.detail}")
    if not isinstance(message, dict) or not _is_one_message(message):
        return _jsonrpc_error(INVALID_REQUEST, NOT_ONE_MESSAGE)
    return None


def _is_one_message(message: dict[str, Any]) -> bool:
    # MCP: a request's id is a string or an integer (the SDK takes any other for a notification's
    # stray member, and answers nothing).
    identifier = message.get("id")
    if (
        "method" in message
        and "id" in message
        and (isinstance(identifier, bool) or not isinstance(identifier, int | str))
    ):
        return False
    try:
        jsonrpc_message_adapter.validate_python(message, by_name=False)
    except ValidationError:
        return False
    return True


def _jsonrpc_error(code: int, message: str) -> JSONResponse:
    # No id: JSON-RPC answers `"id": null` when the request's id could not be read.
    return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}, 400)
