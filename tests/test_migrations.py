"""Migrations: the baseline equals the models, and data outlives the app."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from alembic import command

from tests.conftest import make_settings
from todo_api.db.engine import create_engine
from todo_api.main import create_app
from todo_api.migrations import alembic_config, upgrade_database


async def _run_alembic(database_url: str, action: Callable[..., None], *args: str) -> None:
    engine = create_engine(make_settings(database_url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: action(alembic_config(sync), *args))
    finally:
        await engine.dispose()


async def test_migrations_match_the_models(database_url: str) -> None:
    # `alembic check` raises if autogenerate would emit anything.
    await _run_alembic(database_url, command.check)


async def test_downgrade_then_upgrade_round_trips(database_url: str) -> None:
    await _run_alembic(database_url, command.downgrade, "base")
    await _run_alembic(database_url, command.upgrade, "head")
    await _run_alembic(database_url, command.check)


async def test_upgrading_twice_is_harmless(database_url: str) -> None:
    await upgrade_database(make_settings(database_url))
    await upgrade_database(make_settings(database_url))


async def test_tasks_survive_an_app_restart(database_url: str, auth: Callable[[str], dict[str, str]]) -> None:
    async def with_client(action: Callable[[httpx.AsyncClient], object]) -> object:
        app = create_app(make_settings(database_url))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await action(client)  # type: ignore[misc]

    async def create(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/api/tasks", json={"title": "remember me"}, headers=auth("alice"))

    async def read(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/api/tasks", headers=auth("alice"))

    created = await with_client(create)
    listed = await with_client(read)

    assert isinstance(created, httpx.Response)
    assert isinstance(listed, httpx.Response)
    assert listed.json() == [created.json()]
