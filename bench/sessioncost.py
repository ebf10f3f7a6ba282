"""What a task request costs authenticated by a Better Auth session token next to a JWT,
measured in-process (no HTTP server, no load generator) on the bench's PostgreSQL database.

A JWT is checked in memory (and cached once verified); a session token is looked up in the
`session` table on every request, so that a sign-out counts at once on every instance. The
difference between the two is that extra query's round trip, and this measures it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx

from todo_api.config import Settings
from todo_api.main import create_app
from todo_api.tokens import create_token

PASSES = 7
USERS = 20
REQUESTS_PER_USER = 10
PASSWORD = "bench-placeholder-password"


def _settings(database_url: str, secret: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        better_auth_secret=secret,
        builtin_auth=True,
        rate_limit_enabled=False,
        migrate_on_startup=False,
        log_level="warning",
    )


async def _sign_up(client: httpx.AsyncClient, number: int) -> tuple[str, str]:
    body = {"name": "Bench", "email": f"bench-session-{number}@example.com", "password": PASSWORD}
    answer = (await client.post("/api/auth/sign-up/email", json=body)).raise_for_status().json()
    client.cookies.clear()  # each request carries exactly the credential it means to
    return answer["user"]["id"], answer["token"]


async def _timed_pass(client: httpx.AsyncClient, headers: list[dict[str, str]]) -> float:
    started = time.perf_counter()
    for _ in range(REQUESTS_PER_USER):
        for header in headers:
            response = await client.get("/api/tasks", params={"limit": 1}, headers=header)
            if response.status_code != 200:
                raise SystemExit(f"bench: session cost: GET /api/tasks answered {response.status_code}")
    return time.perf_counter() - started


async def _measure(database_url: str, secret: str) -> dict[str, list[float]]:
    app = create_app(_settings(database_url, secret))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            users = [await _sign_up(client, number) for number in range(USERS)]
            by_kind = {
                "jwt": [{"Authorization": f"Bearer {create_token(user, secret)}"} for user, _ in users],
                "session": [{"Authorization": f"Bearer {token}"} for _, token in users],
            }
            for headers in by_kind.values():  # warm up: pool, statement cache, token cache
                await _timed_pass(client, headers)
            timings: dict[str, list[float]] = {kind: [] for kind in by_kind}
            for _ in range(PASSES):  # interleaved, so a disturbance hits both alike
                for kind, headers in by_kind.items():
                    timings[kind].append(await _timed_pass(client, headers))
    return timings


def measure(database_url: str, secret: str) -> dict[str, Any]:
    """µs per `GET /api/tasks?limit=1` in-process, best of several passes (median kept too),
    authenticated by a JWT (a cache hit after its first use) and by a session token."""
    timings = asyncio.run(_measure(database_url, secret))
    per_request = 1e6 / (USERS * REQUESTS_PER_USER)
    result: dict[str, Any] = {"requests_per_pass": USERS * REQUESTS_PER_USER}
    for kind, passes in timings.items():
        result[f"{kind}_us"] = round(min(passes) * per_request, 1)
        result[f"{kind}_median_us"] = round(statistics.median(passes) * per_request, 1)
    result["extra_us"] = round(result["session_us"] - result["jwt_us"], 1)
    return result
