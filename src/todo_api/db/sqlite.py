"""SQLite through the standard `sqlite3` module, called on the event loop itself.

Why not a thread per statement (aiosqlite): a read of a few pages from SQLite's page cache
takes microseconds, and handing it to a thread and back takes far longer than that. So
statements run inline, and everything that could make one wait longer is kept off the loop:

- **Locks never block the thread.** `busy_timeout` is 0: a statement that finds the database
  locked (by another process: a second worker, `todo-api migrate`) fails at once and is retried
  after an `asyncio.sleep`, with backoff, until `DB_COMMAND_TIMEOUT` (then a 503).
- **Writers queue in asyncio, not in SQLite.** There is one writer connection, behind an
  `asyncio.Lock`; a transaction holds it from `BEGIN IMMEDIATE` to `COMMIT`. Reads use their
  own connection and never wait for writes (WAL: readers see the last committed state).
- **No fsync on the loop.** WAL with `synchronous=NORMAL`: a commit appends to the WAL without
  an fsync (a power cut may lose the last commits, never the database's consistency).
  Checkpoints, which do fsync, run in a worker thread on a connection of their own
  (automatic checkpoints are off on the writer).

- **Reads SQLite must sort or scan go to a thread.** A page sorted by title, say, is not an index
  walk: for a user with 10,000 tasks and a large offset SQLite sorts them all (tens of
  milliseconds or more). On first use each read's plan is asked for (`EXPLAIN QUERY PLAN`); a
  plan with a temporary B-tree or a full scan runs in one worker thread, on a reader connection
  of its own, so it delays no other request.

What still runs on the loop is each index probe: microseconds on cached pages (a page not yet
in the OS cache is a disk read).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from todo_api.db.connection import Connection, Database, UniqueViolation
from todo_api.db.query import Query, Row, SQLiteStatement, Statement

_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_FIRST_RETRY_SECONDS, _LONGEST_RETRY_SECONDS = 0.001, 0.05
# Commits between checkpoints: roughly SQLite's own default of 1,000 WAL pages for these writes.
CHECKPOINT_EVERY = 250
# Prepared statements kept per connection (sqlite3's cache, keyed by SQL text).
_STATEMENT_CACHE = 256
# The name of the worker thread that runs reads which sort or scan, as thread dumps show it.
READ_THREAD = "sqlite-read"


def connect(path: str, *, busy_timeout_ms: int = 0) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, foreign keys on.

    Off the loop a connection may wait for locks in SQLite itself (`busy_timeout_ms`).
    """
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=_STATEMENT_CACHE
    )
    pragmas = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", f"busy_timeout={busy_timeout_ms}")
    for pragma in pragmas:
        connection.execute(f"PRAGMA {pragma}")
    return connection


def sorts_or_scans(connection: sqlite3.Connection, sql: str, parameters: int) -> bool:
    """Whether SQLite's plan for `sql` reads a whole table, or sorts rows read from a table
    (a temporary B-tree beside a table's search). Scanning or sorting a subquery's rows is not
    counted: the list's page is one, bounded by its LIMIT."""
    tables = {
        str(row[0]) for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    plan = connection.execute(f"EXPLAIN QUERY PLAN {sql}", (None,) * parameters).fetchall()

    def reads_a_table(detail: str) -> bool:
        words = detail.split()
        return len(words) > 1 and words[0] in ("SCAN", "SEARCH") and words[1] in tables

    # Each row is (id, parent, _, detail); a sort belongs to the level of its parent.
    reading_levels = {parent for _, parent, _, detail in plan if reads_a_table(str(detail))}
    for _, parent, _, detail in plan:
        text = str(detail)
        if text.startswith("SCAN") and reads_a_table(text):
            return True
        if "TEMP B-TREE" in text and parent in reading_levels:
            return True
    return False


class SQLiteDatabase(Database):
    """One reader and one writer connection on the loop; checkpoints in a worker thread."""

    def __init__(self, path: str, *, command_timeout: float) -> None:
        self._path = path
        self._command_timeout = command_timeout
        self._in_memory = path in ("", ":memory:")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._writes_since_checkpoint = 0
        self._checkpoint: asyncio.Task[None] | None = None
        # Reads that sort or scan: one thread, one connection of its own, one read at a time.
        self._slow_reads: ThreadPoolExecutor | None = None
        self._slow_reader: sqlite3.Connection | None = None
        self._sorts_or_scans: dict[str, bool] = {}
        self._lock_waits = 0

    @property
    def lock_waits(self) -> int:
        """How many times a statement found the database locked by another process (a second
        worker, `todo-api migrate`) and had to wait; a count that keeps growing means writers
        contend for the file."""
        return self._lock_waits

    def _connections(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        # Opened on first use, so the app starts (and reports not ready) while the file cannot be opened.
        if self._writer is None or self._reader is None:
            writer = connect(self._path)
            if self._in_memory:
                # A second connection would open another, empty database.
                self._writer = self._reader = writer
            else:
                writer.execute("PRAGMA wal_autocheckpoint=0")
                self._writer, self._reader = writer, connect(self._path)
        return self._writer, self._reader

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        writer, _ = self._connections()
        async with self._write_lock:
            await self.run(writer, "BEGIN IMMEDIATE")
            try:
                yield _TransactionConnection(self, writer)
            except BaseException:
                # SQLite may already have rolled back (a full disk, an I/O error).
                if writer.in_transaction:
                    writer.execute("ROLLBACK")
                raise
            try:
                writer.execute("COMMIT")
            except sqlite3.Error:
                if writer.in_transaction:
                    writer.execute("ROLLBACK")
                raise
        self.wrote()

    @asynccontextmanager
    async def autocommit(self, *, plan_per_call: bool = False) -> AsyncIterator[Connection]:
        # The option is PostgreSQL's (its kept generic plans); SQLite has nothing to choose.
        yield _AutocommitConnection(self)

    async def read(self, statement: SQLiteStatement, values: Mapping[str, Any]) -> list[Row]:
        _, reader = self._connections()
        if not self._in_memory:
            if self._is_slow(reader, statement):
                if self._slow_reads is None:
                    self._slow_reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix=READ_THREAD)
                loop = asyncio.get_running_loop()
                raw = await loop.run_in_executor(self._slow_reads, self._read_in_thread, statement, values)
                return statement.rows(raw)
            return await self.execute(reader, statement, values)
        # In memory the reader is the writer: wait for an open transaction to end first.
        async with self._write_lock:
            return await self.execute(reader, statement, values)

    def _is_slow(self, reader: sqlite3.Connection, statement: SQLiteStatement) -> bool:
        sql = statement.compiled.sql
        slow = self._sorts_or_scans.get(sql)
        if slow is None:
            slow = self._sorts_or_scans[sql] = sorts_or_scans(reader, sql, len(statement.compiled.parameters))
        return slow

    def _read_in_thread(self, statement: SQLiteStatement, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if self._slow_reader is None:
            self._slow_reader = connect(self._path, busy_timeout_ms=int(self._command_timeout * 1000))
        return self._slow_reader.execute(statement.compiled.sql, statement.arguments(values)).fetchall()

    async def write(self, statement: SQLiteStatement, values: Mapping[str, Any]) -> list[Row]:
        """One statement, committed on its own, after any open transaction."""
        writer, _ = self._connections()
        async with self._write_lock:
            rows = await self.execute(writer, statement, values)
        self.wrote()
        return rows

    async def execute(
        self, connection: sqlite3.Connection, statement: SQLiteStatement, values: Mapping[str, Any]
    ) -> list[Row]:
        try:
            raw = await self.run(connection, statement.compiled.sql, statement.arguments(values))
        except sqlite3.IntegrityError as error:
            message = str(error)
            if message.startswith("UNIQUE constraint failed"):
                raise UniqueViolation() from None
            # No FOREIGN KEY failure becomes ForeignKeyViolation ("the user was deleted"): the
            # task table has no key to a user table here (shared database mode is PostgreSQL's),
            # and SQLite's message does not say which key failed, so one is an unexpected error.
            raise
        return statement.rows(raw)

    async def run(
        self, connection: sqlite3.Connection, sql: str, arguments: list[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run `sql`; while the database is locked by someone else, retry after asyncio sleeps."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._command_timeout
        delay = _FIRST_RETRY_SECONDS
        while True:
            try:
                return connection.execute(sql, arguments or ()).fetchall()
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode & 0xFF not in _BUSY:
                    raise
                self._lock_waits += 1
                if loop.time() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(2 * delay, _LONGEST_RETRY_SECONDS)

    def wrote(self) -> None:
        """Count a committed write; every CHECKPOINT_EVERY, checkpoint in a worker thread."""
        self._writes_since_checkpoint += 1
        if self._in_memory or self._writes_since_checkpoint < CHECKPOINT_EVERY:
            return
        if self._checkpoint is None or self._checkpoint.done():
            self._writes_since_checkpoint = 0
            self._checkpoint = asyncio.create_task(asyncio.to_thread(self._run_checkpoint))

    def _run_checkpoint(self) -> None:
        # PASSIVE: copies what no reader still needs and never waits for readers or the writer.
        if self._checkpointer is None:
            self._checkpointer = connect(self._path)
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def ping(self) -> None:
        _, reader = self._connections()
        await self.run(reader, "SELECT 1")

    async def close(self) -> None:
        if self._checkpoint is not None:
            # A failed checkpoint loses nothing: the next one, or the last close, does its work.
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        if self._slow_reads is not None:
            # At shutdown: waits for a slow read still running.
            self._slow_reads.shutdown(wait=True)
            self._slow_reads = None
        connections = (self._reader, self._writer, self._checkpointer, self._slow_reader)
        for connection in {id(c): c for c in connections if c}.values():
            connection.close()
        self._writer = self._reader = self._checkpointer = self._slow_reader = None


def _compiled(query: Query | Statement) -> SQLiteStatement:
    return query.sqlite if isinstance(query, Query) else SQLiteStatement.compile(query)


class _AutocommitConnection(Connection):
    """Reads on the reader connection; each write on the writer, committed on its own."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self._database = database

    async def fetch(self, query: Query | Statement, values: Mapping[str, Any] | None = None) -> list[Row]:
        statement = _compiled(query)
        if statement.reads:
            return await self._database.read(statement, values or {})
        return await self._database.write(statement, values or {})

    async def lock(self, key: str) -> None:
        # Outside a transaction there is nothing to hold a lock to the end of.
        return


class _TransactionConnection(Connection):
    """Every statement on the writer, inside the transaction that holds the write lock."""

    def __init__(self, database: SQLiteDatabase, writer: sqlite3.Connection) -> None:
        self._database = database
        self._writer = writer

    async def fetch(self, query: Query | Statement, values: Mapping[str, Any] | None = None) -> list[Row]:
        return await self._database.execute(self._writer, _compiled(query), values or {})

    async def lock(self, key: str) -> None:
        # The transaction already holds the database's one write lock, taken at BEGIN
        # IMMEDIATE and held to its end, so every other writer queues behind it; a statement
        # that checks and writes at once (as the task quota's insert does) cannot interleave.
        return
