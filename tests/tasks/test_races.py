"""Writes racing each other on PostgreSQL: every answer agrees with the state left behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tests.conftest import Database, make_settings
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
