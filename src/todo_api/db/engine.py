"""Engines and pools for the configured database: opened by the lifespan and by migrations."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from todo_api.db.connection import Database, PostgresDatabase
from todo_api.db.sqlite import SQLiteDatabase

if TYPE_CHECKING:
    from todo_api.config import Settings
    from todo_api.database_url import DatabaseTarget

logger = logging.getLogger(__name__)


async def open_database(settings: Settings) -> Database:
    """The configured database's pool; nothing connects until the first request."""
    target = settings.database_url.target
    for note in target.notes:
        logger.warning(note)
    if target.is_sqlite:
        return SQLiteDatabase(target.url.database or "", command_timeout=settings.db_command_timeout)
    size = settings.db_pool_size + settings.db_max_overflow
    pool = await _pool(target, settings, max_size=size)
    planning_pool = None
    if settings.db_prepared_statements:
        planning_pool = await _pool(
            target, settings, max_size=max(2, size // 4), naming=PLANNING_POOL_SUFFIX, init=_plan_per_call
        )
    return PostgresDatabase(pool, acquire_timeout=settings.db_connect_timeout, planning_pool=planning_pool)


APPLICATION_NAME = "todo-api"
# Added to the application name pg_stat_activity shows for the connections that plan each run
# (Database.autocommit's plan_per_call).
PLANNING_POOL_SUFFIX = " (planned per call)"


async def _pool(
    target: DatabaseTarget,
    settings: Settings,
    *,
    max_size: int,
    naming: str = "",
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    url = target.url
    connect_args = _named_connect_args(target, settings, naming)
    return await asyncpg.create_pool(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
        # Opened on demand, so the service starts (and reports not ready) while the database is away.
        min_size=0,
        max_size=max_size,
        max_inactive_connection_lifetime=1800,
        reset=_keep_session,
        init=init,
        **connect_args,
    )


async def _plan_per_call(connection: asyncpg.Connection) -> None:
    """Once per new connection: plan each run of a prepared statement with its values.

    A SET rather than a startup parameter, which PgBouncer refuses unless told to ignore it.
    Behind a transaction-mode pooler there is no planning pool (prepared statements are off);
    `_keep_session` leaves the setting in place, as it leaves everything.
    """
    await connection.execute("SET plan_cache_mode = force_custom_plan")


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool.

    Requests leave no session state behind (no SET, LISTEN, cursors or session-level locks;
    the quota is a row lock, held by one statement), so asyncpg's default reset query would
    cost a round trip on every request for nothing. asyncpg still rolls back an interrupted transaction
    before calling this, and a connection that fails that is closed, not reused.
    """


async def connect_session(
    settings: Settings, *, naming: str, target: DatabaseTarget | None = None
) -> asyncpg.Connection:
    """A PostgreSQL connection of its own, outside the pools, for what lives as long as a session
    (a session-level advisory lock, LISTEN); `naming` is added to its name in pg_stat_activity.
    To DATABASE_URL, unless `target` names another (EVENTS_LISTEN_URL)."""
    target = target or settings.database_url.target
    url = target.url
    connect_args = _named_connect_args(target, settings, naming)
    return await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
        **connect_args,
    )


def create_engine(settings: Settings) -> AsyncEngine:
    """A SQLAlchemy engine for the configured database, for migrations (requests use `open_database`)."""
    target = settings.database_url.target
    if target.is_sqlite:
        return create_sqlite_engine(target, settings)
    return create_async_engine(
        target.url,
        connect_args=postgres_connect_args(target, settings, driver_cache=True),
        pool_timeout=settings.db_connect_timeout,
    )


def _named_connect_args(target: DatabaseTarget, settings: Settings, naming: str) -> dict[str, Any]:
    """`postgres_connect_args`, with `naming` added to the name pg_stat_activity shows."""
    connect_args = postgres_connect_args(target, settings, driver_cache=False)
    if naming:
        server_settings = connect_args["server_settings"]
        connect_args["server_settings"] = server_settings | {
            "application_name": server_settings["application_name"] + naming
        }
    return connect_args


def postgres_connect_args(
    target: DatabaseTarget, settings: Settings, *, driver_cache: bool
) -> dict[str, Any]:
    """asyncpg's connection options: timeouts, TLS, a name in pg_stat_activity, prepared statements.

    `driver_cache` adds the option SQLAlchemy's adapter keeps its own statement cache under.
    """
    connect_args: dict[str, Any] = {
        "timeout": settings.db_connect_timeout,
        "command_timeout": settings.db_command_timeout,
        "server_settings": {"application_name": APPLICATION_NAME},
    } | target.connect_args
    if not settings.db_prepared_statements:
        # Transaction-mode poolers (PgBouncer, Neon's -pooler host) cannot keep them.
        connect_args["statement_cache_size"] = 0
        if driver_cache:
            connect_args["prepared_statement_cache_size"] = 0
    return connect_args


def create_sqlite_engine(target: DatabaseTarget, settings: Settings) -> AsyncEngine:
    """An aiosqlite engine for migrations: WAL, foreign keys on, one shared connection for :memory:."""
    in_memory = target.url.database in (None, "", ":memory:")
    engine = create_async_engine(
        target.url,
        connect_args={"timeout": settings.db_command_timeout},
        # One shared connection keeps an in-memory database alive for the app's lifetime.
        poolclass=StaticPool if in_memory else None,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class DatabaseUnreachable(Exception):
    """The database could not be connected to at all; the message is one line for operators."""


async def connect(engine: AsyncEngine, settings: Settings) -> AsyncConnection:
    """A connection from `engine`, or DatabaseUnreachable saying why none could be opened."""
    target = settings.database_url.target
    # Said before trying: aiosqlite's worker thread, left behind by a failed connect, may still
    # report to the event loop after it has closed, printing a traceback after our one line.
    if target.is_sqlite and (problem := _sqlite_directory_problem(target)) is not None:
        raise DatabaseUnreachable(f"cannot open the SQLite database {target.url.database}: {problem}")
    try:
        return await engine.connect()
    except Exception as exc:
        raise DatabaseUnreachable(describe_connect_failure(exc, settings)) from exc


def describe_connect_failure(exc: BaseException, settings: Settings) -> str:
    """Why connecting failed, in one line naming the server (never the password)."""
    target = settings.database_url.target
    if target.is_sqlite:
        return f"cannot open the SQLite database {target.url.database}: {_sqlite_reason(exc, target)}"
    where = f"{target.url.host or 'localhost'}:{target.url.port or 5432}"
    return f"cannot connect to PostgreSQL at {where}: {_postgres_reason(exc, settings)}"


def _postgres_reason(exc: BaseException, settings: Settings) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused — is it running, and on that port?"
    if isinstance(exc, socket.gaierror):
        return "unknown host — is the host name right?"
    if isinstance(exc, TimeoutError):
        return (
            f"no answer within {settings.db_connect_timeout:g} s (DB_CONNECT_TIMEOUT)"
            " — is it reachable from here?"
        )
    # The server's own words: 'database "x" does not exist', 'password authentication failed
    # for user "x"', 'role "x" does not exist'.
    return _drivers_words(exc)


def _sqlite_reason(exc: BaseException, target: DatabaseTarget) -> str:
    return _sqlite_directory_problem(target) or _drivers_words(exc)


def _sqlite_directory_problem(target: DatabaseTarget) -> str | None:
    """Why the database file's directory cannot hold it, if it cannot (in memory: never)."""
    if target.url.database in (None, "", ":memory:"):
        return None
    directory = Path(target.url.database or "").parent
    if not directory.exists():
        return f"the directory {directory} does not exist"
    if not directory.is_dir():
        return f"{directory} is not a directory"
    return None


def _drivers_words(exc: BaseException) -> str:
    """The first line of what the driver said (SQLAlchemy's wrapper around it adds nothing)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
