"""The official MCP Python SDK client against a running `todo-api serve`, as two users."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.assistants.conftest import error_text, mcp_session, new_user, structured
from tests.conftest import TokenFactory
from tests.interop.service_driver import TodoService
from todo_api.assistants.catalogue import NAMES_A_USER

pytestmark = pytest.mark.slow
TOOLS = {"add_task", "list_tasks", "get_task", "update_task", "complete_task", "delete_task"}
ID_TOOLS = {
    "get_task": {},
    "update_task": {"title": "taken over"},
    "complete_task": {},
    "delete_task": {},
}


def mcp_url(service: TodoService) -> str:
    return f"{service.base_url}/mcp"


async def test_the_tools_are_listed_with_input_and_output_schemas(
    mcp_service: TodoService, make_token: TokenFactory
) -> None:
    async with mcp_session(mcp_url(mcp_service), make_token(new_user())) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description
        assert "  " not in tool.description
        assert "\n" not in tool.description
        assert tool.output_schema is not None
        assert "user_id" not in tool.input_schema["properties"]
    title = tools["add_task"].input_schema["properties"]["title"]
    assert title["type"] == "string"
    assert "1 to 200 characters" in title["description"]
    limit = tools["list_tasks"].input_schema["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"]) == (1, 1000)
    assert tools["list_tasks"].input_schema["properties"]["status"]["enum"] == [
        "all",
        "pending",
        "in_progress",
        "completed",
    ]
    assert set(tools["list_tasks"].output_schema["properties"]) == {"tasks", "total"}


async def test_a_user_adds_lists_completes_updates_and_deletes(
    mcp_service: TodoService, make_token: TokenFactory
) -> None:
    user = new_user()
    async with mcp_session(mcp_url(mcp_service), make_token(user)) as session:
        milk = structured(await session.call_tool("add_task", {"title": "Buy milk"}))
        bread = structured(await session.call_tool("add_task", {"title": "Bake bread", "description": "rye"}))
        assert (milk["user_id"], milk["status"], milk["completed"]) == (user, "pending", False)

        done = structured(await session.call_tool("complete_task", {"task_id": milk["id"]}))
        assert (done["status"], done["completed"]) == ("completed", True)

        completed = structured(await session.call_tool("list_tasks", {"status": "completed"}))
        assert [task["id"] for task in completed["tasks"]] == [milk["id"]]
        assert completed["total"] == 1
        pending = structured(await session.call_tool("list_tasks", {"status": "pending"}))
        assert [task["id"] for task in pending["tasks"]] == [bread["id"]]

        renamed = structured(
            await session.call_tool(
                "update_task", {"task_id": bread["id"], "title": "Bake sourdough", "status": "in_progress"}
            )
        )
        assert (renamed["title"], renamed["description"], renamed["status"]) == (
            "Bake sourdough",
            "rye",
            "in_progress",
        )
        reopened = structured(
            await session.call_tool("complete_task", {"task_id": milk["id"], "completed": False})
        )
        assert reopened["status"] == "pending"

        deleted = structured(await session.call_tool("delete_task", {"task_id": milk["id"]}))
        assert deleted == {"deleted_task_id": milk["id"]}
        left = structured(await session.call_tool("list_tasks", {}))
        assert [task["id"] for task in left["tasks"]] == [bread["id"]]
        fetched = structured(await session.call_tool("get_task", {"task_id": bread["id"]}))
        assert fetched == renamed

    # The same rows the REST routes serve.
    with mcp_service.client(make_token(user)) as rest:
        assert [task["title"] for task in rest.get("/api/tasks").json()] == ["Bake sourdough"]


async def test_another_users_task_is_not_found_for_every_tool_that_takes_an_id(
    mcp_service: TodoService, make_token: TokenFactory
) -> None:
    owner, other = new_user(), new_user()
    async with mcp_session(mcp_url(mcp_service), make_token(owner)) as session:
        task = structured(await session.call_tool("add_task", {"title": "mine"}))

    async with mcp_session(mcp_url(mcp_service), make_token(other)) as session:
        for tool, arguments in ID_TOOLS.items():
            theirs = await session.call_tool(tool, {"task_id": task["id"], **arguments})
            missing = await session.call_tool(tool, {"task_id": 2_000_000_000, **arguments})
            assert error_text(theirs) == error_text(missing) == "Task not found"
        assert structured(await session.call_tool("list_tasks", {}))["total"] == 0

    async with mcp_session(mcp_url(mcp_service), make_token(owner)) as session:
        untouched = structured(await session.call_tool("get_task", {"task_id": task["id"]}))
    assert untouched == task


async def test_no_tool_takes_a_user_id(mcp_service: TodoService, make_token: TokenFactory) -> None:
    owner, other = new_user(), new_user()
    async with mcp_session(mcp_url(mcp_service), make_token(owner)) as session:
        task = structured(await session.call_tool("add_task", {"title": "the owner's"}))
    async with mcp_session(mcp_url(mcp_service), make_token(other)) as session:
        added = await session.call_tool("add_task", {"title": "t", "user_id": owner})
        listed = await session.call_tool("list_tasks", {"user_id": owner})
        completed = await session.call_tool("complete_task", {"task_id": task["id"], "user_id": owner})
        theirs = structured(await session.call_tool("list_tasks", {}))
    async with mcp_session(mcp_url(mcp_service), make_token(owner)) as session:
        owners = structured(await session.call_tool("list_tasks", {}))

    # Refused in one sentence, as the chat agent refuses it, and nothing done.
    refusal = "Invalid arguments: user_id not taken; " + NAMES_A_USER
    assert [error_text(result) for result in (added, listed, completed)] == [refusal] * 3
    assert theirs["total"] == 0
    assert owners["tasks"] == [task]


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("add_task", {"title": ""}),
        ("add_task", {"title": "   "}),
        ("add_task", {"title": "x" * 201}),
        ("add_task", {}),
        ("add_task", {"title": 7}),
        ("update_task", {"task_id": 1}),
        ("get_task", {"task_id": 0}),
        ("get_task", {"task_id": "1"}),
        ("list_tasks", {"status": "done"}),
        ("list_tasks", {"limit": 1001}),
    ],
)
async def test_invalid_arguments_are_a_tool_error(
    mcp_service: TodoService, make_token: TokenFactory, tool: str, arguments: dict[str, object]
) -> None:
    async with mcp_session(mcp_url(mcp_service), make_token(new_user())) as session:
        result = await session.call_tool(tool, arguments)
        assert structured(await session.call_tool("list_tasks", {}))["total"] == 0

    assert error_text(result)


async def test_an_empty_title_says_what_is_wrong(mcp_service: TodoService, make_token: TokenFactory) -> None:
    async with mcp_session(mcp_url(mcp_service), make_token(new_user())) as session:
        message = error_text(await session.call_tool("add_task", {"title": ""}))

    assert message == "Invalid arguments: title: String should have at least 1 character"


def post_initialize(service: TodoService, headers: dict[str, str]) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    return httpx.post(mcp_url(service), json=body, headers=accept | headers, timeout=10)


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, "Bearer resource_metadata="),
        ({"Authorization": "Bearer not-a-token"}, 'Bearer error="invalid_token", resource_metadata='),
    ],
)
def test_without_a_valid_token_it_is_a_401_pointing_to_the_metadata(
    mcp_service: TodoService, headers: dict[str, str], challenge: str
) -> None:
    response = post_initialize(mcp_service, headers)

    assert response.status_code == 401
    metadata_url = f"{mcp_service.base_url}/.well-known/oauth-protected-resource"
    assert response.headers["WWW-Authenticate"] == f'{challenge}"{metadata_url}"'
    assert set(response.json()) == {"detail"}


def test_the_sdk_client_refuses_to_go_on_without_a_valid_token(
    mcp_service: TodoService, make_token: TokenFactory
) -> None:
    expired = make_token(new_user(), ttl_seconds=-60)
    response = post_initialize(mcp_service, {"Authorization": f"Bearer {expired}"})

    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]
)
def test_the_protected_resource_document_names_the_resource(mcp_service: TodoService, path: str) -> None:
    response = httpx.get(mcp_service.base_url + path, timeout=10)

    assert response.status_code == 200
    document = json.loads(response.text)
    assert document["resource"] == f"{mcp_service.base_url}/mcp"
    assert document["bearer_methods_supported"] == ["header"]


def test_an_mcp_answer_carries_the_security_headers(
    mcp_service: TodoService, make_token: TokenFactory
) -> None:
    response = post_initialize(mcp_service, {"Authorization": f"Bearer {make_token(new_user())}"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Mcp-Session-Id" not in response.headers
