"""/mcp: the task tools over MCP's Streamable HTTP transport, as an OAuth resource server.

The caller is authenticated exactly as on the REST routes (`todo_api.auth.Authenticator`);
a request without a valid token is refused before the MCP server sees it, with the pointer to
the protected-resource metadata (RFC 9728) that the MCP authorization specification asks for.
Stateless and answered with JSON, so any worker or instance can serve any request.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from todo_api.assistants.caller import MCP_PATH, Caller, current_caller
from todo_api.auth import record_caller
from todo_api.config import Settings
from todo_api.errors import Forbidden, NotFound, Unauthenticated
from todo_api.first_use import BuiltOnFirstUse
from todo_api.state import app_state

if TYPE_CHECKING:
    from todo_api.assistants.transport import RunningTools

RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"
# The same for every caller (it changes only with the configuration).
METADATA_CACHE_CONTROL = "public, max-age=3600"


def configured_base(settings: Settings) -> str | None:
    """This service's public URL as configured: PUBLIC_URL, else BETTER_AUTH_URL when the
    built-in sign-in makes that the service's own."""
    if settings.public_url is not None:
        return str(settings.public_url).rstrip("/")
    if settings.builtin_auth:
        return settings.better_auth_base_url
    return None


def public_base(request: Request) -> str | None:
    """This service's public URL: configured, or, in development only, the URL the request came
    to. Never the Host header in production: a client chooses it, and metadata built from it,
    once cached, would send other clients to that host for their tokens."""
    settings = app_state(request).settings
    configured = configured_base(settings)
    if configured is None and not settings.is_production:
        return str(request.base_url).rstrip("/")
    return configured


class MCPEndpoint:
    """The ASGI endpoint at /mcp. It serves while one run of the app's lifespan is open
    (`running`; an app may be started again), and starts the MCP server on its first request."""

    def __init__(self) -> None:
        self._tools = BuiltOnFirstUse(_start_tools, _stop_tools, what=MCP_PATH)
        # An ASGI endpoint: the SDK's transport writes the response itself. POST only: stateless,
        # there is no session to DELETE, and a GET would open a stream nothing ever writes to.
        self.route = Route(MCP_PATH, self, methods=["POST"])

    def running(self) -> AbstractAsyncContextManager[None]:
        """Serve /mcp while the context is open; stop the MCP server, if one started, on leaving."""
        return self._tools.running()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The access log names a request by its route's path; FastAPI records only its own routes.
        scope["route"] = self.route
        request = Request(scope, receive)
        _check_origin(request)
        try:
            user = await app_state(request).authenticator.authenticate(request)
        except Unauthenticated as refused:
            base = public_base(request)
            if base is None:
                raise
            raise _pointing_to_metadata(refused, base + RESOURCE_METADATA_PATH) from None
        record_caller(scope, user)
        tools = await self._tools.get()
        caller = current_caller.set(Caller(user=user, state=app_state(request)))
        try:
            await tools.handle_request(scope, receive, send)
        finally:
            current_caller.reset(caller)


async def _start_tools() -> RunningTools:
    # Importing the SDK takes a second of CPU; in a thread, this worker goes on answering its
    # other requests meanwhile.
    running_tools = await asyncio.to_thread(_import_transport)
    return await running_tools.start()


async def _stop_tools(tools: RunningTools) -> None:
    await tools.stop()


def _import_transport() -> type[RunningTools]:
    from todo_api.assistants.transport import RunningTools  # noqa: PLC0415 (loaded on first use)

    return RunningTools


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


def protected_resource_metadata(request: Request, response: Response) -> dict[str, Any]:
    """RFC 9728: what /mcp is and which authorization server issues tokens for it."""
    settings = app_state(request).settings
    base = public_base(request)
    if base is None:
        raise NotFound("No protected-resource metadata: PUBLIC_URL is not configured")
    # Better Auth signs users in: at BETTER_AUTH_URL, or here with the built-in sign-in.
    issuer = settings.better_auth_base_url or (base if settings.builtin_auth else None)
    document: dict[str, Any] = {
        "resource": base + MCP_PATH,
        "resource_name": "todo-api",
        "bearer_methods_supported": ["header"],
    }
    if issuer is not None:
        document["authorization_servers"] = [issuer]
    response.headers["Cache-Control"] = METADATA_CACHE_CONTROL
    return document


def build_router(endpoint: MCPEndpoint) -> APIRouter:
    """/mcp and its protected-resource metadata (at the root and, per RFC 9728, under /mcp)."""
    router = APIRouter(tags=["assistants"], include_in_schema=False)
    router.routes.append(endpoint.route)
    for path in (RESOURCE_METADATA_PATH, RESOURCE_METADATA_PATH + MCP_PATH):
        router.add_api_route(path, protected_resource_metadata, methods=["GET"])
    return router
