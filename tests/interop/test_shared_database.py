"""Shared database mode with the real Better Auth tables: a user's tasks go when the user goes.

Better Auth and the service use one PostgreSQL database; Better Auth migrates first (at
its start), then the service with BETTER_AUTH_SHARED_DATABASE=true adds its foreign key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from alembic import command

from tests.conftest import make_settings
from tests.interop.conftest import (
    PASSWORD,
    SECRET,
    BetterAuthUser,
    Databases,
    ServiceFactory,
    jwks_settings,
    running_issuer,
)
from tests.interop.issuer_driver import BetterAuthIssuer
from tests.interop.service_driver import TodoService
from todo_api.db.engine import create_engine
from todo_api.migrations import alembic_config

pytestmark = pytest.mark.interop


def fetch_value(database_url: str, query: str, *args: Any) -> Any:
    async def fetch() -> Any:
        connection = await asyncpg.connect(database_url)
        try:
            return await connection.fetchval(query, *args)
        finally:
            await connection.close()

    return asyncio.run(fetch())


@pytest.fixture(scope="module")
def shared_database(databases: Databases) -> Iterator[str]:
    with databases.fresh() as url:
        yield url


@pytest.fixture(scope="module")
def issuer(shared_database: str, installed_issuer: BetterAuthIssuer) -> Iterator[BetterAuthIssuer]:
    """Better Auth on the shared database; it creates "user", "session"… as it starts."""
    with running_issuer(installed_issuer, shared_database) as running:
        yield running


@pytest.fixture(scope="module")
def shared_service(
    shared_database: str, issuer: BetterAuthIssuer, module_services: ServiceFactory
) -> TodoService:
    # Node's own secret, so the signed forms of its session tokens (and its cookie) verify.
    settings = jwks_settings(issuer) | {"BETTER_AUTH_SHARED_DATABASE": "true", "BETTER_AUTH_SECRET": SECRET}
    return module_services(settings, database_url=shared_database)


def create_tasks(service: TodoService, token: str, *titles: str) -> list[dict[str, Any]]:
    with service.client(token) as api:
        responses = [api.post("/api/tasks", json={"title": title}) for title in titles]
    assert [response.status_code for response in responses] == [201] * len(titles)
    return [response.json() for response in responses]


def test_task_user_id_references_better_auths_user_table_with_cascade(
    shared_service: TodoService, shared_database: str
) -> None:
    definition = fetch_value(
        shared_database,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fk_task_user_id_user'",
    )

    assert definition == 'FOREIGN KEY (user_id) REFERENCES "user"(id) ON DELETE CASCADE'


def test_deleting_a_better_auth_user_deletes_their_tasks_and_nothing_else(
    issuer: BetterAuthIssuer,
    shared_service: TodoService,
    shared_database: str,
    alice: BetterAuthUser,
    bob: BetterAuthUser,
) -> None:
    create_tasks(shared_service, issuer.jwt(alice.session), "alice 1", "alice 2")
    bob_token = issuer.jwt(bob.session)
    bobs_tasks = create_tasks(shared_service, bob_token, "bob 1", "bob 2")
    count = "SELECT count(*) FROM task WHERE user_id = $1"
    alice_before = fetch_value(shared_database, count, alice.id)

    issuer.delete_user(alice.session, PASSWORD)

    assert alice_before == 2
    assert fetch_value(shared_database, 'SELECT count(*) FROM "user" WHERE id = $1', alice.id) == 0
    assert fetch_value(shared_database, count, alice.id) == 0
    assert fetch_value(shared_database, count, bob.id) == 2
    # The per-user quota counter followed the cascade (its triggers), so it still equals the count.
    used = "SELECT used FROM task_quota WHERE user_id = $1"
    assert (fetch_value(shared_database, used, alice.id), fetch_value(shared_database, used, bob.id)) == (
        0,
        2,
    )
    with shared_service.client(bob_token) as api:
        assert sorted(api.get("/api/tasks").json(), key=lambda task: task["id"]) == bobs_tasks


def test_deleted_users_unexpired_token_cannot_create_tasks(
    issuer: BetterAuthIssuer, shared_service: TodoService, alice: BetterAuthUser
) -> None:
    token = issuer.jwt(alice.session)
    issuer.delete_user(alice.session, PASSWORD)

    with shared_service.client(token) as api:
        created = api.post("/api/tasks", json={"title": "from beyond"})
        listed = api.get("/api/tasks")

    assert created.status_code == 401
    assert created.json() == {"detail": "Invalid token: the user no longer exists"}
    assert (listed.status_code, listed.json()) == (200, [])


async def test_alembic_check_passes_next_to_better_auths_tables(
    shared_service: TodoService, shared_database: str
) -> None:
    engine = create_engine(make_settings(shared_database))
    try:
        async with engine.connect() as connection:
            # Raises if autogenerate would emit anything, e.g. drop "user" or the foreign key.
            await connection.run_sync(lambda sync: command.check(alembic_config(sync)))
    finally:
        await engine.dispose()


def session_answers(service: TodoService, issuer: BetterAuthIssuer, user: BetterAuthUser) -> list[int]:
    """The task API's statuses for Node Better Auth's session token as a bearer and as its cookie."""
    token = issuer.session_token(user.session)
    cookie = issuer.session_cookie(user.session)
    with service.client(token) as by_bearer, service.client() as by_cookie:
        return [
            by_bearer.get("/api/tasks").status_code,
            by_cookie.get("/api/tasks", headers={"Cookie": cookie}).status_code,
            by_cookie.post(
                "/api/tasks",
                json={"title": "by cookie"},
                headers={"Cookie": cookie, "Origin": issuer.base_url},
            ).status_code,
        ]


def test_node_better_auth_sessions_work_on_the_task_api_until_sign_out_there(
    issuer: BetterAuthIssuer, shared_service: TodoService, alice: BetterAuthUser
) -> None:
    token = issuer.session_token(alice.session)
    cookie = issuer.session_cookie(alice.session)
    before = session_answers(shared_service, issuer, alice)

    issuer.sign_out(alice.session)
    with shared_service.client(token) as by_bearer, shared_service.client() as by_cookie:
        after = [
            by_bearer.get("/api/tasks").status_code,
            by_cookie.get("/api/tasks", headers={"Cookie": cookie}).status_code,
        ]

    assert before == [200, 200, 201]
    assert after == [401, 401]


def test_an_expired_node_better_auth_session_is_refused(
    issuer: BetterAuthIssuer, shared_service: TodoService, shared_database: str, alice: BetterAuthUser
) -> None:
    token = issuer.session_token(alice.session)
    fetch_value(
        shared_database,
        """UPDATE session SET "expiresAt" = now() - interval '1 second' WHERE token = $1 RETURNING id""",
        token,
    )

    with shared_service.client(token) as api:
        response = api.get("/api/tasks")

    assert response.status_code == 401
