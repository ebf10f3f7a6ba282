"""Concurrency and database faults on real PostgreSQL: nothing lost, nothing hangs, no 500."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Database, make_settings
from tests.proxy import Proxy
from todo_api.main import create_app

Auth = Callable[[str], dict[str, str]]


@pytest.fixture
def postgres_url(database: Database, database_url: str) -> str:
    if not database.is_postgres:
        pytest.skip("concurrency and fault tests need PostgreSQL (set TEST_DATABASE_URL)")
    return database_url


@asynccontextmanager
async def serving(database_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = {"rate_limit_enabled": False} | overrides
    app = create_app(make_settings(database_url, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            yield client


async def rows(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(
        make_url(database_url).set(drivername="postgresql").render_as_string(False)
    )
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def test_200_concurrent_creates_over_20_users_give_200_owned_rows(
    postgres_url: str, auth: Auth
) -> None:
    async with serving(postgres_url) as client:
        responses = await asyncio.gather(
            *(
                client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth(f"user-{i % 20}"))
                for i in range(200)
            )
        )

    assert [r.status_code for r in responses] == [201] * 200
    stored = await rows(postgres_url, "SELECT id, user_id, title FROM task")
    assert len(stored) == 200
    by_id = {row["id"]: row for row in stored}
    for index, response in enumerate(responses):
        task = response.json()
        assert by_id[task["id"]]["user_id"] == f"user-{index % 20}"
        assert by_id[task["id"]]["title"] == f"t{index}"


async def test_101_concurrent_toggles_leave_the_task_flipped(postgres_url: str, auth: Auth) -> None:
    async with serving(postgres_url) as client:
        task = (await client.post("/api/tasks", json={"title": "flip"}, headers=auth("alice"))).json()
        responses = await asyncio.gather(
            *(client.patch(f"/api/tasks/{task['id']}/complete", headers=auth("alice")) for _ in range(101))
        )
        final = (await client.get(f"/api/tasks/{task['id']}", headers=auth("alice"))).json()

    assert [r.status_code for r in responses] == [200] * 101
    assert final["completed"] is True
    assert sum(r.json()["completed"] for r in responses) == 51


async def test_concurrent_delete_and_update_agree_with_the_final_state(postgres_url: str, auth: Auth) -> None:
    async with serving(postgres_url) as client:
        for round_number in range(20):
            task = (await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice"))).json()
            url = f"/api/tasks/{task['id']}"
            deleted, updated, deleted_again = await asyncio.gather(
                client.delete(url, headers=auth("alice")),
                client.patch(url, json={"title": f"round {round_number}"}, headers=auth("alice")),
                client.delete(url, headers=auth("alice")),
            )
            final = await client.get(url, headers=auth("alice"))

            assert sorted([deleted.status_code, deleted_again.status_code]) == [204, 404]
            assert updated.status_code in (200, 404)
            assert final.status_code == 404
    assert await rows(postgres_url, "SELECT id FROM task") == []


@pytest.fixture
async def proxied(postgres_url: str) -> AsyncIterator[tuple[Proxy, str]]:
    """The test database behind a proxy we can cut; the proxy is always closed afterwards."""
    url = make_url(postgres_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    finally:
        await proxy.cut()


async def test_database_outage_is_a_fast_503_then_recovers_without_losing_writes(
    proxied: tuple[Proxy, str], postgres_url: str, auth: Auth
) -> None:
    proxy, url = proxied
    acknowledged: list[int] = []
    async with serving(url, db_connect_timeout=1.0, db_command_timeout=2.0) as client:

        async def create(title: str) -> httpx.Response:
            response = await client.post("/api/tasks", json={"title": title}, headers=auth("alice"))
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])
            return response

        assert (await create("before")).status_code == 201

        await proxy.cut()
        during = []
        for index in range(5):
            started = time.monotonic()
            response = await create(f"during {index}")
            during.append((response.status_code, time.monotonic() - started))
        ready = await client.get("/health/ready")

        await proxy.restore()
        restored_at = time.monotonic()
        while (await create("after")).status_code != 201:
            assert time.monotonic() - restored_at < 5, "did not recover within 5 s"
            await asyncio.sleep(0.1)
        recovered_in = time.monotonic() - restored_at

    assert all(status == 503 for status, _ in during), during
    assert all(elapsed < 3 for _, elapsed in during), during
    assert ready.status_code == 503
    assert recovered_in < 5
    stored = {row["id"] for row in await rows(postgres_url, "SELECT id FROM task")}
    assert set(acknowledged) <= stored
    assert len(acknowledged) >= 2


async def test_terminated_connections_are_replaced_transparently(postgres_url: str, auth: Auth) -> None:
    async with serving(postgres_url) as client:
        for index in range(5):
            assert (
                await client.post("/api/tasks", json={"title": f"t{index}"}, headers=auth("alice"))
            ).status_code == 201
        killed = await rows(
            postgres_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'todo-api' "
            "AND datname = current_database() AND pid <> pg_backend_pid()",
        )
        # The server's goodbye reaches asyncpg within milliseconds; a connection checked out in
        # that same instant gets a retryable 503 instead (no round-trip ping on every checkout).
        await asyncio.sleep(0.2)
        after = [await client.get("/api/tasks", headers=auth("alice")) for _ in range(5)]

    assert killed, "the service held no connection to terminate"
    assert [r.status_code for r in after] == [200] * 5
    assert after[-1].headers["x-total-count"] == "5"


async def test_task_quota_holds_under_concurrent_creates(postgres_url: str, auth: Auth) -> None:
    async with serving(postgres_url, max_tasks_per_user=5) as client:
        responses = await asyncio.gather(
            *(client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth("alice")) for i in range(40))
        )

    assert sorted(r.status_code for r in responses) == [201] * 5 + [409] * 35
    assert len(await rows(postgres_url, "SELECT id FROM task WHERE user_id = 'alice'")) == 5
