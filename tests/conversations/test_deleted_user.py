"""Shared database mode on PostgreSQL: a conversation belongs to a row of Better Auth's "user"
table, as a task does (migration 0011 adds the foreign key wherever 0002 added the task's), so a
user deleted there takes their conversations and messages along, and a still-valid token of
theirs cannot start a new one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic import command

from tests.conftest import Database, make_settings, rows, run_sql, serving_app
from tests.conversations.conftest import app_database
from todo_api.conversations import service
from todo_api.db.engine import create_engine
from todo_api.errors import Unauthenticated
from todo_api.migrations import CONVERSATION_USER_FOREIGN_KEY, SHARED_DATABASE_FOREIGN_KEY, alembic_config


async def migrate(database_url: str, action: Callable[..., None], revision: str) -> None:
    engine = create_engine(make_settings(database_url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: action(alembic_config(sync), revision))
    finally:
        await engine.dispose()


FOREIGN_KEYS = "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = 'conversation'::regclass"


@pytest.mark.changes_schema
async def test_a_deleted_users_conversations_go_with_them(
    database: Database, database_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    if not database.is_postgres:
        pytest.skip("shared database mode is a PostgreSQL feature")
    without = await rows(database_url, FOREIGN_KEYS)
    # As migration 0002 leaves a database in shared database mode; 0011 then follows it.
    await migrate(database_url, command.downgrade, "0010")
    await run_sql(
        database_url,
        """INSERT INTO "user" (id, name, email, "emailVerified") VALUES """
        "('alice', 'Alice', 'alice@example.com', true), ('bob', 'Bob', 'bob@example.com', true)",
        f'ALTER TABLE task ADD CONSTRAINT "{SHARED_DATABASE_FOREIGN_KEY}" '
        'FOREIGN KEY (user_id) REFERENCES "user" (id) ON DELETE CASCADE',
    )
    await migrate(database_url, command.upgrade, "head")
    with_key = await rows(database_url, FOREIGN_KEYS)
    async with serving_app(database_url, better_auth_shared_database=True, builtin_auth=False) as (
        app,
        client,
    ):
        conversations = app_database(app)
        started = await service.start_conversation(conversations, user_id="alice", content="hello")
        await service.add_assistant_message(
            conversations, user_id="alice", conversation_id=started["conversation_id"], content="hi"
        )
        await service.start_conversation(conversations, user_id="bob", content="bob's")
        await run_sql(database_url, """DELETE FROM "user" WHERE id = 'alice'""")
        with pytest.raises(Unauthenticated) as refused:
            await service.start_conversation(conversations, user_id="alice", content="from beyond")
        listed = await client.get("/api/conversations", headers=auth("alice"))

    assert refused.value.detail == "Invalid token: the user no longer exists"
    assert [row["conname"] for row in without] == []
    assert [row["conname"] for row in with_key] == [CONVERSATION_USER_FOREIGN_KEY]
    assert (listed.status_code, listed.json()) == (200, [])
    assert [tuple(row) for row in await rows(database_url, "SELECT user_id FROM conversation")] == [("bob",)]
    assert [tuple(row) for row in await rows(database_url, "SELECT user_id, content FROM message")] == [
        ("bob", "bob's")
    ]
