"""The audit log: one JSON line per request, failures as distinct events, and no secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import SECRET, TokenFactory, make_settings
from todo_api.logs import JSONFormatter
from todo_api.main import create_app

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
