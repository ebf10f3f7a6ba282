"""Writes racing each other on PostgreSQL: every answer agrees with the state left behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tests.conftest import Database, make_settings, rows, serving
from todo_api.main import create_app

Auth = Callable[[str], dict[str, str]]


@pytest.fixture
async def postgres_client(database: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    if not database.is_postgres:
        pytest.skip("races need PostgreSQL's concurrency (set TEST_DATABASE_URL)")
    app = create_app(make_settings(database_url, rate_limit_enabled=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            yield client


async def test_an_update_racing_a_conditional_delete_agrees_with_the_final_state(
    postgres_client: httpx.AsyncClient, auth: Auth
) -> None:
    client = postgres_client
    for round_number in range(30):
        created = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice"))
        url = f"/api/tasks/{created.json()['id']}"
        title = f"round {round_number}"
        # The delete only applies to the version both requests started from.
        updated, deleted = await asyncio.gather(
            client.patch(url, json={"title": title}, headers=auth("alice")),
            client.delete(url, headers=auth("alice") | {"If-Match": created.headers["etag"]}),
        )
        final = await client.get(url, headers=auth("alice"))

        outcome = (updated.status_code, deleted.status_code, final.status_code)
        # Either the update came first (the delete then sees a changed task), or the delete did
        # (the update then finds nothing). An update answered 200 for a task that was deleted
        # from under it, or a delete of a version already replaced, matches neither.
        assert outcome in {(200, 412, 200), (404, 204, 404)}, (round_number, outcome)
        if final.status_code == 200:
            assert final.json() == updated.json()
            assert final.json()["title"] == title


@pytest.fixture
def postgres_only(database: Database) -> None:
    if not database.is_postgres:
        pytest.skip("races need PostgreSQL's concurrency (set TEST_DATABASE_URL)")


async def quota_matches_tasks(database_url: str) -> None:
    """The per-user counter the create statement checks equals each user's number of tasks."""
    differing = await rows(
        database_url,
        "SELECT coalesce(tasks.user_id, quota.user_id) AS user_id, tasks.n, quota.used "
        "FROM (SELECT user_id, count(*)::int AS n FROM task GROUP BY user_id) AS tasks "
        "FULL JOIN task_quota AS quota ON quota.user_id = tasks.user_id "
        "WHERE coalesce(tasks.n, 0) <> coalesce(quota.used, 0)",
    )
    assert [tuple(row) for row in differing] == []


@pytest.mark.usefixtures("postgres_only")
async def test_the_quota_is_exact_under_200_concurrent_creates(database_url: str, auth: Auth) -> None:
    async with serving(database_url, max_tasks_per_user=50) as client:
        responses = await asyncio.gather(
            *(client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth("alice")) for i in range(200))
        )
        listed = await client.get("/api/tasks", headers=auth("alice"))

    assert sorted(r.status_code for r in responses) == [201] * 50 + [409] * 150
    assert listed.headers["x-total-count"] == "50"
    await quota_matches_tasks(database_url)


@pytest.mark.usefixtures("postgres_only")
async def test_the_quota_is_exact_while_creates_race_deletes(database_url: str, auth: Auth) -> None:
    async with serving(database_url, max_tasks_per_user=10) as client:
        first = [
            await client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth("alice")) for i in range(10)
        ]
        deletes = [client.delete(f"/api/tasks/{r.json()['id']}", headers=auth("alice")) for r in first[:5]]
        creates = [
            client.post("/api/tasks", json={"title": "more"}, headers=auth("alice")) for _ in range(40)
        ]
        responses = await asyncio.gather(*deletes, *creates)
        listed = await client.get("/api/tasks", headers=auth("alice"))

    assert [r.status_code for r in responses[:5]] == [204] * 5
    created = [r.status_code for r in responses[5:]]
    # Each create saw the deletes that had committed before it: never more than 10 in all.
    assert created.count(201) <= 5
    assert sorted(created) == [201] * created.count(201) + [409] * created.count(409)
    assert listed.headers["x-total-count"] == str(5 + created.count(201))
    await quota_matches_tasks(database_url)


@pytest.mark.usefixtures("postgres_only")
async def test_the_quota_follows_tasks_added_or_removed_outside_the_service(
    database_url: str, auth: Auth
) -> None:
    async def fill(client: httpx.AsyncClient, user: str) -> list[int]:
        return [
            (await client.post("/api/tasks", json={"title": "x"}, headers=auth(user))).status_code
            for _ in range(4)
        ]

    insert = (
        "INSERT INTO task (user_id, title, status, created_at, updated_at) "
        "SELECT $1, 'bulk', 'pending', now(), now() FROM generate_series(1, $2)"
    )
    async with serving(database_url, max_tasks_per_user=3) as client:
        assert await fill(client, "alice") == [201, 201, 201, 409]
        await rows(database_url, "DELETE FROM task WHERE user_id = 'alice'")
        after_delete = await fill(client, "alice")
        # Moved to bob, alice's tasks count as his.
        await rows(database_url, "UPDATE task SET user_id = 'bob' WHERE user_id = 'alice'")
        after_move = [await fill(client, "alice"), await fill(client, "bob")]
        await rows(database_url, insert, "carol", 2)
        after_bulk_insert = await fill(client, "carol")
        await quota_matches_tasks(database_url)
        await rows(database_url, "TRUNCATE task")
        after_truncate = await fill(client, "carol")

    assert after_delete == [201, 201, 201, 409]
    assert after_move == [[201, 201, 201, 409], [409] * 4]
    assert after_bulk_insert == [201, 409, 409, 409]
    assert after_truncate == [201, 201, 201, 409]
    await quota_matches_tasks(database_url)
