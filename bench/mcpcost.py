"""What one MCP `tools/call` costs next to the equivalent REST request, measured in-process.

Both go through the whole app (middleware, authentication, rate limit, the same service call
on the same row) over an ASGI client, without sockets: the difference is what the MCP layer
(JSON-RPC, the SDK's per-request transport, argument and output validation) adds per call.
`python -m bench.mcpcost` runs it alone, briefly.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from todo_api.config import Settings
from todo_api.main import create_app
from todo_api.migrations import upgrade_database
from todo_api.tokens import create_token

PASSES = 7
CALLS_PER_PASS = 200
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}


async def _timed_passes(call: Callable[[], Awaitable[httpx.Response]], calls: int) -> list[float]:
    await call()  # warm: statements compiled, token cached
    timings = []
    for _ in range(PASSES):
        started = time.perf_counter()
        for _ in range(calls):
            response = await call()
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
        timings.append(time.perf_counter() - started)
    return timings


async def _measure(settings: Settings, calls: int) -> dict[str, list[float]]:
    await upgrade_database(settings)
    app = create_app(settings)
    assert settings.better_auth_secret is not None
    token = create_token("bench-user", settings.better_auth_secret.get_secret_value(), ttl_seconds=3600)
    auth = {"Authorization": f"Bearer {token}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=auth) as client:
            task_id = (await client.post("/api/tasks", json={"title": "measured"})).json()["id"]
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "get_task", "arguments": {"task_id": task_id}},
            }

            async def rest() -> httpx.Response:
                return await client.get(f"/api/tasks/{task_id}")

            async def mcp() -> httpx.Response:
                response = await client.post("/mcp", json=body, headers=MCP_HEADERS)
                if response.json()["result"].get("isError"):
                    raise RuntimeError(response.text[:200])
                return response

            return {"rest": await _timed_passes(rest, calls), "mcp": await _timed_passes(mcp, calls)}


def measure(calls: int = CALLS_PER_PASS) -> dict[str, float]:
    """µs per call: `GET /api/tasks/{id}` and the MCP `tools/call` of `get_task` for the same task.

    Best of several passes (the least disturbed on a shared machine), medians kept too; SQLite
    in a temporary directory, rate limits off (as for the load runs).
    """
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(
            database_url=f"sqlite:///{Path(directory) / 'bench.db'}",
            better_auth_secret=secrets.token_urlsafe(48),
            rate_limit_enabled=False,
            _env_file=None,  # type: ignore[call-arg]
        )
        timings = asyncio.run(_measure(settings, calls))
    per_call = 1e6 / calls
    rest, mcp = timings["rest"], timings["mcp"]
    return {
        "rest_get_us": round(min(rest) * per_call, 1),
        "rest_get_median_us": round(statistics.median(rest) * per_call, 1),
        "mcp_get_us": round(min(mcp) * per_call, 1),
        "mcp_get_median_us": round(statistics.median(mcp) * per_call, 1),
        "mcp_over_rest": round(min(mcp) / min(rest), 2),
    }


if __name__ == "__main__":
    print(measure())
