"""Statements compiled once for asyncpg, and prepared statements that can be turned off."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.conftest import Database, make_settings
from todo_api.db.connection import PostgresDatabase
from todo_api.db.engine import open_database
from todo_api.db.query import CompiledStatement, Query
from todo_api.models import task_table
from todo_api.tasks.statements import completion_query

OWNED_IDS = Query(sa.select(task_table.c.id).where(task_table.c.user_id == sa.bindparam("owner")))
PREPARED_STATEMENTS = sa.select(sa.func.count().label("count")).select_from(sa.text("pg_prepared_statements"))


def test_a_compiled_statement_takes_values_by_name_and_keeps_its_own() -> None:
    statement = sa.select(task_table.c.id).where(
        task_table.c.user_id == sa.bindparam("owner"), task_table.c.status == "completed"
    )
    compiled = CompiledStatement.compile(statement)

    assert "$1" in compiled.sql
    assert "$2" in compiled.sql
    assert compiled.arguments({"owner": "alice"}) == ["alice", "completed"]


def test_a_missing_value_is_an_error_not_a_null() -> None:
    compiled = completion_query(None).postgres

    with pytest.raises(KeyError):
        compiled.arguments({"owner": "alice", "task_id": 1})


@pytest.mark.parametrize(("prepared", "expect_prepared"), [(True, True), (False, False)])
async def test_prepared_statements_follow_the_setting(
    database: Database, database_url: str, prepared: bool, expect_prepared: bool
) -> None:
    if not database.is_postgres:
        pytest.skip("prepared statements are a PostgreSQL matter")
    # One connection, so the statements below run where the earlier ones were prepared.
    settings = make_settings(database_url, db_prepared_statements=prepared, db_pool_size=1, db_max_overflow=0)
    store = await open_database(settings)
    assert isinstance(store, PostgresDatabase)
    try:
        for _ in range(2):
            async with store.autocommit() as connection:
                await connection.fetch(OWNED_IDS, {"owner": "alice"})
        async with store.autocommit() as connection:
            kept = await connection.fetch_one(PREPARED_STATEMENTS)
    finally:
        await store.close()

    assert kept is not None
    # asyncpg names the statements it keeps; with the setting off it uses only the unnamed one,
    # which transaction-mode poolers (PgBouncer, Neon's pooler) can cope with.
    assert (kept["count"] > 0) is expect_prepared


async def test_a_cancelled_write_is_rolled_back_before_its_connection_is_reused(
    database: Database, database_url: str
) -> None:
    if not database.is_postgres:
        pytest.skip("the asyncpg pool is PostgreSQL's")
    # One connection: the read below gets the very connection the cancelled write used.
    store = await open_database(make_settings(database_url, db_pool_size=1, db_max_overflow=0))
    inserted = asyncio.Event()

    async def write_then_hang() -> None:
        async with store.transaction() as connection:
            now = datetime.now(UTC)
            await connection.fetch(
                sa.insert(task_table).values(
                    user_id="alice", title="never committed", status="pending", created_at=now, updated_at=now
                )
            )
            inserted.set()
            await asyncio.sleep(60)

    try:
        writer = asyncio.create_task(write_then_hang())
        await inserted.wait()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        async with store.autocommit() as connection:
            # Still inside the cancelled transaction, this session would see its own insert.
            counted = await connection.fetch_one(
                sa.select(sa.func.count().label("tasks")).select_from(task_table)
            )
    finally:
        await store.close()

    assert counted is not None
    assert counted["tasks"] == 0


PLAN_CACHE_MODE = Query(sa.select(sa.func.current_setting("plan_cache_mode").label("mode")))


@pytest.mark.parametrize(("prepared", "planned_mode"), [(True, "force_custom_plan"), (False, "auto")])
async def test_statements_that_ask_for_it_are_planned_with_their_values(
    postgres_url: str, prepared: bool, planned_mode: str
) -> None:
    # Without prepared statements every statement is prepared unnamed for its one run, which
    # PostgreSQL plans with its values whatever the setting: no second pool is needed.
    store = await open_database(make_settings(postgres_url, db_prepared_statements=prepared))
    try:
        async with store.autocommit(plan_per_call=True) as connection:
            planned = await connection.fetch_one(PLAN_CACHE_MODE)
        async with store.autocommit() as connection:
            kept = await connection.fetch_one(PLAN_CACHE_MODE)
        async with store.transaction() as connection:
            written = await connection.fetch_one(PLAN_CACHE_MODE)
    finally:
        await store.close()

    modes = [row["mode"] if row is not None else None for row in (planned, kept, written)]
    assert modes == [planned_mode, "auto", "auto"]
