"""PlannedRoute: the task routes answer exactly as FastAPI's own handler would, through the plan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.routing import APIRoute

from tests.conftest import TokenFactory, serving_app
from todo_api import routing
from todo_api.errors import Forbidden
from todo_api.http_errors import install_error_handlers
from todo_api.tasks import router as tasks_router
from todo_api.tasks.dependencies import max_tasks_per_user

# Headers that differ between any two answers, whoever handles them.
VARYING = {"date", "x-request-id"}
ENDPOINT_MODULES = {tasks_router.__name__, __name__}


@pytest.fixture
def planned_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The endpoint of every request a plan handled (its step asked for its arguments)."""
    calls: list[str] = []
    values = routing.Step.values

    async def counted(self: routing.Step, request: Request, *args: Any) -> dict[str, Any]:
        if getattr(self.call, "__module__", None) in ENDPOINT_MODULES:
            calls.append(self.call.__name__)
        return await values(self, request, *args)

    monkeypatch.setattr(routing.Step, "values", counted)
    return calls


def requests(other: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Requests that leave the data as it is, valid and not: every kind of error a task route gives."""
    return [
        ("GET", "/api/tasks", {}),
        ("GET", "/api/tasks?limit=1&offset=1&sort=title&status=pending", {}),
        ("GET", "/api/tasks?limit=0", {}),
        ("GET", "/api/tasks?limit=x&offset=-1&sort=nope&status=done", {}),
        ("GET", "/api/tasks?offset=99999999999", {}),
        ("GET", "/api/tasks?limit=&sort=", {}),
        ("GET", "/api/tasks?limit=1&limit=x", {}),
        ("GET", "/api/tasks/1", {}),
        ("GET", "/api/tasks/abc", {}),
        ("GET", "/api/tasks/01", {}),
        ("GET", "/api/tasks/99999999999", {}),
        ("GET", "/api/tasks", {"headers": {"Authorization": "Bearer not-a-token"}}),
        ("GET", "/api/tasks", {"headers": {"Authorization": "Basic abc"}}),
        ("GET", "/api/tasks", {"headers": {"Authorization": ""}}),
        ("GET", f"/api/{other}/tasks", {}),
        ("GET", "/api/alice/tasks?limit=2", {}),
        ("POST", "/api/tasks", {"json": {}}),
        ("POST", "/api/tasks", {"json": {"title": ""}}),
        ("POST", "/api/tasks", {"json": {"title": "x" * 201}}),
        ("POST", "/api/tasks", {"json": {"title": 3, "description": ["no"]}}),
        ("POST", "/api/tasks", {"json": ["a list"]}),
        ("POST", "/api/tasks", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/api/tasks", {"content": b"\xff\xfe\xfa", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/api/tasks", {"content": b"", "headers": {"Content-Type": "application/json"}}),
        ("POST", f"/api/{other}/tasks", {"json": {"title": "not mine"}}),
        ("PUT", "/api/tasks/1", {"json": {"status": "sideways"}}),
        ("PATCH", "/api/tasks/1", {"json": {"title": "gone"}, "headers": {"If-Match": "garbage"}}),
        ("PATCH", "/api/tasks/1/complete", {"json": {"completed": "maybe"}}),
        ("PATCH", "/api/tasks/424242/complete", {}),
        ("DELETE", "/api/tasks/424242", {"headers": {"If-Match": '"v1"'}}),
        ("DELETE", "/api/tasks/zero", {}),
        ("DELETE", "/api/tasks/", {}),
    ]


@pytest.fixture
async def both(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[httpx.AsyncClient]]:
    """The service twice on one database: task routes planned, and with FastAPI's own handler."""
    async with serving_app(database_url) as (_, planned):
        monkeypatch.setattr(tasks_router, "PlannedRoute", APIRoute)
        async with serving_app(database_url) as (_, fastapis):
            yield [planned, fastapis]


async def test_every_answer_is_the_one_fastapi_gives(
    both: list[httpx.AsyncClient], make_token: TokenFactory, planned_calls: list[str]
) -> None:
    planned = both[0]
    alice = {"Authorization": f"Bearer {make_token('alice')}"}
    created = await planned.post("/api/tasks", json={"title": "seen by both"}, headers=alice)
    assert created.status_code == 201

    for method, url, options in requests(other="bob"):
        headers = alice | options.pop("headers", {})
        answers = [await client.request(method, url, headers=headers, **options) for client in both]
        shapes = [(answer.status_code, answer.content, headers_of(answer)) for answer in answers]
        assert shapes[0] == shapes[1], f"{method} {url}"
    # Only the planned app's requests went through a plan: all but the two bodies that are not
    # JSON and the path no route matches.
    assert len(planned_calls) == 1 + len(requests(other="bob")) - 3
    endpoints = {"list_tasks", "get_task", "create_task", "update_task", "complete_task", "delete_task"}
    assert set(planned_calls) == endpoints


async def test_every_task_route_is_planned(
    database_url: str, make_token: TokenFactory, planned_calls: list[str]
) -> None:
    alice = {"Authorization": f"Bearer {make_token('alice')}"}
    async with serving_app(database_url) as (_, client):
        task = (await client.post("/api/alice/tasks", json={"title": "t"}, headers=alice)).json()
        paths = [f"/api/tasks/{task['id']}", f"/api/alice/tasks/{task['id']}"]
        for path in paths:
            assert (await client.get(path, headers=alice)).status_code == 200
            assert (await client.put(path, json={"title": "u"}, headers=alice)).status_code == 200
            assert (await client.patch(path, json={"title": "v"}, headers=alice)).status_code == 200
            assert (await client.patch(f"{path}/complete", headers=alice)).status_code == 200
        assert (await client.get("/api/tasks", headers=alice)).status_code == 200
        assert (await client.delete(paths[0], headers=alice)).status_code == 204

    per_path = ["get_task", "update_task", "update_task", "complete_task"]
    assert planned_calls == ["create_task", *per_path, *per_path, "list_tasks", "delete_task"]


async def test_dependency_overrides_reach_the_routes_added_to_the_app(
    database_url: str, make_token: TokenFactory
) -> None:
    # The task routes sit in the app's own router (add_routes), not in an included one; a
    # test's override must still replace their dependencies.
    alice = {"Authorization": f"Bearer {make_token('alice')}"}
    async with serving_app(database_url) as (app, client):
        app.dependency_overrides[max_tasks_per_user] = lambda: 1
        first = await client.post("/api/tasks", json={"title": "within the quota"}, headers=alice)
        second = await client.post("/api/tasks", json={"title": "over the quota"}, headers=alice)

    assert (first.status_code, second.status_code) == (201, 409)


def test_plain_parameters_are_read_without_fastapis_general_function() -> None:
    route = next(
        route
        for route in tasks_router.build_router("/api/tasks").routes
        if isinstance(route, APIRoute) and route.name == "list_tasks"
    )
    step = routing.plan(route.dependant, embed_body_fields=False)
    (query,) = step.params
    assert query.scalars is not None
    assert [(scalar.key, scalar.loc) for scalar in query.scalars] == [
        (name, ("query", name)) for name in ("status", "sort", "limit", "offset")
    ]


def test_a_default_is_copied_per_request_unless_its_type_is_immutable() -> None:
    class Tag(str):  # a subclass could carry state of its own
        pass

    shared = Tag("shared")

    async def endpoint(
        tag: Annotated[str, Query()] = shared, limit: Annotated[int, Query()] = 10
    ) -> Response:
        return Response(tag)

    route = routing.PlannedRoute("/x", endpoint)
    (query,) = routing.plan(route.dependant, embed_body_fields=False).params
    assert query.scalars is not None
    values: dict[str, Any] = {}
    for scalar in query.scalars:
        scalar.read({}, values, [])

    assert values["tag"] == shared
    assert values["tag"] is not shared
    assert values["limit"] == 10
    assert [scalar.copy_default for scalar in query.scalars] == [True, False]


@pytest.mark.parametrize("query", ["", "?", "?other=1", "?needed=x", "?needed=x&checked=5", "?checked=-1"])
async def test_parameters_not_sent_are_answered_as_fastapi_answers_them(query: str) -> None:
    # An empty query string takes a shorter path through the plan than one with names in it.
    async def endpoint(
        needed: Annotated[str, Query()],
        checked: Annotated[int, Query(ge=0, validate_default=True)] = -1,
        plain: Annotated[int, Query()] = 10,
    ) -> Response:
        return Response(f"{needed} {checked} {plain}")

    answers = []
    for route_class in (routing.PlannedRoute, APIRoute):
        app = FastAPI()
        app.router.routes.append(route_class("/x", endpoint, methods=["GET"]))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answer = await client.get(f"/x{query}")
        answers.append((answer.status_code, answer.content))

    assert answers[0] == answers[1]


def test_a_list_parameter_is_read_by_fastapis_own_function() -> None:
    async def endpoint(tag: Annotated[list[str], Query()]) -> Response:
        return Response(",".join(tag))

    route = routing.PlannedRoute("/x", endpoint)
    (query,) = routing.plan(route.dependant, embed_body_fields=False).params
    assert query.scalars is None


def test_a_yield_dependency_keeps_fastapis_handler() -> None:
    async def session() -> AsyncIterator[str]:
        yield "session"

    async def endpoint(value: str = Depends(session)) -> Response:
        return Response(value)

    route = routing.PlannedRoute("/x", endpoint)
    with pytest.raises(routing.Unplannable):
        routing.plan(route.dependant, embed_body_fields=False)


async def test_dependencies_of_the_inclusion_run_on_a_planned_route(planned_calls: list[str]) -> None:
    # FastAPI hands an included route the dependencies of its inclusion separately; a plan
    # that missed them would skip a router-wide authorization check.
    async def refuse() -> None:
        raise Forbidden("refused by the inclusion")

    async def endpoint() -> Response:
        return Response("reached")

    router = APIRouter(route_class=routing.PlannedRoute)
    router.add_api_route("/guarded", endpoint, methods=["GET"])
    app = FastAPI()
    install_error_handlers(app, admit=lambda request: _nothing())
    app.include_router(router, prefix="/api", dependencies=[Depends(refuse)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/api/guarded")

    assert (response.status_code, response.json()) == (403, {"detail": "refused by the inclusion"})
    assert planned_calls == ["endpoint", "refuse"]  # the endpoint's step, and its dependency's


async def test_a_planned_route_is_served_without_fastapis_exit_stacks() -> None:
    # The stacks exist for `yield` dependencies, which a plan has none of; an error the endpoint
    # raises still reaches the app's handlers, and with overrides set FastAPI serves the request.
    async def endpoint(request: Request, fail: bool = False) -> Response:
        if fail:
            raise Forbidden("raised by the endpoint")
        return Response(str("fastapi_function_astack" in request.scope))

    async def unused() -> None:
        return None

    app = FastAPI()
    install_error_handlers(app, admit=lambda request: _nothing())
    app.router.routes.append(routing.PlannedRoute("/stacks", endpoint, methods=["GET"]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        planned = await client.get("/stacks")
        failed = await client.get("/stacks?fail=true")
        app.dependency_overrides[unused] = unused
        overridden = await client.get("/stacks")

    assert planned.text == "False"
    assert (failed.status_code, failed.json()) == (403, {"detail": "raised by the endpoint"})
    assert overridden.text == "True"


def headers_of(answer: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in answer.headers.items() if name not in VARYING}


async def _nothing() -> None:
    return None
