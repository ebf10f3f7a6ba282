"""A route class for the hot routes: FastAPI's request handling, with its dependency tree
walked once, when the route is built, instead of on every request.

FastAPI solves a route's dependencies anew for each request: it walks the tree, works out
each dependency's cache key and kind (generator, coroutine, sync), builds a `Response` that
dependencies could set headers on, and records telemetry. For a task request that was a third
of the service's CPU. A `PlannedRoute` keeps the walk as a plan of steps and runs only the
calls and the parameter validation (FastAPI's own fields, `request_params_to_args` and
`request_body_to_args`, so errors are the same). A plain parameter's kind and name are also
worked out once (`ScalarParam`), and the route is served without the exit stacks FastAPI opens
per request for `yield` dependencies, which a plan has none of.

A plan covers what the task routes use: `async def` dependencies, path, query, header and
cookie parameters, a JSON body and the `Request`. A route that uses anything else (a `yield`
dependency, a sync one, `Response`, `BackgroundTasks`, security scopes) is handled by FastAPI's
own handler, as is any request while `app.dependency_overrides` is set (tests).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi._compat import ModelField, field_annotation_is_sequence, get_missing_field_error
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic_core import PydanticUndefined
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from todo_api.http_errors import UNPARSED_BODY

try:  # How FastAPI tells a route's handler about the router it was included through.
    from fastapi.routing import _effective_route_context_var as _inclusion
except ImportError:  # another FastAPI: every route keeps FastAPI's own handler
    _inclusion = None  # type: ignore[assignment]
try:  # How FastAPI tells a plain parameter from a model, a list or JSON, and finds its name.
    from fastapi.dependencies.utils import _get_param_aliases as _param_aliases
    from fastapi.dependencies.utils import _get_param_model as _param_model
    from fastapi.dependencies.utils import _is_json_field
except ImportError:  # another FastAPI: its `request_params_to_args` reads every parameter
    _param_aliases = None  # type: ignore[assignment]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class Unplannable(Exception):
    """The route uses a dependency feature the plan does not cover."""


@dataclass(frozen=True, slots=True)
class Step:
    """One dependant: its sub-steps first, then its own parameters; `call` is what runs."""

    call: Callable[..., Awaitable[Any]]
    name: str | None
    use_cache: bool
    steps: tuple[Step, ...]
    dependant: Dependant
    params: tuple[Params, ...]
    embed_body_fields: bool
    # No sub-dependencies, parameters or body: its arguments are at most the request.
    takes_only_the_request: bool

    async def values(
        self, request: Request, body: Any, cache: dict[Any, Any], errors: list[Any]
    ) -> dict[str, Any]:
        """The keyword arguments for `call`, as FastAPI's `solve_dependencies` works them out:
        each sub-dependency once per request (unless it opts out of the cache), one whose own
        arguments failed validation skipped, and every validation error collected."""
        values: dict[str, Any] = {}
        for step in self.steps:
            if step.takes_only_the_request and step.use_cache and step.call in cache:
                # Solved before in this request, and its arguments cannot have changed or failed.
                if step.name is not None:
                    values[step.name] = cache[step.call]
                continue
            failed_before = len(errors)
            arguments = await step.values(request, body, cache, errors)
            if len(errors) > failed_before:
                continue
            if step.use_cache and step.call in cache:
                solved = cache[step.call]
            else:
                solved = await step.call(**arguments)
                cache.setdefault(step.call, solved)
            if step.name is not None:
                values[step.name] = solved
        for group in self.params:
            group.read(request, values, errors)
        dependant = self.dependant
        if dependant.body_params:
            found, failed = await request_body_to_args(
                body_fields=dependant.body_params,
                received_body=body,
                embed_body_fields=self.embed_body_fields,
            )
            values.update(found)
            errors.extend(failed)
        if dependant.request_param_name is not None:
            values[dependant.request_param_name] = request
        if dependant.http_connection_param_name is not None:
            values[dependant.http_connection_param_name] = request
        return values


# Where each kind of parameter is read from.
SOURCES: dict[str, Callable[[Request], Mapping[str, Any]]] = {
    "path": lambda request: request.path_params,
    "query": lambda request: request.query_params,
    "header": lambda request: request.headers,
    "cookie": lambda request: request.cookies,
}


@dataclass(frozen=True, slots=True)
class Params:
    """One kind of parameter of a dependant (its path, query, header or cookie parameters),
    read and validated as FastAPI's `request_params_to_args` does them."""

    source: Callable[[Request], Mapping[str, Any]]
    fields: tuple[ModelField, ...]
    # The same work for parameters that are one plain value each, without working out per
    # request, for every field, whether it is a model, a list, JSON or has several aliases.
    scalars: tuple[ScalarParam, ...] | None

    def read(self, request: Request, values: dict[str, Any], errors: list[Any]) -> None:
        source = self.source(request)
        if self.scalars is None:
            found, failed = request_params_to_args(self.fields, source)
            values.update(found)
            errors.extend(failed)
            return
        if not source:  # nothing sent (a bare `GET /api/tasks`): no name to look up
            for scalar in self.scalars:
                scalar.absent(values, errors)
            return
        for scalar in self.scalars:
            scalar.read(source, values, errors)


# Types whose values cannot change (a subclass could, so the type must be exactly one of these).
IMMUTABLE_TYPES = frozenset({type(None), bool, int, float, str, bytes})


@dataclass(frozen=True, slots=True)
class ScalarParam:
    """A parameter that is one plain value under one name."""

    field: ModelField
    key: str
    loc: tuple[str, str]
    required: bool
    validate_default: bool
    default: Any
    # FastAPI copies a default per request so that no request can change another's; a value
    # of an immutable type is its own copy (`deepcopy` returns it as it is), so it is not.
    copy_default: bool

    def read(self, source: Mapping[str, Any], values: dict[str, Any], errors: list[Any]) -> None:
        value = source.get(self.key)
        if value is None:
            self.absent(values, errors)
        else:
            self._validate(value, values, errors)

    def absent(self, values: dict[str, Any], errors: list[Any]) -> None:
        """Not sent: missing if required, else the default (validated only if asked to be)."""
        if self.required:
            errors.append(get_missing_field_error(loc=self.loc))
        elif self.validate_default:
            self._validate(self._default(), values, errors)
        else:
            values[self.field.name] = self._default()

    def _default(self) -> Any:
        return deepcopy(self.default) if self.copy_default else self.default

    def _validate(self, value: Any, values: dict[str, Any], errors: list[Any]) -> None:
        validated, failed = self.field.validate(value, values, loc=self.loc)
        if failed:
            errors.extend(failed)
        else:
            values[self.field.name] = validated


def _params(dependant: Dependant) -> tuple[Params, ...]:
    groups = (
        ("path", dependant.path_params),
        ("query", dependant.query_params),
        ("header", dependant.header_params),
        ("cookie", dependant.cookie_params),
    )
    return tuple(Params(SOURCES[kind], tuple(fields), _scalars(fields)) for kind, fields in groups if fields)


def _scalars(fields: list[ModelField]) -> tuple[ScalarParam, ...] | None:
    """The fields as scalar parameters, or None if any of them is not one (then FastAPI's own
    function reads them all)."""
    if _param_aliases is None:
        return None
    scalars = []
    for field in fields:
        aliases = _param_aliases(field)
        if (
            len(aliases) != 1
            or _is_json_field(field)
            or _param_model(field) is not None
            or field_annotation_is_sequence(field.field_info.annotation)
            or not isinstance(field.field_info, params.Param)
        ):
            return None
        key = aliases[0][1]
        info = field.field_info
        loc = (info.in_.value, key)
        default = field.default
        scalars.append(
            ScalarParam(
                field,
                key,
                loc,
                info.is_required(),
                bool(info.validate_default),
                default,
                copy_default=type(default) not in IMMUTABLE_TYPES,
            )
        )
    return tuple(scalars)


def plan(
    dependant: Dependant, *, embed_body_fields: bool, name: str | None = None, use_cache: bool = True
) -> Step:
    """The dependant as a step, or Unplannable if it uses what a plan does not cover."""
    call = dependant.call
    if call is None or not _is_async_function(call):
        raise Unplannable(f"{call!r} is not an async function")
    unsupported = (
        dependant.websocket_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    if any(unsupported) or dependant.own_oauth_scopes or dependant.parent_oauth_scopes:
        raise Unplannable(f"{call!r} asks for something only FastAPI's handler provides")
    steps = tuple(
        plan(sub, embed_body_fields=embed_body_fields, name=sub.name, use_cache=sub.use_cache)
        for sub in dependant.dependencies
    )
    params = _params(dependant)
    takes_only_the_request = not steps and not params and not dependant.body_params
    return Step(call, name, use_cache, steps, dependant, params, embed_body_fields, takes_only_the_request)


def _is_async_function(call: Callable[..., Any]) -> bool:
    # A generator function (a `yield` dependency) is not a coroutine function, so it is refused.
    if inspect.isroutine(call):
        return inspect.iscoroutinefunction(call)
    return not inspect.isclass(call) and inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004


async def read_json_body(request: Request) -> Any:
    """The parsed JSON body, or FastAPI's "nothing" when there is none. The hardening
    middleware has already answered 415 to any body that is not JSON."""
    raw = await request.body()
    if not raw:
        return PydanticUndefined
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        problem = {
            "type": "json_invalid",
            "loc": ("body", error.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": error.msg},
        }
        raise RequestValidationError([problem], body=error.doc) from error
    except ValueError as error:  # not text in a JSON encoding
        raise HTTPException(status_code=400, detail=UNPARSED_BODY) from error


class PlannedRoute(APIRoute):
    """An APIRoute (same OpenAPI, same errors) whose handler runs a plan made at start-up."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self._planned: Handler | None = None
        super().__init__(path, endpoint, **kwargs)
        if self._planned is not None and self.max_body_size is None:
            self.app = _served_by_plan(self._planned, fastapi_app=self.app)

    def get_route_handler(self) -> Handler:
        fastapi_handler = super().get_route_handler()
        if _inclusion is None:
            return fastapi_handler
        # An included route is handled with the dependencies of its inclusion (the router's and
        # the include_router call's), exactly as FastAPI's own handler is.
        context = _inclusion.get()
        route: Any = context if context is not None and context.original_route is self else self
        try:
            endpoint = plan(route.dependant, embed_body_fields=route._embed_body_fields)
        except Unplannable:
            return fastapi_handler
        has_body = route.body_field is not None

        async def run_plan(request: Request) -> Response:
            body = await read_json_body(request) if has_body else PydanticUndefined
            errors: list[Any] = []
            arguments = await endpoint.values(request, body, {}, errors)
            if errors:
                raise RequestValidationError(errors, body=body)
            response = await endpoint.call(**arguments)
            if not isinstance(response, Response):
                raise TypeError(f"{self.name} must return a Response on a PlannedRoute")
            return response

        async def handle(request: Request) -> Response:
            if request.app.dependency_overrides:
                return await fastapi_handler(request)
            return await run_plan(request)

        if route is self:
            # `__init__` serves this route with it directly (`_served_by_plan`).
            self._planned = run_plan
        return handle


def _served_by_plan(run_plan: Handler, *, fastapi_app: ASGIApp) -> ASGIApp:
    """The route's ASGI app: FastAPI's (`request_response`) without what only FastAPI's own
    handler needs.

    FastAPI opens two `AsyncExitStack`s per request for `yield` dependencies, which a plan has
    none of, and catches the route's exceptions to hand them to the app's exception handlers;
    an exception left to rise reaches the same handlers one layer up, in the
    `ExceptionMiddleware` that wraps the router, before anything has been sent. That is a few
    per cent of a single-task `get` (docs/performance.md, eighth round). With
    `dependency_overrides` set (tests), the request takes FastAPI's app, which then takes
    FastAPI's own handler.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        if request.app.dependency_overrides:
            await fastapi_app(scope, receive, send)
            return
        response = await run_plan(request)
        await response(scope, receive, send)

    return app


def add_routes(parent: APIRouter, router: APIRouter) -> None:
    """Put `router`'s routes straight into `parent` (the app's router), in order.

    `APIRouter.add_api_route` has already given each route the router's prefix, dependencies,
    responses and tags, so nothing is lost. `include_router` would instead add the router as
    one nested route, and FastAPI matches a nested route twice per request (once to select the
    router, once to select the route) while swapping contexts in the scope: about a tenth of a
    short task request's CPU. A route's handler is built with it, so the router must have been
    made with the parent's `dependency_overrides_provider` (overrides set on the app then reach
    its routes, as they would through `include_router`).
    """
    if router.dependency_overrides_provider is not parent.dependency_overrides_provider:
        raise ValueError("the router must take its dependency overrides from the parent")
    parent.routes.extend(router.routes)
