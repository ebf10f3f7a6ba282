"""Migrations: the baseline equals the models, upgrades keep the rows, and data outlives the app.

Every test that moves the schema is marked `changes_schema`: on PostgreSQL it runs in a
database of its own, so the shared one never changes under other tests.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from tests.conftest import make_settings
from todo_api.db.engine import create_engine
from todo_api.main import create_app
from todo_api.migrations import alembic_config, upgrade_database

HEAD = "0009"


async def _run_alembic(database_url: str, action: Callable[..., None], *args: str) -> None:
    engine = create_engine(make_settings(database_url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: action(alembic_config(sync), *args))
    finally:
        await engine.dispose()


async def _in_database(database_url: str, work: Callable[[sa.Connection], Any]) -> Any:
    """Run `work` on a synchronous connection inside one committed transaction."""
    engine = create_engine(make_settings(database_url))
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def _revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _tables(connection: sa.Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def _rows(connection: sa.Connection) -> list[tuple[Any, ...]]:
    query = "SELECT id, user_id, title, description, status, created_at, updated_at FROM task ORDER BY id"
    return [tuple(row) for row in connection.execute(sa.text(query))]


async def test_migrations_match_the_models(database_url: str) -> None:
    # `alembic check` raises if autogenerate would emit anything.
    await _run_alembic(database_url, command.check)


@pytest.mark.changes_schema
async def test_downgrade_then_upgrade_round_trips(database_url: str) -> None:
    await _run_alembic(database_url, command.downgrade, "base")
    at_base = await _in_database(database_url, lambda c: (_revision(c), _tables(c)))
    await _run_alembic(database_url, command.upgrade, "head")
    at_head = await _in_database(database_url, lambda c: (_revision(c), _tables(c)))
    await _run_alembic(database_url, command.check)

    assert at_base[0] is None
    assert "task" not in at_base[1]
    assert at_head[0] == HEAD
    assert "task" in at_head[1]


# Rows as version 0001 stored them, written with SQL so they do not depend on today's models.
BASELINE_ROWS = [
    ("alice", "write the report", "by Friday", "pending"),
    ("alice", "ship it", None, "completed"),
    ("bob", "b" * 200, "x" * 5000, "in_progress"),
]


def _insert_baseline_rows(connection: sa.Connection) -> None:
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for user_id, title, description, status in BASELINE_ROWS:
        connection.execute(
            sa.text(
                "INSERT INTO task (user_id, title, description, status, created_at, updated_at) "
                "VALUES (:user_id, :title, :description, :status, :stamp, :stamp)"
            ),
            {"user_id": user_id, "title": title, "description": description, "status": status}
            | {"stamp": stamp},
        )


def _refused(statement: str, **values: Any) -> Callable[[sa.Connection], bool]:
    """Whether the database refuses `statement` with an integrity error (nothing is kept)."""

    def attempt(connection: sa.Connection) -> bool:
        savepoint = connection.begin_nested()
        try:
            connection.execute(sa.text(statement), values)
        except IntegrityError:
            return True
        finally:
            savepoint.rollback()
        return False

    return attempt


INSERT = "INSERT INTO task (user_id, title, status, created_at, updated_at) "
REFUSED = {
    "unknown status": INSERT + "VALUES ('carol', 't', 'bogus', :now, :now)",
    "missing title": INSERT + "VALUES ('carol', NULL, 'pending', :now, :now)",
    "missing owner": INSERT + "VALUES (NULL, 't', 'pending', :now, :now)",
    "missing timestamp": INSERT + "VALUES ('carol', 't', 'pending', NULL, :now)",
    "duplicate id": "INSERT INTO task (id, user_id, title, status, created_at, updated_at) "
    "VALUES (:taken, 'carol', 't', 'pending', :now, :now)",
}


@pytest.mark.changes_schema
async def test_upgrading_from_the_baseline_keeps_the_rows_and_the_constraints(
    database_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    await _run_alembic(database_url, command.downgrade, "0001")
    await _in_database(database_url, _insert_baseline_rows)
    before = await _in_database(database_url, _rows)

    await upgrade_database(make_settings(database_url))
    after_first = await _in_database(database_url, lambda c: (_revision(c), _rows(c)))
    await upgrade_database(make_settings(database_url))  # a second instance starting: a no-op
    after_second = await _in_database(database_url, lambda c: (_revision(c), _rows(c)))
    await _run_alembic(database_url, command.check)

    assert len(before) == len(BASELINE_ROWS)
    assert after_first == (HEAD, before)
    assert after_second == (HEAD, before)
    for reason, statement in REFUSED.items():
        check = _refused(statement, now=datetime.now(UTC), taken=before[0][0])
        assert await _in_database(database_url, check), reason
    # The service reads the upgraded rows, and new ids continue after the old ones.
    app = create_app(make_settings(database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            listed = await client.get("/api/tasks?sort=created_at", headers=auth("alice"))
            created = await client.post("/api/tasks", json={"title": "after"}, headers=auth("bob"))
    assert [task["title"] for task in listed.json()] == ["write the report", "ship it"]
    assert [task["completed"] for task in listed.json()] == [False, True]
    assert created.status_code == 201
    assert created.json()["id"] > max(row[0] for row in before)


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


@pytest.mark.changes_schema
async def test_the_task_quota_counter_is_backfilled_from_existing_tasks(
    postgres_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    await _run_alembic(postgres_url, command.downgrade, "0003")
    await _in_database(postgres_url, _insert_baseline_rows)
    await _run_alembic(postgres_url, command.upgrade, "head")
    counted = await _in_database(
        postgres_url,
        lambda c: [
            tuple(row) for row in c.execute(sa.text("SELECT user_id, used FROM task_quota ORDER BY 1"))
        ],
    )
    # Alice has two tasks already: with a quota of three, one more fits.
    app = create_app(make_settings(postgres_url, max_tasks_per_user=3))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            statuses = [
                (await client.post("/api/tasks", json={"title": "t"}, headers=auth("alice"))).status_code
                for _ in range(2)
            ]

    assert counted == [("alice", 2), ("bob", 1)]
    assert statuses == [201, 409]


@pytest.mark.changes_schema
async def test_tasks_from_before_priorities_become_medium_with_no_due_date_in_utc(
    database_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    await _run_alembic(database_url, command.downgrade, "0004")
    await _in_database(database_url, _insert_baseline_rows)
    before = await _in_database(database_url, _rows)
    await _run_alembic(database_url, command.upgrade, "head")
    after = await _in_database(database_url, _rows)
    now = datetime.now(UTC)
    refused = [
        await _in_database(database_url, _refused(INSERT_WITH_PRIORITY, now=now, priority=priority))
        for priority in (0, 2, 5)
    ]
    app = create_app(make_settings(database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            listed = (await client.get("/api/tasks?sort=created_at", headers=auth("alice"))).json()

    assert after == before
    assert refused == [True, False, True]
    fields = ("title", "priority", "due_date", "timezone", "overdue")
    assert [tuple(task[name] for name in fields) for task in listed] == [
        ("write the report", "medium", None, "UTC", False),
        ("ship it", "medium", None, "UTC", False),
    ]


INSERT_WITH_PRIORITY = (
    "INSERT INTO task (user_id, title, status, priority, created_at, updated_at) "
    "VALUES ('carol', 't', 'pending', :priority, :now, :now)"
)


@pytest.mark.changes_schema
async def test_tasks_from_before_search_are_found_by_their_folded_words(
    database_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    await _run_alembic(database_url, command.downgrade, "0005")
    await _in_database(database_url, _insert_baseline_rows)
    await _in_database(
        database_url,
        lambda connection: connection.execute(
            sa.text(
                "INSERT INTO task (user_id, title, description, status, created_at, updated_at) "
                "VALUES ('alice', 'Straße', NULL, 'pending', :now, :now)"
            ),
            {"now": datetime.now(UTC)},
        ),
    )
    await _run_alembic(database_url, command.upgrade, "head")
    app = create_app(make_settings(database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            async def found(words: str) -> list[str]:
                response = await client.get("/api/tasks", params={"search": words}, headers=auth("alice"))
                return [task["title"] for task in response.json()]

            searches = {words: await found(words) for words in ("STRASSE", "REPORT", "ship", "nothing")}

    assert searches == {
        "STRASSE": ["Straße"],
        "REPORT": ["write the report"],
        "ship": ["ship it"],
        "nothing": [],
    }
