"""The audit log: one line per request (JSON for machines, readable for people), failures as
distinct events, and no secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.chat.conftest import PROVIDER_KEY, chat_settings
from tests.chat.model_server import Call, Say, scripted_model
from tests.conftest import PRODUCTION_SECRET, SECRET, TokenFactory, make_settings
from tests.test_cli import HEAD, run, serving
from todo_api.logs import ConsoleFormatter, JSONFormatter
from todo_api.main import create_app
from todo_api.tokens import create_token

DB_PASSWORD = "placeholder-db-password-7f3a"


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JSONFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


async def test_each_request_is_one_json_line_with_its_id(
    client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    response = await client.get("/api/alice/tasks/5", headers=auth("alice") | {"X-Request-ID": "trace-123"})

    requests = [line for line in json_lines(caplog) if line.get("event") == "request"]
    assert len(requests) == 1
    line = requests[0]
    assert response.headers["x-request-id"] == "trace-123"
    assert line["request_id"] == "trace-123"
    assert line["method"] == "GET"
    assert line["path"] == "/api/{user_id}/tasks/{task_id}"
    assert line["status"] == 404
    assert line["user_id"] == "alice"
    assert isinstance(line["duration_ms"], float)


async def test_what_no_route_of_ours_answers_is_logged_by_its_path(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    preflight = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}

    await client.get("/openapi.json")
    await client.options("/api/tasks", headers=preflight)
    await client.get("/no/such/" + "x" * 500)

    requests = [line for line in json_lines(caplog) if line.get("event") == "request"]
    assert [(line["method"], line["path"]) for line in requests] == [
        ("GET", "/openapi.json"),
        ("OPTIONS", "/api/tasks"),
        ("GET", "/no/such/" + "x" * 191),
    ]


async def test_unsafe_request_ids_are_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})

    assert response.headers["x-request-id"] != "bad id\nwith newline"
    assert len(response.headers["x-request-id"]) == 32


async def test_logs_never_contain_tokens_secrets_or_passwords(
    database_url: str, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = make_token("alice")
    expired = make_token("alice", ttl_seconds=-300)
    forged = make_token("alice", secret="forged-secret-" + "x" * 40)
    unreachable = f"postgresql://todo:{DB_PASSWORD}@127.0.0.1:1/todo"
    for url in (database_url, unreachable):
        app = create_app(make_settings(url))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                for token in (good, expired, forged):
                    headers = {"Authorization": f"Bearer {token}"}
                    await client.post("/api/tasks", json={"title": "x"}, headers=headers)
                    await client.get(f"/api/tasks?token={token}", headers=headers)
                await client.get("/api/tasks", headers={"Authorization": "Basic dXNlcjpodW50ZXIy"})

    # The test's own HTTP client logs the URLs it requests (token included, on purpose here);
    # everything else captured is the service's.
    caplog.records[:] = [record for record in caplog.records if record.name != "httpx"]
    text = "\n".join(json.dumps(line) for line in json_lines(caplog))
    events = {line.get("event") for line in json_lines(caplog)}
    assert {"request", "authentication_failed", "database_unavailable"} <= events
    for token in (good, expired, forged):
        assert token not in text
        assert token.split(".")[2] not in text
    assert SECRET not in text
    assert DB_PASSWORD not in text
    assert "dXNlcjpodW50ZXIy" not in text


def test_access_lines_read_as_the_request_for_people() -> None:
    record = logging.makeLogRecord(
        {
            "name": "todo_api.access",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "request",
            "event": "request",
            "method": "GET",
            "path": "/api/tasks/{task_id}",
            "status": 404,
            "duration_ms": 1.25,
            "user_id": "alice",
            "client": None,
        }
    )

    line = ConsoleFormatter().format(record)

    assert line.endswith("INFO    todo_api.access: GET /api/tasks/{task_id} 404 1.25 ms user_id=alice")
    assert "event=" not in line
    assert "client=" not in line


@pytest.mark.parametrize(
    ("value", "shown"),
    [("a b", '"a b"'), ("x\nWARNING forged", '"x\\nWARNING forged"'), ("\x1b[2J", '"\\u001b[2J"')],
)
def test_values_that_are_not_one_plain_word_are_quoted_for_people(value: str, shown: str) -> None:
    record = logging.makeLogRecord(
        {"name": "todo_api.auth", "levelname": "WARNING", "msg": "authentication failed", "reason": value}
    )

    line = ConsoleFormatter().format(record)

    assert line.endswith(f"authentication failed reason={shown}")
    assert "\n" not in line


def migrate_in_a_process(directory: Path, **env: str) -> list[str]:
    """`todo-api migrate` at INFO in a fresh directory: the lines it logged."""
    result = run("migrate", cwd=directory, LOG_LEVEL="info", **env)
    assert result.returncode == 0, result.stderr
    return result.stderr.strip().splitlines()


def test_a_development_process_logs_lines_for_people_without_library_chatter(tmp_path: Path) -> None:
    lines = migrate_in_a_process(tmp_path)

    assert len(lines) == 1, lines
    assert lines[0].endswith(f"INFO    todo_api.migrations: database migrated to_revision={HEAD}")


def test_a_production_process_logs_one_json_object_per_line(tmp_path: Path) -> None:
    lines = migrate_in_a_process(tmp_path, ENVIRONMENT="production", BETTER_AUTH_SECRET=PRODUCTION_SECRET)

    records = [json.loads(line) for line in lines]
    assert [record["event"] for record in records] == ["database_migrated"]
    assert records[0]["from_revision"] is None
    assert records[0]["to_revision"] == HEAD
    assert records[0]["level"] == "info"


def test_log_format_overrides_the_environments_default(tmp_path: Path) -> None:
    lines = migrate_in_a_process(tmp_path, LOG_FORMAT="json")

    assert json.loads(lines[0])["event"] == "database_migrated"
    assert migrate_in_a_process(tmp_path, LOG_FORMAT="json") == []  # nothing left to migrate


def test_drivers_never_log_statements_and_their_values_even_at_debug(tmp_path: Path) -> None:
    # At DEBUG, aiosqlite logs every statement with its parameters (hashes, tokens): a process
    # at LOG_LEVEL=debug must still not write them.
    result = run("migrate", cwd=tmp_path, LOG_LEVEL="debug")

    assert result.returncode == 0, result.stderr
    assert "aiosqlite" not in result.stderr
    assert "INSERT INTO alembic_version" not in result.stderr


@pytest.mark.parametrize("level", ["info", "debug"])
def test_a_served_process_never_logs_tokens(tmp_path: Path, level: str) -> None:
    # In-process tests never run uvicorn's own loggers; its access line would carry the raw
    # query string. Only a served process shows what an operator's log really holds.
    token = create_token("alice", SECRET, ttl_seconds=300)
    with serving(tmp_path, LOG_LEVEL=level, BETTER_AUTH_SECRET=SECRET) as (process, base_url):
        in_query = httpx.get(f"{base_url}/api/tasks", params={"token": token})
        in_header = httpx.get(f"{base_url}/api/tasks", headers={"Authorization": f"Bearer {token}"})
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=15)

    assert (in_query.status_code, in_header.status_code) == (401, 200)
    assert process.returncode == 0
    # Both requests were logged (by our access line, which names the route, not the URL) ...
    assert "GET /api/tasks 401" in stderr, stderr
    assert "GET /api/tasks 200" in stderr, stderr
    # ... and no part of the token was.
    for part in (token, token.split(".")[2]):
        assert part not in stderr
        assert part not in stdout


# A process that logs as `todo-api serve` sets it up, and chats: one answer whole, one streamed.
CHATTING_PROCESS = """
import asyncio, json, sys
import httpx
from tests.conftest import SECRET, make_settings
from todo_api.logs import configure_logging
from todo_api.main import create_app

async def main():
    configure_logging(sys.argv[3], json_lines=True)
    app = create_app(make_settings(database_url=sys.argv[1], **json.loads(sys.argv[2])))
    headers = {"Authorization": "Bearer " + sys.argv[4]}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers, timeout=60
    ) as client:
        whole = await client.post("/api/chat", json={"message": "secret-question-text"})
        streamed = await client.post(
            "/api/chat",
            json={"message": "second-secret-question", "conversation_id": whole.json()["conversation_id"]},
            headers={"Accept": "text/event-stream"},
        )
        print(whole.status_code, streamed.status_code, "secret-answer-text" in streamed.text)

asyncio.run(main())
"""


@pytest.mark.parametrize("level", ["info", "debug"])
async def test_a_chat_turn_logs_no_line_of_the_http_or_model_clients_and_no_content(
    database_url: str, make_token: TokenFactory, level: str
) -> None:
    token = make_token("alice")
    async with scripted_model() as model:
        model.answer(
            Say("first-secret-answer"),
            Call(("add_task", {"title": "secret-task-title"})),
            Say("secret-answer-text"),
        )
        settings = json.dumps({key: str(value) for key, value in chat_settings(model).items()})
        command = [sys.executable, "-c", CHATTING_PROCESS, database_url, settings, level, token]
        # The model's server answers in this event loop while the other process waits on it.
        result = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, timeout=120, check=False
        )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "200", "True"]
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    loggers = {line["logger"] for line in lines}
    turns = [line for line in lines if line.get("event") == "chat_turn"]
    assert [turn["tool_calls"] for turn in turns] == [[], ["add_task"]]
    # Not one line per model call (or per request of the test's own client) from the HTTP
    # clients at INFO, and never the model client's requests or httpcore's headers, even at DEBUG.
    quiet = ("openai", "httpcore") if level == "debug" else ("openai", "httpcore", "httpx")
    assert [name for name in loggers if name.startswith(quiet)] == []
    for secret in (
        "secret-question-text",
        "second-secret-question",
        "first-secret-answer",
        "secret-task-title",
        "secret-answer-text",
        PROVIDER_KEY,
        token,
        token.split(".")[2],
    ):
        assert secret not in result.stderr
