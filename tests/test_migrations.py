"""Migrations: the baseline equals the models, upgrades keep the rows, and data outlives the app.

Every test that moves the schema is marked `changes_schema`: on PostgreSQL it runs in a
database of its own, so the shared one never changes under other tests.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from tests.conftest import asyncpg_dsn, make_settings
from todo_api.db.engine import create_engine
from todo_api.main import create_app
from todo_api.migrations import SEARCH_INDEX, alembic_config, upgrade_database
from todo_api.tasks.listing import TaskFilter, search_patterns, tag_patterns
from todo_api.tasks.statements import page_query

HEAD = "0015"


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


SEARCHED_COLUMNS = ("title_folded", "description_folded", "tag_keys")


def _drop_owner_btree_indexes(connection: sa.Connection) -> None:
    for index in sa.inspect(connection).get_indexes("task"):
        if index["name"] != SEARCH_INDEX and index["column_names"][:1] == ["user_id"]:
            connection.execute(sa.text(f'DROP INDEX "{index["name"]}"'))


def _search_index(connection: sa.Connection) -> str | None:
    found = connection.execute(
        sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": SEARCH_INDEX}
    )
    return found.scalar()


@pytest.mark.changes_schema
async def test_postgresql_searches_a_long_list_through_a_trigram_index(postgres_url: str) -> None:
    # One user with 3,000 tasks among others: a search and a tag filter of theirs read only the
    # tasks that can match (the service's own statements, planned for their values).
    await _in_database(
        postgres_url,
        lambda connection: connection.execute(
            sa.text(
                "INSERT INTO task (user_id, title, title_folded, tags, tag_keys, created_at, updated_at) "
                "SELECT CASE WHEN n % 4 = 0 THEN 'other-' || n ELSE 'heavy' END, 'task ' || n, "
                "'task ' || n || CASE WHEN n % 500 = 0 THEN ' lisbon' ELSE '' END, "
                "CASE WHEN n % 300 = 0 THEN 'travel' ELSE '' END, "
                "CASE WHEN n % 300 = 0 THEN chr(31) || 'travel' || chr(31) ELSE '' END, now(), now() "
                "FROM generate_series(1, 4000) AS n"
            )
        ),
    )
    await _in_database(postgres_url, _drop_owner_btree_indexes)
    await _in_database(postgres_url, lambda connection: connection.execute(sa.text("ANALYZE task")))
    filters = {
        "search": TaskFilter(search=search_patterns("search", "lisbon")),
        "tags": TaskFilter(tags=tag_patterns("tags", ["travel"])),
    }

    async def plan_of(task_filter: TaskFilter) -> str:
        compiled = page_query(task_filter.shape).postgres
        values = task_filter.values | {"owner": "heavy", "limit": 100, "offset": 0, "now": datetime.now(UTC)}
        # At this size the planner reads the user's rows through the owner's b-tree indexes
        # (dropped below) or the whole table; what is checked is that the trigram index matches
        # the conditions the service writes. At 1,000,000 rows it is chosen on its own
        # (docs/performance.md).
        connection = await asyncpg.connect(
            asyncpg_dsn(postgres_url), server_settings={"enable_seqscan": "off"}
        )
        try:
            explained = await connection.fetch(f"EXPLAIN {compiled.sql}", *compiled.arguments(values))
        finally:
            await connection.close()
        return "\n".join(row[0] for row in explained)

    plans = {name: await plan_of(task_filter) for name, task_filter in filters.items()}
    definition = await _in_database(postgres_url, _search_index)
    await _run_alembic(postgres_url, command.downgrade, "0009")
    after_downgrade = await _in_database(postgres_url, _search_index)

    assert definition is not None
    assert all(f"{column} gin_trgm_ops" in definition for column in SEARCHED_COLUMNS), definition
    for name, plan in plans.items():
        assert SEARCH_INDEX in plan, (name, plan[:3000])
    assert after_downgrade is None


async def test_without_its_extensions_the_search_index_is_left_out_with_a_warning(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A role that may create tables in its schema but not extensions in its database (no CREATE
    # on the database): the migration completes, and says what an administrator can run.
    name = f"todo_no_extensions_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        # A password of its own, for servers that do not trust local connections.
        password = uuid.uuid4().hex
        await admin.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        as_admin = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        inside = await asyncpg.connect(asyncpg_dsn(as_admin))
        try:
            await inside.execute(f'GRANT USAGE, CREATE ON SCHEMA public TO "{name}"')
        finally:
            await inside.close()
        as_role = make_url(postgres_url).set(database=name, username=name, password=password)
        url = as_role.render_as_string(hide_password=False)
        caplog.set_level(logging.INFO, logger="todo_api.migrations")

        await upgrade_database(make_settings(url))
        revision = await _in_database(url, _revision)
        index = await _in_database(url, _search_index)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
        await admin.close()

    skipped = [r for r in caplog.records if getattr(r, "event", None) == "search_index_skipped"]
    assert (revision, index) == (HEAD, None)
    assert len(skipped) == 1
    message = skipped[0].getMessage()
    assert "permission denied" in message
    assert "CREATE EXTENSION IF NOT EXISTS pg_trgm" in message
    assert f"CREATE INDEX IF NOT EXISTS {SEARCH_INDEX} ON task USING gin" in message


def _conversation_tables(connection: sa.Connection) -> set[str]:
    return _tables(connection) & {"conversation", "message"}


def _a_conversation_deleted_takes_its_messages(connection: sa.Connection) -> tuple[bool, list[Any]]:
    """Whether a message of an unknown role is refused, and the messages left once a
    conversation with two is deleted."""
    now = datetime.now(UTC)
    conversation_id = connection.execute(
        sa.text(
            "INSERT INTO conversation (user_id, title, created_at, updated_at) "
            "VALUES ('alice', 'hello', :now, :now) RETURNING id"
        ),
        {"now": now},
    ).scalar_one()
    for role in ("user", "assistant"):
        connection.execute(
            sa.text(
                "INSERT INTO message (conversation_id, user_id, role, content, created_at) "
                "VALUES (:conversation, 'alice', :role, 'hi', :now)"
            ),
            {"conversation": conversation_id, "role": role, "now": now},
        )
    tool_role = _refused(
        "INSERT INTO message (conversation_id, user_id, role, content, created_at) "
        "VALUES (:conversation, 'alice', 'tool', 'x', :now)",
        conversation=conversation_id,
        now=now,
    )(connection)
    connection.execute(sa.text("DELETE FROM conversation WHERE id = :id"), {"id": conversation_id})
    return tool_role, list(connection.execute(sa.text("SELECT id FROM message")))


@pytest.mark.changes_schema
async def test_the_conversation_tables_come_and_go_with_their_migration(database_url: str) -> None:
    await _in_database(database_url, _insert_baseline_rows)
    tasks = await _in_database(database_url, _rows)

    await _run_alembic(database_url, command.downgrade, "0010")
    at_0010 = await _in_database(database_url, lambda c: (_revision(c), _conversation_tables(c), _rows(c)))
    await _run_alembic(database_url, command.upgrade, "head")
    at_head = await _in_database(database_url, lambda c: (_revision(c), _conversation_tables(c), _rows(c)))
    await _run_alembic(database_url, command.check)
    refused_role, left = await _in_database(database_url, _a_conversation_deleted_takes_its_messages)

    assert at_0010 == ("0010", set(), tasks)
    assert at_head == (HEAD, {"conversation", "message"}, tasks)
    assert refused_role
    assert left == []
