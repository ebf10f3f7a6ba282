"""The API's admission, as one ASGI layer in front of the router: who is calling (401), may they
use this path (403), are they within their rate limit (429), and only then is the body read
and judged (400, 422). The order holds by construction: nothing behind this layer runs, and no
body is read, for a caller it refused.

It guards the API's collections, `/api/<collection>…` and `/api/{user_id}/<collection>…`; the
rest (Better Auth's `/api/auth`, the health checks, the docs, `/mcp`, which authenticates its
own callers) passes through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from todo_api.auth import User, record_caller
from todo_api.db.connection import UNAVAILABLE_ERRORS
from todo_api.errors import AppError, Forbidden
from todo_api.hardening import BODY_METHODS, has_body
from todo_api.http_errors import answer_database_error, error_response
from todo_api.json_bodies import check_json
from todo_api.ratelimit import READ_METHODS
from todo_api.request_bodies import read_body, replaying
from todo_api.state import app_state

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


class ApiGate:
    """Admit the callers of the API's collections before the app sees their requests."""

    def __init__(self, app: ASGIApp, *, collections: Collection[str]) -> None:
        self.app = app
        # The first path segment after /api/ of the routes that need a caller (`tasks`, ...).
        self.collections = frozenset(collections)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # OPTIONS is never a route of ours: a preflight is the CORS layer's, anything else a 405.
        if scope["type"] == "http" and scope["method"] != "OPTIONS":
            guarded, path_user = self.guarded(scope)
            if guarded:
                admitted = await self._admitted(scope, receive, send, path_user)
                if admitted is None:  # refused, and answered
                    return
                receive = admitted
        await self.app(scope, receive, send)

    async def _admitted(
        self, scope: Scope, receive: Receive, send: Send, path_user: str | None
    ) -> Receive | None:
        """The request's `receive` once the caller is admitted and the body judged; None once a
        refusal has been sent (or the client has gone)."""
        connection = HTTPConnection(scope, receive)
        try:
            user = await admit(connection, path_user)
            record_caller(scope, user)
            if scope["method"] not in BODY_METHODS or not has_body(scope["headers"]):
                return receive
            raw = await read_body(receive)
            if raw is None:  # the client went away: there is no one to answer
                return None
            check_json(raw)
        except (AppError, HTTPException, sa_exc.DBAPIError, *UNAVAILABLE_ERRORS) as error:
            await (await _refusal(connection, error))(scope, receive, send)
            return None
        return replaying(raw, receive)

    def guarded(self, scope: Scope) -> tuple[bool, str | None]:
        """Whether the path is one of the API's collections, and the `{user_id}` it names, if any.

        `/api/tasks/x` is the caller's own collection even for a user called `tasks`, as the
        router also matches the own family first.
        """
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if not path.startswith(API_PREFIX):
            return False, None
        first, _, rest = path[len(API_PREFIX) :].partition("/")
        if first in self.collections:
            return True, None
        second = rest.partition("/")[0]
        if second in self.collections:
            return True, first
        return False, None


async def admit(connection: HTTPConnection, path_user: str | None) -> User:
    """The caller, if they may use this path and are within their limit; else a domain error."""
    state = app_state(connection)
    user = await state.authenticator.authenticate(connection)
    if path_user is not None and path_user != user.id:
        logger.warning(
            "path user does not match token",
            extra={"event": "authorization_failed", "reason": "user_id mismatch", "user_id": user.id},
        )
        raise Forbidden("The user id in the path does not match the token")
    if state.rate_limiter is not None:
        await state.rate_limiter.check(user.id, write=connection.scope["method"] not in READ_METHODS)
    return user


async def _refusal(connection: HTTPConnection, error: Exception) -> JSONResponse:
    """The answer to an error raised while admitting a request, as the app's handlers give it."""
    if isinstance(error, AppError):
        return error_response(error)
    if isinstance(error, HTTPException):  # the hardening layer's 413, as the body arrived
        return JSONResponse({"detail": error.detail}, error.status_code, error.headers)
    return await answer_database_error(connection, error)
