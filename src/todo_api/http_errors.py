"""The one place errors become responses: every error is JSON with a `detail`, and no
traceback, SQL or driver text ever reaches a client."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from todo_api.db.connection import UNAVAILABLE_ERRORS, is_database_unavailable
from todo_api.errors import AppError, BadRequest, NotFound, ServiceUnavailable
from todo_api.logs import client_address, log_unhandled_error

logger = logging.getLogger(__name__)

MAX_ECHOED_CHARACTERS = 200
MAX_ECHOED_ITEMS = 20
MAX_ECHOED_DEPTH = 4
# Fields whose value is never echoed back in a 422, whatever feature declares them.
SECRET_FIELDS = frozenset({"password", "new_password", "current_password", "token", "secret"})


class ErrorDetail(BaseModel):
    """The error shape for every status but 422."""

    detail: str


def documented(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for an error in the one shape."""
    return {"model": ErrorDetail, "description": description}


# What any API route may answer, whatever it does.
API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: documented("Missing, malformed, expired or otherwise invalid bearer token."),
    413: documented("Request body over 1 MiB."),
    429: documented(
        "Rate limit reached: the caller's, or failed authentications from this address; "
        "retry after `Retry-After` seconds."
    ),
    500: documented("Unexpected error (no internals are shown)."),
    503: documented("Database or signing keys unreachable; retry after `Retry-After` seconds."),
}


def error_response(error: AppError) -> JSONResponse:
    """The one error shape: a JSON object with a `detail` string (or the protocol's own shape)."""
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)


async def _app_error(_request: Request, error: Exception) -> JSONResponse:
    return error_response(cast(AppError, error))


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route serves at this request's path."""
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    errors = cast(RequestValidationError, error).errors()
    locations = {err["loc"][0] for err in errors if err.get("loc")}
    if "path" in locations:
        # A path that cannot name a task (say /tasks/abc) names no task at all.
        return error_response(NotFound())
    if locations == {"query"}:
        return error_response(BadRequest(describe_query_errors(request, errors)))
    return JSONResponse({"detail": _public_errors(errors)}, status_code=422)


def describe_query_errors(request: Request, errors: Sequence[Mapping[str, Any]]) -> str:
    """One sentence per bad query parameter, naming what it allows (from the route's docs)."""
    allowed: dict[str, str] = {}
    dependants = [getattr(request.scope.get("route"), "dependant", None)]
    while dependants:  # the route's own parameters and those of its dependencies
        dependant = dependants.pop()
        for param in getattr(dependant, "query_params", ()):
            if param.field_info.description:
                allowed.setdefault(param.alias, param.field_info.description)
        dependants.extend(getattr(dependant, "dependencies", ()))
    sentences = []
    for err in errors:
        name = str(err["loc"][-1])
        sentences.append(f"invalid '{name}': {allowed.get(name) or err['msg']}")
    return "; ".join(sentences)


def _public_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    # Keep FastAPI's {loc, msg, type, input} list; drop `ctx` (may hold exception objects) and
    # `url`. The echoed `input` is cut short (a 900 kB body must not come back as a 900 kB
    # error) and made renderable: JSON can spell NaN and lone surrogates, which JSON responses
    # cannot carry.
    public = []
    for err in errors:
        entry = {key: err[key] for key in ("type", "loc", "msg") if key in err}
        if "input" in err and not any(str(part).lower() in SECRET_FIELDS for part in err.get("loc", ())):
            entry["input"] = _echoable(err["input"])
        public.append(entry)
    return cast(list[dict[str, Any]], jsonable_encoder(public))


def _echoable(value: Any, depth: int = 0) -> Any:
    """`value` as a short, renderable echo: strings cut, containers trimmed, odd numbers as text."""
    if isinstance(value, bytes):
        # A body that is not JSON arrives as bytes, possibly not UTF-8: show it as text.
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        text = value.encode("utf-8", errors="replace").decode("utf-8")
        return text if len(text) <= MAX_ECHOED_CHARACTERS else text[:MAX_ECHOED_CHARACTERS] + "…"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if not isinstance(value, Mapping | list | tuple):
        return value
    if depth >= MAX_ECHOED_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        items = list(value.items())[:MAX_ECHOED_ITEMS]
        return {_echoable(str(key), depth + 1): _echoable(item, depth + 1) for key, item in items}
    return [_echoable(item, depth + 1) for item in value[:MAX_ECHOED_ITEMS]]


async def answer_database_error(request: HTTPConnection, error: Exception) -> JSONResponse:
    """503 with Retry-After for a database that is away (clients should retry); anything else
    from it is a bug, logged, and a generic 500."""
    if not is_database_unavailable(error):
        return await _unexpected_error(request, error)
    logger.warning(
        "database unavailable",
        extra={"event": "database_unavailable", "error": type(error).__name__, "path": request.url.path},
    )
    return error_response(ServiceUnavailable("Database unavailable, retry shortly"))


async def _unexpected_error(request: HTTPConnection, error: Exception) -> JSONResponse:
    log_unhandled_error(error, path=request.url.path, client=client_address(request))
    return error_response(AppError())


def install_error_handlers(app: FastAPI, *, routes: Sequence[BaseRoute]) -> None:
    """Render every error as JSON with a `detail`, and never leak internals. `routes` are the
    app's routes, for the methods a 405 names."""

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        http_error = cast(StarletteHTTPException, error)
        headers = dict(http_error.headers or {})
        if http_error.status_code == 405:
            # Each method is its own route, and the router names only the first one that matched.
            headers["Allow"] = ", ".join(allowed_methods(routes, request.scope))
        detail = {"detail": http_error.detail}
        return JSONResponse(detail, status_code=http_error.status_code, headers=headers)

    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for database_error in (sa_exc.DBAPIError, *UNAVAILABLE_ERRORS):
        app.add_exception_handler(database_error, answer_database_error)
    # Any other exception is answered by the hardening middleware's last resort, inside the
    # middleware that adds security headers and request ids, and logged there once.
