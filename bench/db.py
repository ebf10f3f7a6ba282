"""The PostgreSQL side of the benchmark: create, clone, migrate and inspect its databases."""

from __future__ import annotations

import asyncio
import os
import re
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A placeholder: migrations only need settings that validate, never a real signing key.
_MIGRATION_SECRET = "bench-placeholder-secret-not-used-for-tokens"


def server_url() -> str:
    """BENCH_DATABASE_URL (its database is only used for CREATE/DROP DATABASE) or the local server."""
    raw = os.environ.get("BENCH_DATABASE_URL", "").strip() or DEFAULT_SERVER_URL
    scheme, rest = raw.split("://", 1)
    # asyncpg and the service both take plain postgresql://; drop any SQLAlchemy driver suffix.
    if scheme.split("+", 1)[0] not in ("postgres", "postgresql"):
        raise SystemExit(f"bench: BENCH_DATABASE_URL must be a postgresql:// URL, not {scheme}://")
    return f"postgresql://{rest}"


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def host_and_port(url: str) -> tuple[str, int]:
    """Where the server at `url` listens."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def with_host(url: str, host: str, port: int) -> str:
    """The same URL, reaching the server through `host`:`port` (a proxy)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _quoted(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return f'"{name}"'


async def recreate_database(admin_url: str, name: str, *, template: str | None = None) -> None:
    """Drop `name` (closing its sessions) and create it again, empty or as a copy of `template`."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
        if template is None:
            await connection.execute(f"CREATE DATABASE {_quoted(name)}")
        else:
            # FILE_COPY (PostgreSQL 15+) clones at file level: far faster than WAL_LOG for a big template.
            version = int(await connection.fetchval("SHOW server_version_num"))
            strategy = " STRATEGY FILE_COPY" if version >= 150000 else ""
            await connection.execute(
                f"CREATE DATABASE {_quoted(name)} TEMPLATE {_quoted(template)}{strategy}"
            )
    finally:
        await connection.close()


async def drop_database(admin_url: str, name: str) -> None:
    """Drop `name` if it exists."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
    finally:
        await connection.close()


def migrate(url: str) -> None:
    """Apply the service's own Alembic migrations to the database at `url`."""
    # Imported here so `--help` stays fast and the ceiling never imports the service.
    from todo_api.config import load_settings
    from todo_api.migrations import upgrade_database

    settings = load_settings(database_url=url, better_auth_secret=_MIGRATION_SECRET)
    asyncio.run(upgrade_database(settings))


async def server_version(url: str) -> str:
    """PostgreSQL's version string, e.g. '15.20 (Debian 15.20-0+deb12u1)'."""
    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def explain(url: str, sql: str, *args: object) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of `sql`, run once to warm the cache and reported the second time."""
    connection = await asyncpg.connect(url)
    try:
        await connection.fetch(sql, *args)
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
        return "\n".join(row[0] for row in rows)
    finally:
        await connection.close()


async def run_statements(url: str, statements: list[str]) -> None:
    """Run each of `statements` on the database at `url`, in order."""
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()
