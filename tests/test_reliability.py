"""Concurrency and database faults on real PostgreSQL: nothing lost, nothing hangs, no 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import answered_within, app_database, asyncpg_dsn, eventually, rows, serving, serving_app
from tests.proxy import Proxy

Auth = Callable[[str], dict[str, str]]


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


async def test_101_concurrent_toggles_leave_the_task_flipped(database_url: str, auth: Auth) -> None:
    # On SQLite too, where every toggle queues for the one writer connection.
    async with serving(database_url) as client:
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

        before = await create("before")

        await proxy.cut()
        during = [await answered_within(create(f"during {index}")) for index in range(5)]
        ready = await client.get("/health/ready")

        await proxy.restore()
        # No restart and no retry: the pool replaced the dropped connections, so the very
        # first request after the database is back succeeds.
        after = await create("after")

    assert before.status_code == 201
    assert [r.status_code for r in during] == [503] * 5
    assert all(r.headers["retry-after"].isdigit() for r in during)
    assert ready.status_code == 503
    assert after.status_code == 201
    stored = {row["id"] for row in await rows(postgres_url, "SELECT id FROM task")}
    assert stored == set(acknowledged)
    assert len(acknowledged) == 2


async def test_a_silent_database_is_a_503_within_the_connect_timeout(
    proxied: tuple[Proxy, str], auth: Auth
) -> None:
    proxy, url = proxied
    # A first request opens the first connection, which meets the silence: only
    # DB_CONNECT_TIMEOUT can end it (the command timeout is at its maximum).
    async with serving(url, db_connect_timeout=1.0, db_command_timeout=600.0) as client:
        await proxy.black_hole()
        try:
            during = await answered_within(client.get("/api/tasks", headers=auth("alice")))
        finally:
            await proxy.restore()  # even when the test fails, so the pool can close
        after = await client.get("/api/tasks", headers=auth("alice"))

    assert during.status_code == 503
    assert during.headers["retry-after"].isdigit()
    assert proxy.swallowed >= 1
    assert after.status_code == 200


async def test_a_network_gone_silent_under_pooled_connections_is_a_503_then_recovers(
    proxied: tuple[Proxy, str], auth: Auth
) -> None:
    proxy, url = proxied
    async with serving(url, db_connect_timeout=1.0, db_command_timeout=1.0) as client:
        created = await client.post("/api/tasks", json={"title": "kept"}, headers=auth("alice"))
        await proxy.black_hole()
        try:
            # The first read goes out on the pooled connection and no answer comes back (a
            # command timeout); the next needs a new connection, which hangs (a connect timeout).
            during = [
                await answered_within(client.get("/api/tasks", headers=auth("alice"))) for _ in range(2)
            ]
        finally:
            await proxy.restore()
        after = await client.get("/api/tasks", headers=auth("alice"))

    assert created.status_code == 201
    assert [r.status_code for r in during] == [503, 503]
    assert after.status_code == 200
    assert after.json() == [created.json()]


async def test_a_statement_that_runs_too_long_is_a_503_within_the_command_timeout(
    postgres_url: str, auth: Auth
) -> None:
    # Another session holds the task table (as a long migration would), so the list query waits
    # on its lock: only DB_COMMAND_TIMEOUT (1 s) ends the wait (connecting is not the issue).
    blocker = await asyncpg.connect(asyncpg_dsn(postgres_url))

    async def left_waiting() -> bool:
        waiting = await blocker.fetchval(
            "SELECT count(*) FROM pg_locks WHERE relation = 'task'::regclass AND NOT granted"
        )
        return bool(waiting == 0)

    try:
        async with serving(postgres_url, db_connect_timeout=60.0, db_command_timeout=1.0) as client:
            created = await client.post("/api/tasks", json={"title": "kept"}, headers=auth("alice"))
            holding = blocker.transaction()
            await holding.start()
            await blocker.execute("LOCK TABLE task IN ACCESS EXCLUSIVE MODE")
            try:
                blocked = await answered_within(client.get("/api/tasks", headers=auth("alice")))
                # The timed-out statement is cancelled on the server too, not left queued.
                await eventually(left_waiting, "the timed-out statement cancelled on the server")
            finally:
                await holding.rollback()
            after = await client.get("/api/tasks", headers=auth("alice"))
    finally:
        await blocker.close()

    assert blocked.status_code == 503
    assert blocked.headers["retry-after"].isdigit()
    assert blocked.json() == {"detail": "Database unavailable, retry shortly"}
    assert after.status_code == 200
    assert after.json() == [created.json()]


async def test_terminated_connections_are_replaced_transparently(postgres_url: str, auth: Auth) -> None:
    async with serving_app(postgres_url) as (app, client):
        database = app_database(app)
        for index in range(5):
            assert (
                await client.post("/api/tasks", json={"title": f"t{index}"}, headers=auth("alice"))
            ).status_code == 201
        killed = await rows(
            postgres_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'todo-api' "
            "AND datname = current_database() AND pid <> pg_backend_pid()",
        )

        # A connection checked out in the very instant its server goodbye arrives gets a
        # retryable 503 instead (no round-trip ping on every checkout), so wait until asyncpg
        # has seen every goodbye: then no pooled connection is still open.
        async def all_goodbyes_seen() -> bool:
            return database.open_connections == 0

        await eventually(all_goodbyes_seen, "every terminated connection seen closed by the pool")
        after = [await client.get("/api/tasks", headers=auth("alice")) for _ in range(5)]

    assert killed, "the service held no connection to terminate"
    assert [r.status_code for r in after] == [200] * 5
    assert after[-1].headers["x-total-count"] == "5"


async def test_20_concurrent_puts_with_one_etag_give_one_200_and_nineteen_412(
    postgres_url: str, auth: Auth
) -> None:
    # Twenty connections, opened beforehand, so the writes really run side by side: a check
    # made apart from the write (read, compare, then write) would let several of them through.
    async with serving_app(postgres_url, db_pool_size=20, db_max_overflow=0) as (app, client):
        created = await client.post("/api/tasks", json={"title": "original"}, headers=auth("alice"))
        url = f"/api/tasks/{created.json()['id']}"
        warm_up = await asyncio.gather(*(client.get(url, headers=auth("alice")) for _ in range(20)))
        assert [r.status_code for r in warm_up] == [200] * 20
        assert app_database(app).idle_connections == 20
        headers = auth("alice") | {"If-Match": created.headers["etag"]}
        responses = await asyncio.gather(
            *(client.put(url, json={"title": f"writer {index}"}, headers=headers) for index in range(20))
        )
        final = await client.get(url, headers=auth("alice"))

    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200] + [412] * 19
    winner = responses[statuses.index(200)].json()
    assert final.json() == winner
    assert final.headers["etag"] == responses[statuses.index(200)].headers["etag"]
    stored = await rows(postgres_url, "SELECT title FROM task")
    assert [row["title"] for row in stored] == [winner["title"]]


async def test_task_quota_holds_under_concurrent_creates(postgres_url: str, auth: Auth) -> None:
    async with serving(postgres_url, max_tasks_per_user=5) as client:
        responses = await asyncio.gather(
            *(client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth("alice")) for i in range(40))
        )

    assert sorted(r.status_code for r in responses) == [201] * 5 + [409] * 35
    assert len(await rows(postgres_url, "SELECT id FROM task WHERE user_id = 'alice'")) == 5
