"""Shared database mode on PostgreSQL: a task belongs to a row of Better Auth's "user" table
(migration 0002's foreign key), so a user deleted there can no longer add tasks, even with a
token that has not expired yet."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Database, rows, run_sql, serving
from todo_api.migrations import SHARED_DATABASE_FOREIGN_KEY


@pytest.mark.changes_schema
async def test_a_deleted_users_unexpired_token_cannot_create_a_task(
    database: Database, database_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    if not database.is_postgres:
        pytest.skip("shared database mode is a PostgreSQL feature")
    await run_sql(
        database_url,
        """INSERT INTO "user" (id, name, email, "emailVerified") """
        "VALUES ('alice', 'Alice', 'alice@example.com', true)",
        f'ALTER TABLE task ADD CONSTRAINT "{SHARED_DATABASE_FOREIGN_KEY}" '
        'FOREIGN KEY (user_id) REFERENCES "user" (id) ON DELETE CASCADE',
    )
    async with serving(database_url, better_auth_shared_database=True, builtin_auth=False) as client:
        before = await client.post("/api/tasks", json={"title": "kept"}, headers=auth("alice"))
        await run_sql(database_url, """DELETE FROM "user" WHERE id = 'alice'""")
        after = await client.post("/api/tasks", json={"title": "from beyond"}, headers=auth("alice"))
        listed = await client.get("/api/tasks", headers=auth("alice"))

    assert before.status_code == 201
    assert (after.status_code, after.json()) == (401, {"detail": "Invalid token: the user no longer exists"})
    assert (listed.status_code, listed.json()) == (200, [])
    assert await rows(database_url, "SELECT user_id, title FROM task") == []
