"""The probes: liveness without the database, readiness from it, at most once a second."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI

from tests.conftest import eventually
from todo_api.db.connection import Database
from todo_api.health import READINESS_REUSED_FOR
from todo_api.state import AppState, get_database


class CountedDatabase:
    """The app's database, counting the pings that reach it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.pings = 0

    async def ping(self) -> None:
        self.pings += 1
        await self.database.ping()


async def test_readiness_asks_the_database_at_most_once_a_second(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    state: AppState = app.state.todo_api
    counted = CountedDatabase(state.database)
    app.dependency_overrides[get_database] = lambda: counted
    started = time.monotonic()

    burst = await asyncio.gather(*(client.get("/health/ready") for _ in range(20)))
    one_by_one = [await client.get("/health/ready") for _ in range(20)]

    elapsed = time.monotonic() - started
    assert [response.status_code for response in [*burst, *one_by_one]] == [200] * 40
    assert counted.pings <= 1 + elapsed / READINESS_REUSED_FOR

    async def asked_again() -> bool:
        return (await client.get("/health/ready")).status_code == 200 and counted.pings > 1

    # A stale answer is not kept: a second on, the database is asked again.
    await eventually(asked_again, "asked again after a second")
