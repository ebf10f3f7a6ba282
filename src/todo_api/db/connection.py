"""What a request's unit of work runs on: one `Connection`, with a driver for each database.

A service opens its unit of work on the `Database` and runs its statements on the connection
it gets. Statements go in as `Query` objects (compiled once) and rows come out as mappings,
whichever the driver: asyncpg on PostgreSQL, `sqlite3` on SQLite (`db/sqlite.py`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

import asyncpg
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from todo_api.db.query import CompiledStatement, Query, Row, Statement

# Released when the transaction ends, so a failed request can never leave it held. Task
# requests need none (their quota is one statement); creating the first signing key does.
_LOCK_KEY = sa.bindparam("key", type_=sa.String)
_TRANSACTION_LOCK = Query(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(_LOCK_KEY, 0))))


class ForeignKeyViolation(Exception):
    """A write referred to a row that does not exist (shared database mode: a deleted user)."""


class UniqueViolation(Exception):
    """A write would have repeated a value a unique constraint allows once (a taken e-mail)."""


class Connection(ABC):
    """What services see of the database: statements in, rows out."""

    @abstractmethod
    async def fetch(self, query: Query | Statement, values: Mapping[str, Any] | None = None) -> list[Row]:
        """All rows. A `Query` is compiled once; a plain statement (built per call) every time."""

    async def fetch_one(
        self, query: Query | Statement, values: Mapping[str, Any] | None = None
    ) -> Row | None:
        """The first row, or None."""
        rows = await self.fetch(query, values)
        return rows[0] if rows else None

    @abstractmethod
    async def lock(self, key: str) -> None:
        """Queue behind any other transaction holding `key` until this transaction ends."""


class PostgresConnection(Connection):
    """A pooled asyncpg connection; statements are prepared once per connection and kept."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def fetch(self, query: Query | Statement, values: Mapping[str, Any] | None = None) -> list[Row]:
        compiled = query.postgres if isinstance(query, Query) else CompiledStatement.compile(query)
        try:
            rows = await self._connection.fetch(compiled.sql, *compiled.arguments(values or {}))
        except asyncpg.ForeignKeyViolationError:
            raise ForeignKeyViolation() from None
        except asyncpg.UniqueViolationError:
            raise UniqueViolation() from None
        # asyncpg's Record looks rows up by column name, as a Mapping does.
        return cast(list[Row], rows)

    async def lock(self, key: str) -> None:
        await self.fetch(_TRANSACTION_LOCK, {"key": key})


class Database(ABC):
    """Where a unit of work comes from; opened and closed by the app's lifespan.

    The unit of work ends (and a write is committed) before the response exists: a failed
    COMMIT is an error response, never a 201 for a write that did not happen.
    """

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """For writes: one transaction, committed when the block ends, rolled back on any error."""

    @abstractmethod
    def autocommit(self, *, plan_per_call: bool = False) -> AbstractAsyncContextManager[Connection]:
        """For reads and one-statement writes: each statement commits on its own (a single
        statement is atomic), so BEGIN and COMMIT, two round trips, are skipped.

        `plan_per_call`: for a statement whose best plan depends on its values (a search of a
        user with ten tasks or ten thousand), PostgreSQL plans every run with the values it
        gets instead of settling on the one plan it keeps for a prepared statement, which is
        costed for a user of average size. That costs a plan per run.
        """

    @abstractmethod
    async def ping(self) -> None:
        """Run `SELECT 1`, or raise."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection."""


class OpenTransaction(Database):
    """A `Database` bound to one connection inside a transaction someone else opened and will
    end: its `transaction()` and `autocommit()` both hand out that connection, so a service
    function runs unchanged as a part of a larger unit of work (an idempotent write commits
    with the record of its answer). Nothing here begins, commits or closes anything.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        yield self._connection

    @asynccontextmanager
    async def autocommit(self, *, plan_per_call: bool = False) -> AsyncIterator[Connection]:
        # Inside the transaction every statement waits for its COMMIT; the plan option is lost,
        # which costs a search a generic plan at worst, never a wrong answer.
        yield self._connection

    async def ping(self) -> None:
        await self._connection.fetch(sa.select(sa.literal(1)))

    async def close(self) -> None:
        # The connection belongs to the unit of work that lent it.
        return


class PostgresDatabase(Database):
    """An asyncpg pool: a transaction for multi-statement writes, autocommit for the rest.

    `planning_pool`, when given, serves `autocommit(plan_per_call=True)`: its connections
    plan every run of a statement. Without one (prepared statements off, for a transaction-mode
    pooler) every statement is prepared unnamed for its one run, so it is planned with its
    values anyway.
    """

    def __init__(
        self, pool: asyncpg.Pool, *, acquire_timeout: float, planning_pool: asyncpg.Pool | None = None
    ) -> None:
        self._pool = pool
        self._planning_pool = planning_pool or pool
        self._acquire_timeout = acquire_timeout

    @property
    def _pools(self) -> tuple[asyncpg.Pool, ...]:
        return tuple(dict.fromkeys((self._pool, self._planning_pool)))

    @property
    def open_connections(self) -> int:
        """How many connections the pools hold open now, idle or in use."""
        return sum(cast(int, pool.get_size()) for pool in self._pools)

    @property
    def idle_connections(self) -> int:
        """How many open connections wait in the pools for a request."""
        return sum(cast(int, pool.get_idle_size()) for pool in self._pools)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with _Checkout(self._pool, self._acquire_timeout) as connection, connection.transaction():
            yield PostgresConnection(connection)

    def autocommit(self, *, plan_per_call: bool = False) -> AbstractAsyncContextManager[Connection]:
        return _Autocommit(self._planning_pool if plan_per_call else self._pool, self._acquire_timeout)

    async def ping(self) -> None:
        async with _Checkout(self._pool, self._acquire_timeout) as connection:
            await connection.fetchval("SELECT 1")

    async def close(self) -> None:
        for pool in self._pools:
            await pool.close()


class _Checkout:
    """A pooled connection for one block. A class rather than an `asynccontextmanager`: this
    runs on every request, and a generator-based context manager costs several times more.

    asyncpg replaces a connection the server closed while it sat in the pool (restart,
    failover, pg_terminate_backend) instead of handing it out; no ping round trip. The wait is
    bounded with asyncio.timeout rather than acquire(timeout=...), which wraps every acquire in
    a task of its own even when a connection is free.
    """

    __slots__ = ("_connection", "_pool", "_timeout")

    def __init__(self, pool: asyncpg.Pool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._connection: asyncpg.Connection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        async with asyncio.timeout(self._timeout):
            self._connection = await self._pool.acquire()
        return self._connection

    async def __aexit__(self, *_exc_info: object) -> None:
        if self._connection is not None:
            await self._pool.release(self._connection)


class _Autocommit(_Checkout):
    async def __aenter__(self) -> PostgresConnection:
        return PostgresConnection(await super().__aenter__())


UNAVAILABLE_ERRORS = (
    # OSError covers refused and reset connections and asyncio's timeouts.
    OSError,
    sa_exc.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # Shutdown, crash recovery, "cannot connect now", a cancelled statement.
    asyncpg.exceptions.OperatorInterventionError,
    # Too many connections, out of memory or disk.
    asyncpg.exceptions.InsufficientResourcesError,
    # SQLite: locked past DB_COMMAND_TIMEOUT, a file that cannot be opened or read, a full disk.
    sqlite3.OperationalError,
)


def is_database_unavailable(error: Exception) -> bool:
    """Refused, dropped, timed out or exhausted: the database is away and clients should retry."""
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return isinstance(error, UNAVAILABLE_ERRORS)
