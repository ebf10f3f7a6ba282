"""/mcp: the task tools over MCP's Streamable HTTP transport, as an OAuth resource server.

The caller is authenticated exactly as on the REST routes (`todo_api.auth.get_current_user`);
a request without a valid token is refused before the MCP server sees it, with the pointer to
the protected-resource metadata (RFC 9728) that the MCP authorization specification asks for.
Stateless and answered with JSON, so any worker or instance can serve any request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Request
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from todo_api.assistants.tools import MCP_PATH, Caller, build_server, current_caller
from todo_api.auth import get_current_user
from todo_api.errors import Forbidden, Unauthenticated
from todo_api.hardening import MAX_BODY_BYTES
from todo_api.state import app_state

RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"


def public_base(request: Request) -> str:
    """This service's URL as the client reached it (through trusted proxy headers, if any)."""
    return str(request.base_url).rstrip("/")


class MCPEndpoint:
    """The ASGI endpoint at /mcp. Its session manager lives as long as one run of the app's
    lifespan (`running`): the SDK's manager runs once only, and an app may be started again."""

    def __init__(self, server: MCPServer | None = None) -> None:
        self._server = server or build_server()
        self._manager: StreamableHTTPSessionManager | None = None
        # An ASGI endpoint: the SDK's transport writes the response itself. POST only: stateless,
        # there is no session to DELETE, and a GET would open a stream nothing ever writes to.
        self.route = Route(MCP_PATH, self, methods=["POST"])

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve /mcp while the context is open.

        The manager runs in a task of its own: its task group must be left by the task that
        entered it, and a lifespan may be entered and left by different tasks (test fixtures do).
        """
        self._server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            max_request_body_size=MAX_BODY_BYTES,
            # The SDK's Host allow-list would refuse every deployed host name; `_check_origin`
            # does the part that matters for a bearer-token API.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = self._server.session_manager
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
        self._manager = manager
        try:
            yield
        finally:
            self._manager = None
            stopping.set()
            await runner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The access log names a request by its route's path; FastAPI records only its own routes.
        scope["route"] = self.route
        request = Request(scope, receive)
        _check_origin(request)
        try:
            user = await get_current_user(request)
        except Unauthenticated as refused:
            raise _pointing_to_metadata(refused, public_base(request) + RESOURCE_METADATA_PATH) from None
        if self._manager is None:
            raise RuntimeError("/mcp called outside the app's lifespan")
        caller = current_caller.set(Caller(user=user, state=app_state(request)))
        try:
            await self._manager.handle_request(scope, receive, send)
        finally:
            current_caller.reset(caller)


def _check_origin(request: Request) -> None:
    # MCP asks servers to check Origin (against DNS rebinding): a browser page may call /mcp only
    # from an origin the service trusts for CORS. Clients that are not browsers send none.
    origin = request.headers.get("origin")
    if origin is not None and origin not in app_state(request).settings.cors_origins:
        raise Forbidden("This Origin may not call /mcp")


def _pointing_to_metadata(refused: Unauthenticated, metadata_url: str) -> Unauthenticated:
    challenge = refused.headers["WWW-Authenticate"]
    separator = ", " if " " in challenge else " "
    refused.headers["WWW-Authenticate"] = f'{challenge}{separator}resource_metadata="{metadata_url}"'
    return refused


def protected_resource_metadata(request: Request) -> dict[str, Any]:
    """RFC 9728: what /mcp is and which authorization server issues tokens for it."""
    settings = app_state(request).settings
    base = public_base(request)
    if settings.builtin_auth:
        authorization_servers = [base]
    elif settings.better_auth_url is not None:
        authorization_servers = [str(settings.better_auth_url).rstrip("/")]
    else:
        authorization_servers = []
    document: dict[str, Any] = {
        "resource": base + MCP_PATH,
        "resource_name": "todo-api",
        "bearer_methods_supported": ["header"],
    }
    if authorization_servers:
        document["authorization_servers"] = authorization_servers
    return document


def build_router(endpoint: MCPEndpoint) -> APIRouter:
    """/mcp and its protected-resource metadata (at the root and, per RFC 9728, under /mcp)."""
    router = APIRouter(tags=["assistants"], include_in_schema=False)
    router.routes.append(endpoint.route)
    for path in (RESOURCE_METADATA_PATH, RESOURCE_METADATA_PATH + MCP_PATH):
        router.add_api_route(path, protected_resource_metadata, methods=["GET"])
    return router
