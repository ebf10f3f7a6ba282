"""SQLite through `sqlite3` on the event loop: writers queue, locks never block the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import Database, answered_within, eventually, make_settings, serving, serving_app
from todo_api.db import sqlite
from todo_api.db.engine import open_database
from todo_api.db.query import Query
from todo_api.db.sqlite import SQLiteDatabase
from todo_api.models import task_table, utc_now
from todo_api.tasks.listing import ListShape
from todo_api.tasks.statements import CREATE_TASK, GET_TASK, completion_query, count_query, page_query

GET_TITLES = Query(sa.select(task_table.c.title))

Auth = Callable[[str], dict[str, str]]


@pytest.fixture
def sqlite_url(database: Database, database_url: str) -> str:
    if database.is_postgres:
        pytest.skip("the sqlite3 driver's own behaviour")
    return database_url


def _path(url: str) -> str:
    return make_url(url).database or ""


def _size(path: Path) -> int:
    return path.stat().st_size


def _count(url: str, sql: str) -> int:
    with closing(sqlite3.connect(_path(url))) as connection:
        return int(connection.execute(sql).fetchone()[0])


def _new_task(title: str) -> dict[str, object]:
    return {
        "owner": "alice",
        "new_title": title,
        "new_description": None,
        "new_title_folded": title.casefold(),
        "new_description_folded": None,
        "new_status": "pending",
        "new_priority": 2,
        "new_tags": "",
        "new_tag_keys": "",
        "new_due_at": None,
        "new_due_all_day": False,
        "new_overdue_after": None,
        "new_remind_at": None,
        "new_remind_before_minutes": None,
        "new_recurrence_pattern": None,
        "new_recurrence_interval": None,
        "new_recurrence_rule": None,
        "new_recurrence_anchor_day": None,
        "new_timezone": "UTC",
        "now": utc_now(),
        "max_tasks": 10,
    }


async def test_200_concurrent_creates_over_20_users_give_200_owned_rows(sqlite_url: str, auth: Auth) -> None:
    async with serving(sqlite_url) as client:
        responses = await asyncio.gather(
            *(
                client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth(f"user-{i % 20}"))
                for i in range(200)
            )
        )

    assert [r.status_code for r in responses] == [201] * 200
    with closing(sqlite3.connect(_path(sqlite_url))) as connection:
        stored = {row[0]: row[1:] for row in connection.execute("SELECT id, user_id, title FROM task")}
    assert len(stored) == 200
    for index, response in enumerate(responses):
        assert stored[response.json()["id"]] == (f"user-{index % 20}", f"t{index}")


async def test_task_quota_holds_under_concurrent_creates(sqlite_url: str, auth: Auth) -> None:
    async with serving(sqlite_url, max_tasks_per_user=5) as client:
        responses = await asyncio.gather(
            *(client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth("alice")) for i in range(40))
        )

    assert sorted(r.status_code for r in responses) == [201] * 5 + [409] * 35
    assert _count(sqlite_url, "SELECT count(*) FROM task WHERE user_id = 'alice'") == 5


async def test_a_write_waits_for_another_process_lock_without_blocking_reads(
    sqlite_url: str, auth: Auth
) -> None:
    async with serving_app(sqlite_url) as (app, client):
        store = app.state.todo_api.database
        assert isinstance(store, SQLiteDatabase)
        task = (await client.post("/api/tasks", json={"title": "mine"}, headers=auth("alice"))).json()
        # Another process's writer (a second worker, a migration) holds the database's write lock.
        with closing(sqlite3.connect(_path(sqlite_url), isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            waiting = asyncio.create_task(
                client.post("/api/tasks", json={"title": "queued"}, headers=auth("alice"))
            )

            async def met_the_lock() -> bool:
                return store.lock_waits > 0 or waiting.done()

            await eventually(met_the_lock, "waiting for the other process's lock")
            # The loop is free: a read is answered while the write still waits for the lock
            # (a write that blocked the loop would have ended, with a 503, before the read began).
            read = await answered_within(client.get(f"/api/tasks/{task['id']}", headers=auth("alice")))
            assert read.status_code == 200
            assert not waiting.done(), waiting.result()
            other.execute("COMMIT")
        created = await answered_within(waiting)

    assert created.status_code == 201
    assert _count(sqlite_url, "SELECT count(*) FROM task") == 2


async def test_a_lock_held_past_the_command_timeout_is_a_503_and_nothing_is_written(
    sqlite_url: str, auth: Auth
) -> None:
    async with serving(sqlite_url, db_command_timeout=0.3) as client:
        with closing(sqlite3.connect(_path(sqlite_url), isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            refused = await answered_within(
                client.post("/api/tasks", json={"title": "late"}, headers=auth("alice")), 5
            )
            other.execute("ROLLBACK")
        after = await client.post("/api/tasks", json={"title": "now"}, headers=auth("alice"))

    assert refused.status_code == 503
    assert "sqlite" not in refused.text.lower()
    assert after.status_code == 201
    assert _count(sqlite_url, "SELECT count(*) FROM task") == 1


async def _write(store: SQLiteDatabase, title: str) -> None:
    async with store.transaction() as connection:
        await connection.fetch(CREATE_TASK, _new_task(title))


async def _fail_after_a_write(store: SQLiteDatabase) -> None:
    async with store.transaction() as connection:
        await connection.fetch(CREATE_TASK, _new_task("rolled back"))
        raise RuntimeError("the request failed after its write")


async def test_a_failed_transaction_rolls_back_and_releases_the_writer(sqlite_url: str) -> None:
    store = await open_database(make_settings(sqlite_url))
    assert isinstance(store, SQLiteDatabase)
    try:
        with pytest.raises(RuntimeError):
            await _fail_after_a_write(store)
        # A writer left held would make this wait for ever.
        await answered_within(_write(store, "kept"))
        async with store.autocommit() as connection:
            titles = [row["title"] for row in await connection.fetch(GET_TITLES)]
    finally:
        await store.close()

    assert titles == ["kept"]


async def test_checkpoints_move_the_log_into_the_database_file(sqlite_url: str, auth: Auth) -> None:
    database_file = Path(_path(sqlite_url))
    async with serving(sqlite_url) as client:
        before = _size(database_file)
        for index in range(sqlite.CHECKPOINT_EVERY):
            created = await client.post("/api/tasks", json={"title": f"t{index}" * 20}, headers=auth("alice"))
            assert created.status_code == 201

        async def grown() -> bool:
            return _size(database_file) > before

        # Without checkpoints the file would only grow when the last connection closes.
        await eventually(grown, "checkpointed while serving")
    assert _count(sqlite_url, "SELECT count(*) FROM task") == sqlite.CHECKPOINT_EVERY


async def test_a_commit_leaves_checkpoints_to_the_worker_thread(sqlite_url: str) -> None:
    # SQLite's automatic checkpoint would run inside the COMMIT that takes the log past
    # 1,000 pages, on the event loop; the writer has it off (the worker thread checkpoints).
    database_file = Path(_path(sqlite_url))
    log = database_file.with_name(f"{database_file.name}-wal")
    page_size = _count(sqlite_url, "PRAGMA page_size")
    before = _size(database_file)
    store = await open_database(make_settings(sqlite_url))
    try:
        async with store.transaction() as connection:
            for index in range(6):
                await connection.fetch(CREATE_TASK, _new_task(f"t{index}") | {"new_description": "d" * 2**20})
        assert _size(log) > 1000 * page_size  # past SQLite's own checkpoint point
        assert _size(database_file) == before  # yet nothing was copied into the database
    finally:
        await store.close()


def test_a_connection_is_in_wal_mode_and_never_waits_for_locks_unless_asked(sqlite_url: str) -> None:
    with closing(sqlite.connect(_path(sqlite_url))) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        # 1 = NORMAL: a commit appends to the log without waiting for the disk.
        assert connection.execute("PRAGMA synchronous").fetchone() == (1,)
        assert connection.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert connection.execute("PRAGMA busy_timeout").fetchone() == (0,)
    with closing(sqlite.connect(_path(sqlite_url), busy_timeout_ms=1500)) as off_the_loop:
        assert off_the_loop.execute("PRAGMA busy_timeout").fetchone() == (1500,)


def test_a_sqlite_statement_converts_timestamps_as_sqlalchemy_does() -> None:
    compiled = completion_query(True).sqlite
    moment = datetime(2026, 12, 2, 4, 30, 1, 250, tzinfo=UTC)

    arguments = compiled.arguments({"owner": "alice", "task_id": 7, "now": moment})
    (row,) = compiled.rows(
        [
            (
                7,
                "alice",
                "t",
                None,
                "completed",
                2,
                "",
                "2026-12-31 23:00:00.000000",
                0,
                "2026-12-31 23:00:00.000000",
                "2026-12-31 22:00:00.000000",
                60,
                None,
                None,
                None,
                None,
                None,
                None,
                "UTC",
                "2026-12-02 04:30:01.000250",
                None,
            )
        ]
    )

    assert "?" in compiled.compiled.sql
    assert "2026-12-02 04:30:01.000250" in arguments
    assert row["created_at"] == moment
    assert row["updated_at"] is None
    assert row["due_at"] == row["overdue_after"] == datetime(2026, 12, 31, 23, tzinfo=UTC)
    assert row["remind_at"] == datetime(2026, 12, 31, 22, tzinfo=UTC)
    assert not compiled.reads
    assert GET_TITLES.sqlite.reads


def _read_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith(sqlite.READ_THREAD)}


async def test_reads_that_sort_are_run_in_the_worker_thread_and_index_walks_on_the_loop(
    sqlite_url: str,
) -> None:
    store = await open_database(make_settings(sqlite_url))
    assert isinstance(store, SQLiteDatabase)
    newest_first, by_title = page_query(ListShape()), page_query(ListShape(sort="title", descending=False))
    threads_before = _read_threads()
    try:
        for title in ("b", "c", "a"):
            async with store.transaction() as connection:
                await connection.fetch(CREATE_TASK, _new_task(title))
        page = {"owner": "alice", "limit": 10, "offset": 0}
        async with store.autocommit() as connection:
            await connection.fetch(GET_TASK, {"owner": "alice", "task_id": 1})
            newest = await connection.fetch(newest_first, page)
            after_index_walks = _read_threads() - threads_before
            titles = [row["title"] for row in await connection.fetch(by_title, page)]
        after_a_sort = _read_threads() - threads_before
    finally:
        await store.close()

    assert after_index_walks == set()
    assert len(after_a_sort) == 1
    assert not after_a_sort & _read_threads()  # the thread ends with the store
    assert titles == ["a", "b", "c"]
    assert len(newest) == 3


def test_a_plan_that_sorts_or_scans_is_told_from_an_index_walk(sqlite_url: str) -> None:
    with closing(sqlite3.connect(_path(sqlite_url))) as connection:

        def slow(query: Query) -> bool:
            compiled = query.sqlite.compiled
            return sqlite.sorts_or_scans(connection, compiled.sql, len(compiled.parameters))

        assert not slow(GET_TASK)
        assert not slow(page_query(ListShape(status=True)))
        assert not slow(count_query(ListShape()))
        assert slow(page_query(ListShape(sort="title", descending=False)))
        assert slow(page_query(ListShape(sort="updated_at")))
        assert slow(Query(sa.select(task_table.c.id).where(task_table.c.title == sa.bindparam("title"))))
