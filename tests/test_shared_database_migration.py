"""Shared database mode's migration (0002): a no-op unless asked for on PostgreSQL."""

from __future__ import annotations

import logging
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from alembic import command

from tests.conftest import Database, make_settings
from tests.test_cli import run
from todo_api.db.engine import create_engine
from todo_api.migrations import alembic_config, upgrade_database

T = TypeVar("T")


async def _task_foreign_keys(database_url: str) -> list[str]:
    engine = create_engine(make_settings(database_url))
    try:
        async with engine.connect() as connection:
            keys = await connection.run_sync(lambda sync: sa.inspect(sync).get_foreign_keys("task"))
    finally:
        await engine.dispose()
    return [str(key["name"]) for key in keys]


async def test_migrations_add_no_foreign_key_by_default(database_url: str) -> None:
    assert await _task_foreign_keys(database_url) == []


async def test_migration_0002_says_it_was_skipped_when_the_mode_is_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alembic.runtime.migration")

    await upgrade_database(make_settings(f"sqlite:///{tmp_path / 'todo.db'}"))

    skipped = [record for record in caplog.records if getattr(record, "event", None) == "migration_skipped"]
    assert [record.getMessage() for record in skipped] == [
        "Skipped 0002: shared database mode is off (BETTER_AUTH_SHARED_DATABASE)"
    ]


async def test_shared_database_mode_is_a_no_op_on_sqlite(database: Database, tmp_path: Path) -> None:
    if database.is_postgres:
        pytest.skip("this is about SQLite, which cannot share Better Auth's PostgreSQL database")
    url = f"sqlite:///{tmp_path / 'todo.db'}"

    await upgrade_database(make_settings(url, better_auth_shared_database=True))

    assert await _task_foreign_keys(url) == []


@pytest.fixture
def empty_postgres_database(database: Database) -> Iterator[str]:
    """A PostgreSQL database with nothing in it: no task table and no Better Auth tables."""
    if not database.is_postgres or database.postgres_admin_url is None:
        pytest.skip("shared database mode is a PostgreSQL feature")
    admin = database.postgres_admin_url
    name = f"todo_test_empty_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", admin, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield sa.make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        subprocess.run(["psql", admin, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True)


@pytest.mark.postgres
def test_shared_database_mode_before_better_auth_migrated_fails_with_one_line(
    empty_postgres_database: str, tmp_path: Path
) -> None:
    result = run(
        "migrate", cwd=tmp_path, DATABASE_URL=empty_postgres_database, BETTER_AUTH_SHARED_DATABASE="true"
    )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(
        'BETTER_AUTH_SHARED_DATABASE is on but this database has no "user" table: '
        "run Better Auth's migrations first, then migrate this service"
    )


@pytest.mark.postgres
async def test_shared_database_mode_with_orphan_tasks_fails_clearly(empty_postgres_database: str) -> None:
    url = empty_postgres_database
    engine = create_engine(make_settings(url))
    try:
        await upgrade_database(make_settings(url), revision="0001")
        async with engine.begin() as connection:
            await connection.execute(sa.text('CREATE TABLE "user" (id text PRIMARY KEY)'))
            await connection.execute(
                sa.text(
                    "INSERT INTO task (user_id, title, status, created_at, updated_at) "
                    "VALUES ('nobody', 'orphan', 'pending', now(), now())"
                )
            )

        with pytest.raises(RuntimeError, match=r'1 task\(s\) belong to user ids not in "user"'):
            await upgrade_database(make_settings(url, better_auth_shared_database=True))
    finally:
        await engine.dispose()


async def _shared_upgrade_then_downgrade(url: str, read: Callable[[str], Awaitable[T]]) -> tuple[T, T]:
    """`read` of a database where Better Auth made "user" (and only that), migrated in shared
    database mode, then again after a downgrade to 0001 run without the setting."""
    engine = create_engine(make_settings(url))
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text('CREATE TABLE "user" (id text PRIMARY KEY)'))
        await upgrade_database(make_settings(url, better_auth_shared_database=True))
        migrated = await read(url)
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0001"))
        return migrated, await read(url)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_shared_database_foreign_key_is_dropped_on_downgrade(empty_postgres_database: str) -> None:
    with_key, without_key = await _shared_upgrade_then_downgrade(empty_postgres_database, _task_foreign_keys)

    assert with_key == ["fk_task_user_id_user"]
    assert without_key == []


BETTER_AUTH_TABLES = {"user", "session", "account", "verification", "jwks"}


async def _tables(database_url: str) -> set[str]:
    engine = create_engine(make_settings(database_url))
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_create_better_auths_tables_by_default(database_url: str) -> None:
    assert await _tables(database_url) >= BETTER_AUTH_TABLES


@pytest.mark.postgres
async def test_shared_database_mode_leaves_better_auths_tables_to_better_auth(
    empty_postgres_database: str,
) -> None:
    # Downgrading without the setting must not drop Better Auth's table either.
    migrated, downgraded = await _shared_upgrade_then_downgrade(empty_postgres_database, _tables)

    assert migrated & BETTER_AUTH_TABLES == {"user"}
    assert "user" in downgraded
