"""Migrations: the baseline equals the models, and data outlives the app."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory

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


async def test_upgrading_twice_is_harmless(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "empty.db"
    settings = make_settings(f"sqlite:///{path}")
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    caplog.set_level(logging.INFO, logger="todo_api.migrations")

    await upgrade_database(settings)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(
            "INSERT INTO task (user_id, title, status, created_at, updated_at) "
            "VALUES ('alice', 'kept', 'pending', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
        connection.commit()
    await upgrade_database(settings)

    migrated = [r for r in caplog.records if getattr(r, "event", None) == "database_migrated"]
    assert [(r.from_revision, r.to_revision) for r in migrated] == [(None, head)]  # type: ignore[attr-defined]
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
        assert connection.execute("SELECT user_id, title FROM task").fetchall() == [("alice", "kept")]


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
