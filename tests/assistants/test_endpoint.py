"""/mcp inside the app: the same limits and logs as the REST routes, and the metadata document."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.conftest import PRODUCTION_SECRET, SECRET, TokenFactory, answered_within, make_settings, serving
from todo_api.assistants.catalogue import NAMES_A_USER
from todo_api.hardening import MAX_BODY_BYTES
from todo_api.main import create_app
from todo_api.tokens import create_token

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A JSON-RPC tools/call request (a stateless server needs no initialize first)."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


async def call_tool(
    client: httpx.AsyncClient, token: str, name: str, arguments: dict[str, Any], **headers: str
) -> httpx.Response:
    return await client.post(
        "/mcp",
        json=tool_call(name, arguments),
        headers=MCP_HEADERS | {"Authorization": f"Bearer {token}"} | headers,
    )


async def test_over_the_write_limit_a_tool_call_is_a_tool_error(
    database_url: str, make_token: TokenFactory
) -> None:
    async with serving(database_url, rate_limit_enabled=True, rate_limit_writes="2/minute") as client:
        token = make_token("alice")
        answers = [await call_tool(client, token, "add_task", {"title": f"t{n}"}) for n in range(3)]
        listed = await call_tool(client, token, "list_tasks", {})

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    results = [answer.json()["result"] for answer in answers]
    assert [result["isError"] for result in results] == [False, False, True]
    assert "Too many requests, retry in" in results[2]["content"][0]["text"]
    # Reads have their own limit, as on the REST routes.
    assert listed.json()["result"]["structuredContent"]["total"] == 2


async def test_the_access_log_shows_the_mcp_request_and_its_user_but_no_token(
    database_url: str, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = make_token("alice")
    async with serving(database_url) as client:
        response = await call_tool(client, token, "list_tasks", {})

    assert response.status_code == 200
    access = [record for record in caplog.records if record.name == "todo_api.access"]
    assert [(record.path, record.status, record.user_id) for record in access] == [("/mcp", 200, "alice")]  # type: ignore[attr-defined]
    everything = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    assert token not in everything


async def test_a_body_over_the_limit_is_a_413(database_url: str, make_token: TokenFactory) -> None:
    huge = tool_call("add_task", {"title": "t", "description": "x" * MAX_BODY_BYTES})
    async with serving(database_url) as client:
        declared = await client.post(
            "/mcp", json=huge, headers=MCP_HEADERS | {"Authorization": f"Bearer {make_token('alice')}"}
        )

        async def chunks() -> Any:
            body = httpx.Request("POST", "/", json=huge).content
            for start in range(0, len(body), 65536):
                yield body[start : start + 65536]

        chunked = await client.post(
            "/mcp",
            content=chunks(),
            headers=MCP_HEADERS
            | {"Authorization": f"Bearer {make_token('alice')}", "Content-Type": "application/json"},
        )

    assert (declared.status_code, chunked.status_code) == (413, 413)


async def test_a_page_on_an_untrusted_origin_is_refused(database_url: str, make_token: TokenFactory) -> None:
    token = make_token("alice")
    async with serving(database_url, cors_origins=["https://app.example.com"]) as client:
        foreign = await call_tool(client, token, "list_tasks", {}, Origin="https://evil.example.com")
        trusted = await call_tool(client, token, "list_tasks", {}, Origin="https://app.example.com")

    assert foreign.status_code == 403
    assert trusted.status_code == 200


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com.evil.example",
        "https://app.example.com:8443",
        "https://app.example.com/",
        "https://app.example.comevil.example",
        "http://app.example.com",
        "https://APP.example.com.evil.example",
    ],
)
async def test_an_origin_that_only_begins_like_a_trusted_one_is_refused(
    database_url: str, make_token: TokenFactory, origin: str
) -> None:
    token = make_token("alice")
    async with serving(database_url, cors_origins=["https://app.example.com"]) as client:
        refused = await call_tool(client, token, "add_task", {"title": "planted"}, Origin=origin)
        listed = await call_tool(client, token, "list_tasks", {}, Origin="https://app.example.com")

    assert refused.status_code == 403
    assert refused.json() == {"detail": "This Origin may not call /mcp"}
    assert listed.json()["result"]["structuredContent"]["total"] == 0


async def test_an_id_beyond_the_database_range_is_a_tool_error_not_a_driver_error(
    database_url: str, make_token: TokenFactory
) -> None:
    async with serving(database_url) as client:
        response = await call_tool(client, make_token("alice"), "get_task", {"task_id": 2**40})

    result = response.json()["result"]
    assert result["isError"] is True
    assert "less than or equal to 2147483647" in result["content"][0]["text"]


@pytest.mark.parametrize(
    ("overrides", "authorization_server"),
    [
        ({"better_auth_url": "https://auth.example.com/"}, "https://auth.example.com"),
        ({"builtin_auth": True}, "http://testserver"),
    ],
)
async def test_the_metadata_names_the_authorization_server(
    database_url: str, overrides: dict[str, Any], authorization_server: str
) -> None:
    async with serving(database_url, **overrides) as client:
        response = await client.get("/.well-known/oauth-protected-resource")

    assert response.json() == {
        "resource": "http://testserver/mcp",
        "resource_name": "todo-api",
        "bearer_methods_supported": ["header"],
        "authorization_servers": [authorization_server],
    }


async def test_a_builtin_session_token_is_a_bearer_on_mcp_too(database_url: str) -> None:
    async with serving(database_url, builtin_auth=True) as client:
        signed_up = await client.post(
            "/api/auth/sign-up/email",
            json={"name": "Alice", "email": "alice@example.com", "password": "placeholder-password-123"},
        )
        token = signed_up.json()["token"]
        added = await call_tool(client, token, "add_task", {"title": "from a session"})

    assert added.json()["result"]["structuredContent"]["user_id"] == signed_up.json()["user"]["id"]


async def test_the_app_starts_and_stops_from_different_tasks_and_starts_again(database_url: str) -> None:
    # Test fixtures enter a lifespan in one task and leave it in another; servers may restart.
    app = create_app(make_settings(database_url))
    for _ in range(2):
        lifespan = app.router.lifespan_context(app)
        await asyncio.create_task(lifespan.__aenter__())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            answer = await call_tool(client, create_token("alice", SECRET, ttl_seconds=60), "list_tasks", {})
        await asyncio.create_task(lifespan.__aexit__(None, None, None))
        assert answer.json()["result"]["structuredContent"] == {"tasks": [], "total": 0}


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("POST", b"not json"),
        ("POST", b"[]"),
        ("POST", b'{"jsonrpc": "2.0"}'),
        ("POST", b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "no_such_tool"}}'),
        (
            "POST",
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", '
            b'"params": {"name": "add_task", "arguments": "x"}}',
        ),
        (
            "POST",
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", '
            b'"params": {"name": "add_task", "arguments": {"title": "\\u0000"}}}',
        ),
        ("POST", b'{"jsonrpc": "2.0", "id": 1, "method": "no/such/method"}'),
    ],
)
async def test_no_request_is_answered_with_a_500_or_internals(
    database_url: str, make_token: TokenFactory, method: str, body: bytes
) -> None:
    headers = MCP_HEADERS | {
        "Authorization": f"Bearer {make_token('alice')}",
        "Content-Type": "application/json",
    }
    async with serving(database_url) as client:
        response = await client.request(method, "/mcp", content=body, headers=headers)

    assert response.status_code < 500, response.text
    for internal in ("Traceback", "sqlalchemy", "sqlite", "asyncpg", 'File "'):
        assert internal not in response.text


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_a_stateless_server_offers_no_stream_and_no_session_to_end(
    database_url: str, make_token: TokenFactory, method: str
) -> None:
    # A GET would otherwise open a server-to-client stream that nothing ever writes to or ends.
    headers = MCP_HEADERS | {"Authorization": f"Bearer {make_token('alice')}"}
    async with serving(database_url) as client:
        response = await answered_within(client.request(method, "/mcp", headers=headers), seconds=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


# Run in a fresh interpreter: this test process has imported the MCP SDK long ago, and pytest
# has put handlers on the root logger, which make the SDK's `logging.basicConfig` a no-op.
IN_A_FRESH_PROCESS = """
import asyncio, json, logging, sys
import httpx
from tests.conftest import SECRET, make_settings
from todo_api.main import create_app
from todo_api.tokens import create_token

async def main():
    app = create_app(make_settings(database_url=sys.argv[1]))
    headers = {"Authorization": "Bearer " + create_token("alice", SECRET, ttl_seconds=60)}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    ) as client:
        rest = await client.get("/api/tasks")
        print("rest", rest.status_code, "mcp" in sys.modules)
        answer = await client.post("/mcp", headers=json.loads(sys.argv[2]), json=json.loads(sys.argv[3]))
        print("mcp", answer.status_code, "mcp" in sys.modules, len(answer.json()["result"]["tools"]))
    root = logging.getLogger()
    print("logging", len(root.handlers), logging.getLevelName(root.level))

asyncio.run(main())
"""


def run_in_a_fresh_process(database_url: str) -> list[list[str]]:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            IN_A_FRESH_PROCESS,
            database_url,
            json.dumps(MCP_HEADERS),
            json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split() for line in result.stdout.splitlines()]


def test_the_mcp_sdk_is_loaded_by_the_first_mcp_request_not_by_the_app(database_url: str) -> None:
    # A worker that serves only the REST routes does without the SDK's memory.
    rest, mcp, _ = run_in_a_fresh_process(database_url)
    assert rest == ["rest", "200", "False"]
    assert mcp == ["mcp", "200", "True", "6"]


def test_starting_the_mcp_server_leaves_the_process_logging_alone(database_url: str) -> None:
    # The MCP SDK would call logging.basicConfig (a Rich handler at INFO on the root logger)
    # and so print every access line of a process that never asked for them.
    *_, logging_after = run_in_a_fresh_process(database_url)
    assert logging_after == ["logging", "0", "WARNING"]


async def listed_tools(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers=MCP_HEADERS | {"Authorization": f"Bearer {token}"},
    )


async def test_no_tool_schema_has_a_pattern_and_the_title_rule_is_in_words(
    database_url: str, make_token: TokenFactory
) -> None:
    # The schemas go to language models: a 300-character regex is noise to them.
    async with serving(database_url) as client:
        response = await listed_tools(client, make_token("alice"))

    assert '"pattern"' not in response.text
    tools = {tool["name"]: tool for tool in response.json()["result"]["tools"]}
    for tool, argument in (("add_task", "title"), ("update_task", "title")):
        schema = tools[tool]["inputSchema"]["properties"][argument]
        title = schema["anyOf"][0] if "anyOf" in schema else schema
        assert title["type"] == "string"
        assert title["minLength"] == 1
        assert "1 to 200 characters" in schema["description"]


@pytest.mark.parametrize(
    ("tool", "arguments", "refused"),
    [
        ("add_task", {"title": "t", "user_id": "alice"}, "user_id"),
        ("list_tasks", {"user_id": "alice"}, "user_id"),
        ("delete_task", {"task_id": 1, "owner": "alice", "user_id": "alice"}, "owner, user_id"),
    ],
)
async def test_an_argument_a_tool_does_not_take_is_refused_and_nothing_is_done(
    database_url: str, make_token: TokenFactory, tool: str, arguments: dict[str, Any], refused: str
) -> None:
    async with serving(database_url) as client:
        alices = await call_tool(client, make_token("alice"), "add_task", {"title": "alice's"})
        response = await call_tool(client, make_token("bob"), tool, arguments)
        bobs = await call_tool(client, make_token("bob"), "list_tasks", {})
        still = await call_tool(client, make_token("alice"), "list_tasks", {})

    # The same sentence the chat agent's tools answer (tests/chat/test_isolation.py).
    assert response.json()["result"] == {
        "content": [{"type": "text", "text": f"Invalid arguments: {refused} not taken; {NAMES_A_USER}"}],
        "isError": True,
    }
    assert bobs.json()["result"]["structuredContent"]["total"] == 0
    task = alices.json()["result"]["structuredContent"]
    assert still.json()["result"]["structuredContent"]["tasks"] == [task]


@pytest.mark.parametrize(
    ("tool", "arguments", "sentence"),
    [
        # The REST API's rules and messages (a title is counted once trimmed).
        ("add_task", {"title": ""}, "title: String should have at least 1 character"),
        ("add_task", {"title": " \t "}, "title: String should have at least 1 character"),
        ("add_task", {"title": " " + "x" * 201}, "title: String should have at most 200 characters"),
        ("add_task", {"title": "a\u0000b"}, "title: must not contain NUL characters"),
        ("add_task", {}, "title: Field required"),
        ("add_task", {"title": 7}, "title: Input should be a valid string"),
        (
            "add_task",
            {"title": "t", "description": "d" * 10_001},
            "description: String should have at most 10000 characters",
        ),
        (
            "list_tasks",
            {"status": "done", "limit": 1001},
            "status: Input should be 'all', 'pending', 'in_progress' or 'completed'; "
            "limit: Input should be less than or equal to 1000",
        ),
        ("get_task", {"task_id": "7"}, "task_id: Input should be a valid integer"),
        ("complete_task", {"task_id": 1, "completed": "yes"}, "completed: Input should be a valid boolean"),
        (
            "update_task",
            {"task_id": 1},
            "give at least one of title, description, status, priority, tags, due_date, timezone, "
            "a reminder or a recurrence to change",
        ),
    ],
)
async def test_invalid_arguments_are_one_sentence_without_internals(
    database_url: str, make_token: TokenFactory, tool: str, arguments: dict[str, Any], sentence: str
) -> None:
    async with serving(database_url) as client:
        response = await call_tool(client, make_token("alice"), tool, arguments)

    assert response.json()["result"] == {
        "content": [{"type": "text", "text": f"Invalid arguments: {sentence}"}],
        "isError": True,
    }


INVALID_REQUEST = (
    "Invalid Request: the body must be one JSON-RPC 2.0 message, an object such as "
    '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"[]", -32600, INVALID_REQUEST),
        (b'"x"', -32600, INVALID_REQUEST),
        (b"1", -32600, INVALID_REQUEST),
        (b"null", -32600, INVALID_REQUEST),
        (b"{}", -32600, INVALID_REQUEST),
        (b'{"jsonrpc": "2.0"}', -32600, INVALID_REQUEST),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "tools/list"}', -32600, INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": "x"}', -32600, INVALID_REQUEST),
        # MCP: an id is a string or an integer (the SDK took this one for a notification).
        (b'{"jsonrpc": "2.0", "id": [1], "method": "tools/list"}', -32600, INVALID_REQUEST),
        (b'[{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]', -32600, INVALID_REQUEST),
        # Judged as the REST routes judge a body: the message names the problem and where it is.
        (b"not json", -32700, "Parse error: Expecting value at line 1 column 1"),
        (
            b'{"jsonrpc": "2.0",',
            -32700,
            "Parse error: Expecting property name enclosed in double quotes at line 1 column 19",
        ),
        (b"", -32700, "Parse error: Expecting value at line 1 column 1"),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"n": NaN}}',
            -32700,
            "Parse error: NaN is not a JSON number",
        ),
    ],
)
async def test_a_body_that_is_not_one_json_rpc_message_is_answered_in_one_sentence(
    database_url: str, make_token: TokenFactory, body: bytes, code: int, message: str
) -> None:
    headers = MCP_HEADERS | {
        "Authorization": f"Bearer {make_token('alice')}",
        "Content-Type": "application/json",
    }
    async with serving(database_url) as client:
        response = await client.post("/mcp", content=body, headers=headers)

    assert response.status_code == 400
    assert response.json() == {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 1, "result": {}},
        # JSON-RPC's answer to a request whose id could not be read carries `"id": null`.
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}},
    ],
)
async def test_a_notification_or_a_clients_answer_is_accepted_without_a_reply(
    database_url: str, make_token: TokenFactory, message: dict[str, Any]
) -> None:
    async with serving(database_url) as client:
        response = await client.post(
            "/mcp", json=message, headers=MCP_HEADERS | {"Authorization": f"Bearer {make_token('alice')}"}
        )

    assert (response.status_code, response.content) == (202, b"")


def task_names() -> set[str]:
    return {task.get_name() for task in asyncio.all_tasks()}


async def test_the_session_manager_runs_in_its_own_task_from_the_first_mcp_request_to_shutdown(
    database_url: str, make_token: TokenFactory
) -> None:
    async with serving(database_url) as client:
        before = task_names()
        answer = await call_tool(client, make_token("alice"), "list_tasks", {})
        during = task_names()
    after = task_names()

    assert answer.json()["result"]["structuredContent"] == {"tasks": [], "total": 0}
    assert "mcp session manager" not in before
    assert "mcp session manager" in during
    assert "mcp session manager" not in after


PUBLIC_URL = "https://todo.example.com"
FORGED_HOST = {"Host": "evil.example"}
METADATA_PATHS = ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]


@pytest.mark.parametrize("path", METADATA_PATHS)
@pytest.mark.parametrize(
    ("overrides", "authorization_server"),
    [
        ({"public_url": PUBLIC_URL + "/", "builtin_auth": True}, PUBLIC_URL),
        (
            {"public_url": PUBLIC_URL, "better_auth_url": "https://auth.example.com"},
            "https://auth.example.com",
        ),
        # With built-in accounts BETTER_AUTH_URL is the service's own URL.
        ({"better_auth_url": PUBLIC_URL, "builtin_auth": True}, PUBLIC_URL),
    ],
)
async def test_a_forged_host_changes_neither_the_metadata_nor_the_challenge(
    database_url: str, path: str, overrides: dict[str, Any], authorization_server: str
) -> None:
    async with serving(database_url, **overrides) as client:
        document = await client.get(path, headers=FORGED_HOST)
        refused = await client.post(
            "/mcp", json=tool_call("list_tasks", {}), headers=MCP_HEADERS | FORGED_HOST
        )

    assert document.json() == {
        "resource": f"{PUBLIC_URL}/mcp",
        "resource_name": "todo-api",
        "bearer_methods_supported": ["header"],
        "authorization_servers": [authorization_server],
    }
    assert document.headers["Cache-Control"] == "public, max-age=3600"
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == (
        f'Bearer resource_metadata="{PUBLIC_URL}/.well-known/oauth-protected-resource"'
    )


async def test_in_production_without_a_public_url_the_host_names_nothing(database_url: str) -> None:
    # BETTER_AUTH_URL is a separate Better Auth here, not this service: nothing says where /mcp is.
    settings = {
        "environment": "production",
        "better_auth_url": "https://auth.example.com",
        "better_auth_secret": PRODUCTION_SECRET,
    }
    async with serving(database_url, **settings) as client:
        document = await client.get(METADATA_PATHS[0], headers=FORGED_HOST)
        refused = await client.post(
            "/mcp", json=tool_call("list_tasks", {}), headers=MCP_HEADERS | FORGED_HOST
        )

    assert document.status_code == 404
    assert "evil.example" not in document.text
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
