"""The MCP SDK's Streamable HTTP transport for the task tools, with its session manager running.

Imported by `router.MCPEndpoint` on a worker's first /mcp request, not with the app: the SDK is
a fifth of a worker's memory, and a worker that serves only the REST routes never needs it.
"""

from __future__ import annotations

import asyncio

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from todo_api.assistants.caller import MCP_PATH
from todo_api.assistants.tools import build_server
from todo_api.hardening import MAX_BODY_BYTES


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
        await self._manager.handle_request(scope, receive, send)

    async def stop(self) -> None:
        self._stopping.set()
        await self._runner
