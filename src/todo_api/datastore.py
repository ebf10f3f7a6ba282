"""How requests reach the database: one unit of work each, and statements compiled once.

On PostgreSQL, requests run on an asyncpg pool. Statements are still written once, with
SQLAlchemy Core, but compiled to SQL once per process and prepared by asyncpg once per
connection, so a request pays for neither again (SQLAlchemy's execution layer, result
processing and pool cost more than the query itself for these one-row and one-page requests).
SQLite, the zero-setup default, runs the same statements through SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Protocol, cast

import asyncpg
import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from todo_api.database import create_sqlite_engine, normalize_database_url, postgres_connect_args

if TYPE_CHECKING:
    from todo_api.config import Settings

logger = logging.getLogger(__name__)

Row = Mapping[str, Any]
Statement = sa.Select[Any] | sa.Insert | sa.Update | sa.Delete
_POSTGRES = asyncpg_dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    """PostgreSQL text with `$n` placeholders, and where each argument comes from."""

    sql: str
    # (name, required): a required value comes from the caller, any other is fixed in the statement.
    parameters: tuple[tuple[str, bool], ...]
    fixed: Mapping[str, Any]

    @classmethod
    def compile(cls, statement: Statement) -> CompiledStatement:
        compiled = statement.compile(dialect=_POSTGRES)
        names = compiled.positiontup or []
        return cls(
            sql=compiled.string,
            parameters=tuple((name, compiled.binds[name].required) for name in names),
            fixed=compiled.construct_params(_check=False),
        )

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments; a missing required value is a KeyError."""
        return [values[name] if required else self.fixed[name] for name, required in self.parameters]


class Query:
    """A Core statement with named bind parameters, compiled for PostgreSQL on first use."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._postgres: CompiledStatement | None = None

    @property
    def postgres(self) -> CompiledStatement:
        if self._postgres is None:
            self._postgres = CompiledStatement.compile(self.statement)
        return self._postgres


class ForeignKeyViolation(Exception):
    """A write referred to a row that does not exist (shared database mode: a deleted user)."""


class Connection(Protocol):
    """What services see of the database: statements in, rows out."""

    dialect: str

    async def fetch(self, query: Query | Statement, values: Mapping[str, Any] | None = None) -> list[Row]:
        """All rows. A `Query` is compiled once; a plain statement (built per call) every time."""
        ...

    async def fetch_one(
        self, query: Query | Statement, values: Mapping[str, Any] | None = None
    ) -> Row | None:
        """The first row, or None."""
        ...


class _Connection(ABC):
    """`fetch_one` on top of each driver's `fetch`."""

    @abstractmethod
    async def fetch(self, query: Query | Statement, values: Mapping[str, Any] | None = None) -> list[Row]:
        """All rows."""

    async def fetch_one(
        self, query: Query | Statement, values: Mapping[str, Any] | None = None
    ) -> Row | None:
        """The first row, or None."""
        rows = await self.fetch(query, values)
        return rows[0] if rows else None


class PostgresConnection(_Connection):
    """A pooled asyncpg connection; statements are prepared once per connection and kept."""

    dialect = "postgresql"

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def fetch(self, query: Query | Statement, values: Mapping[str, Any] | None = None) -> list[Row]:
        compiled = query.postgres if isinstance(query, Query) else CompiledStatement.compile(query)
        try:
            rows = await self._connection.fetch(compiled.sql, *compiled.arguments(values or {}))
        except asyncpg.ForeignKeyViolationError:
            raise ForeignKeyViolation() from None
        # asyncpg's Record looks rows up by column name, as a Mapping does.
        return cast(list[Row], rows)


class SQLAlchemyConnection(_Connection):
    """A SQLAlchemy connection (SQLite), running the statements as they are written."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self.dialect = connection.dialect.name

    async def fetch(self, query: Query | Statement, values: Mapping[str, Any] | None = None) -> list[Row]:
        statement = query.statement if isinstance(query, Query) else query
        result = await self._connection.execute(statement, dict(values or {}))
        return [cast(Row, row._mapping) for row in result] if result.returns_rows else []


class Database(Protocol):
    """Where a request's unit of work comes from; opened and closed by the app's lifespan.

    A route runs its service call inside one of these blocks, so the unit of work ends
    (and a write is committed) before the response exists: a failed COMMIT is an error
    response, never a 201 for a write that did not happen.
    """

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """For writes: one transaction, committed when the block ends, rolled back on any error."""
        ...

    def autocommit(self) -> AbstractAsyncContextManager[Connection]:
        """For reads and one-statement writes: each statement commits on its own (a single
        statement is atomic), so BEGIN and COMMIT, two round trips, are skipped."""
        ...

    async def ping(self) -> None:
        """Run `SELECT 1`, or raise."""
        ...

    async def close(self) -> None:
        """Close every connection."""
        ...


class PostgresDatabase:
    """An asyncpg pool: a transaction for multi-statement writes, autocommit for the rest."""

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._connection() as connection, connection.transaction():
            yield PostgresConnection(connection)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Connection]:
        async with self._connection() as connection:
            yield PostgresConnection(connection)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        # asyncpg replaces a connection the server closed while it sat in the pool (restart,
        # failover, pg_terminate_backend) instead of handing it out; no ping round trip.
        # Bounded with asyncio.timeout rather than acquire(timeout=...), which wraps every
        # acquire in a task of its own even when a connection is free.
        async with asyncio.timeout(self._acquire_timeout):
            connection = await self._pool.acquire()
        try:
            yield connection
        finally:
            await self._pool.release(connection)

    async def ping(self) -> None:
        async with self._connection() as connection:
            await connection.fetchval("SELECT 1")

    async def close(self) -> None:
        await self._pool.close()


class SQLAlchemyDatabase:
    """A SQLAlchemy engine (SQLite): writes in a transaction, reads in autocommit."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Made once, as building it is not free.
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._engine.begin() as connection:
            yield SQLAlchemyConnection(connection)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Connection]:
        async with self._reads.connect() as connection:
            yield SQLAlchemyConnection(connection)

    async def ping(self) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self._engine.dispose()


async def open_database(settings: Settings) -> Database:
    """The configured database's pool; nothing connects until the first request."""
    target = normalize_database_url(settings.database_url.get_secret_value())
    for note in target.notes:
        logger.warning(note)
    if target.is_sqlite:
        return SQLAlchemyDatabase(create_sqlite_engine(target, settings))
    url = target.url
    pool = await asyncpg.create_pool(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
        # Opened on demand, so the service starts (and reports not ready) while the database is away.
        min_size=0,
        max_size=settings.db_pool_size + settings.db_max_overflow,
        max_inactive_connection_lifetime=1800,
        reset=_keep_session,
        **postgres_connect_args(target, settings, driver_cache=False),
    )
    return PostgresDatabase(pool, acquire_timeout=settings.db_connect_timeout)


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool.

    Requests leave no session state behind (no SET, LISTEN, cursors or session-level locks;
    the quota lock is transaction-level), so asyncpg's default reset query would cost a round
    trip on every request for nothing. asyncpg still rolls back an interrupted transaction
    before calling this, and a connection that fails that is closed, not reused.
    """


def is_database_unavailable(error: Exception) -> bool:
    """Refused, dropped, timed out or exhausted: the database is away and clients should retry."""
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return isinstance(error, UNAVAILABLE_ERRORS)


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
)


async def get_database(request: Request) -> Database:
    """The app's database, for a route to open its unit of work on."""
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]
