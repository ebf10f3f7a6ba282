"""Schema migrations (Alembic), shipped inside the package so any install can migrate."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from todo_api.config import Settings
from todo_api.db.engine import connect, create_engine

MIGRATIONS_DIR = Path(__file__).parent
# The attribute migrations read to know whether Better Auth's tables share this database,
# and the foreign key migration 0002 then adds (the models do not declare it).
SHARED_DATABASE_ATTRIBUTE = "better_auth_shared_database"
SHARED_DATABASE_FOREIGN_KEY = "fk_task_user_id_user"
# Its twin on conversations, which migration 0011 adds where tasks have it.
CONVERSATION_USER_FOREIGN_KEY = "fk_conversation_user_id_user"
# PostgreSQL's trigram index for search and tag filters, which migration 0010 adds where the
# database allows its extensions (the models do not declare it).
SEARCH_INDEX = "ix_task_search"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's config without an ini file; `connection` is used instead of a new engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


async def upgrade_database(settings: Settings, revision: str = "head") -> None:
    """Apply migrations up to `revision`; safe when several instances start at once.

    Raises DatabaseUnreachable when no connection can be opened, before any migration runs.
    """
    engine = create_engine(settings)
    try:
        connection = await connect(engine, settings)
        try:
            async with connection.begin():
                await connection.run_sync(lambda sync: _upgrade(sync, settings, revision))
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, settings: Settings, revision: str) -> None:
    command.upgrade(_config_for(connection, settings), revision)


def _config_for(connection: Connection, settings: Settings) -> Config:
    config = alembic_config(connection)
    config.attributes[SHARED_DATABASE_ATTRIBUTE] = settings.better_auth_shared_database
    return config
