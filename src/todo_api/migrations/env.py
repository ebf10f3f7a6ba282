"""Alembic environment: runs on a connection handed in by todo_api, or builds one from settings."""

from __future__ import annotations

import asyncio
import logging

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import SchemaItem
from sqlmodel import SQLModel

import todo_api.models  # noqa: F401  (registers the tables on the metadata)
from todo_api.config import load_settings
from todo_api.db.engine import create_engine
from todo_api.migrations import (
    CONVERSATION_USER_FOREIGN_KEY,
    SEARCH_INDEX,
    SHARED_DATABASE_ATTRIBUTE,
    SHARED_DATABASE_FOREIGN_KEY,
)

logger = logging.getLogger("todo_api.migrations")

# Any fixed number: instances starting together queue on it instead of racing the DDL.
MIGRATION_LOCK_KEY = 7_415_926_535

target_metadata = SQLModel.metadata


def include_object(
    item: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    """What autogenerate compares: our tables, not Better Auth's when sharing its database."""
    # A table only the database has is someone else's (Better Auth's "user", "session"…):
    # autogenerate must never write a migration that drops it.
    if type_ == "table" and reflected and compare_to is None:
        return False
    # PostgreSQL's trigram index for search (migration 0010) is not in the models: it needs
    # extensions the database may not allow, so it may be missing, and SQLite has none.
    if type_ == "index" and name == SEARCH_INDEX:
        return False
    return not (
        type_ == "foreign_key_constraint"
        and name in {SHARED_DATABASE_FOREIGN_KEY, CONVERSATION_USER_FOREIGN_KEY}
    )


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Held until this transaction ends, so it is released even if a migration fails.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        # Read under the lock: an instance that waited for another sees what that one did.
        before = context.get_context().get_current_revision()
        context.run_migrations()
        after = context.get_context().get_current_revision()
    if after != before:
        # One line of our own instead of Alembic's, which are kept below WARNING.
        logger.info(
            "database migrated",
            extra={"event": "database_migrated", "from_revision": before, "to_revision": after},
        )


async def run_with_new_engine() -> None:
    settings = load_settings()
    context.config.attributes.setdefault(SHARED_DATABASE_ATTRIBUTE, settings.better_auth_shared_database)
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    asyncio.run(run_with_new_engine())
