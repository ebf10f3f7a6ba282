"""Idempotency-Key on task writes: a retry is answered with the first answer, never written twice."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from tests.conftest import Database, asyncpg_dsn, eventually, make_settings, run_sql, serving, serving_app
from tests.tasks.conftest import TaskApi
from todo_api.db.connection import Database as OpenDatabase
from todo_api.db.sqlite import SQLiteDatabase
from todo_api.idempotency import service
from todo_api.idempotency.statements import STORE
from todo_api.main import create_app
from todo_api.models import idempotency_key_table, task_table, utc_now
from todo_api.state import AppState
from todo_api.tasks import service as tasks_service
from todo_api.tasks.schemas import TaskCreate

Auth = Callable[[str], dict[str, str]]
KEY = "Idempotency-Key"


def keyed(key: str | None = None) -> dict[str, str]:
    return {KEY: key or str(uuid.uuid4())}


def state_of(app: FastAPI) -> AppState:
    state: AppState = app.state.todo_api
    return state


async def run(app: FastAPI, statement: Any) -> list[Any]:
    """A statement run on the app's own database (either kind), outside any request."""
    async with state_of(app).database.autocommit() as connection:
        return list(await connection.fetch(statement))


async def stored_keys(app: FastAPI) -> list[tuple[str, str]]:
    table = idempotency_key_table.c
    rows = await run(app, sa.select(table.user_id, table.key).order_by(table.user_id, table.key))
    return [(row["user_id"], row["key"]) for row in rows]


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with serving_app(database_url) as (app, client):
        yield app, client


async def test_a_retried_create_makes_one_task_and_gets_the_same_answer(api: TaskApi) -> None:
    key = keyed()
    first = await api.call("POST", "alice", json={"title": "Buy milk"}, headers=key)
    retried = await api.call("POST", "alice", json={"title": "Buy milk"}, headers=key)
    listed = await api.list("alice")

    assert (first.status_code, retried.status_code) == (201, 201)
    assert retried.json() == first.json()
    assert retried.headers["etag"] == first.headers["etag"]
    assert retried.headers["location"] == first.headers["location"]
    assert retried.headers["content-type"] == "application/json"
    assert "idempotent-replayed" not in first.headers
    assert retried.headers["idempotent-replayed"] == "true"
    assert listed.headers["x-total-count"] == "1"


async def test_without_a_key_every_create_is_a_new_task(api: TaskApi) -> None:
    for _ in range(2):
        created = await api.call("POST", "alice", json={"title": "Buy milk"})
        assert "idempotent-replayed" not in created.headers

    assert (await api.list("alice")).headers["x-total-count"] == "2"


async def test_a_retried_toggle_does_not_flip_the_task_back(api: TaskApi) -> None:
    task = await api.create("alice")
    key = keyed()
    first = await api.call("PATCH", "alice", task["id"], "/complete", headers=key)
    retried = await api.call("PATCH", "alice", task["id"], "/complete", headers=key)
    stored = await api.get("alice", task["id"])

    assert first.json()["completed"] is True
    assert retried.json() == first.json()
    assert retried.headers["idempotent-replayed"] == "true"
    assert stored.json()["completed"] is True


async def test_a_retried_delete_is_answered_as_the_first_was(api: TaskApi) -> None:
    task = await api.create("alice")
    key = keyed()
    first = await api.call("DELETE", "alice", task["id"], headers=key)
    retried = await api.call("DELETE", "alice", task["id"], headers=key)
    unkeyed = await api.call("DELETE", "alice", task["id"])

    assert (first.status_code, retried.status_code, unkeyed.status_code) == (204, 204, 404)
    assert retried.content == b""
    assert retried.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_a_retried_update_is_replayed_with_its_etag(api: TaskApi, method: str) -> None:
    task = await api.create("alice")
    key = keyed()
    first = await api.call(method, "alice", task["id"], json={"title": "renamed"}, headers=key)
    # Meanwhile another change: the retry still gets the answer of its own write.
    await api.call("PATCH", "alice", task["id"], json={"title": "changed again"})
    retried = await api.call(method, "alice", task["id"], json={"title": "renamed"}, headers=key)

    assert first.status_code == 200
    assert retried.json() == first.json()
    assert retried.headers["etag"] == first.headers["etag"]
    assert (await api.get("alice", task["id"])).json()["title"] == "changed again"


async def test_a_retried_reminder_acknowledgement_is_replayed(api: TaskApi) -> None:
    task = await api.create("alice", due_date="2026-01-01T09:00:00Z", remind_at="2026-01-01T08:00:00Z")
    key = keyed()
    first = await api.call("POST", "alice", task["id"], "/reminders/ack", headers=key)
    retried = await api.call("POST", "alice", task["id"], "/reminders/ack", headers=key)

    assert first.status_code == 200
    assert first.json()["reminder_acknowledged"] is True
    assert retried.json() == first.json()
    assert retried.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("family", ["/api/tags", "/api/alice/tags"])
async def test_retried_tag_writes_are_replayed(api: TaskApi, family: str) -> None:
    await api.create("alice", tags=["home"])
    rename, remove = keyed(), keyed()
    renamed = await api.client.patch(
        f"{family}/home", json={"name": "house"}, headers=api.auth("alice") | rename
    )
    renamed_again = await api.client.patch(
        f"{family}/home", json={"name": "house"}, headers=api.auth("alice") | rename
    )
    removed = await api.client.delete(f"{family}/house", headers=api.auth("alice") | remove)
    removed_again = await api.client.delete(f"{family}/house", headers=api.auth("alice") | remove)

    assert renamed.status_code == 200
    assert renamed.json() == {"name": "house", "task_count": 1}
    # Without the key, both retries would be 404s: the tag is gone.
    assert (renamed_again.status_code, renamed_again.json()) == (200, renamed.json())
    assert renamed_again.headers["idempotent-replayed"] == "true"
    assert (removed.status_code, removed_again.status_code) == (204, 204)
    assert removed_again.headers["idempotent-replayed"] == "true"


async def test_a_key_names_the_same_request_in_both_route_families(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    key = keyed()
    first = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | key)
    retried = await client.post("/api/alice/tasks", json={"title": "x"}, headers=auth("alice") | key)

    assert retried.json() == first.json()
    assert retried.headers["idempotent-replayed"] == "true"


async def test_spacing_and_key_order_make_no_other_request(client: httpx.AsyncClient, auth: Auth) -> None:
    headers = auth("alice") | keyed() | {"Content-Type": "application/json"}
    first = await client.post("/api/tasks", content=b'{"title":"x","priority":"high"}', headers=headers)
    retried = await client.post(
        "/api/tasks", content=b'{ "priority" : "high",\n  "title" : "x" }', headers=headers
    )

    assert retried.json() == first.json()
    assert retried.headers["idempotent-replayed"] == "true"


async def test_the_same_key_for_another_request_is_422_and_writes_nothing(api: TaskApi) -> None:
    one, two = await api.create("alice"), await api.create("alice")
    key = keyed()
    first = await api.call("PATCH", "alice", one["id"], json={"title": "first"}, headers=key)
    other_body = await api.call("PATCH", "alice", one["id"], json={"title": "second"}, headers=key)
    other_task = await api.call("PATCH", "alice", two["id"], json={"title": "first"}, headers=key)
    other_method = await api.call("PUT", "alice", one["id"], json={"title": "first"}, headers=key)
    other_route = await api.call("DELETE", "alice", two["id"], headers=key)

    assert first.status_code == 200
    for refused in (other_body, other_task, other_method, other_route):
        assert refused.status_code == 422
        assert "Idempotency-Key" in refused.json()["detail"]
        assert "idempotent-replayed" not in refused.headers
    assert (await api.get("alice", one["id"])).json()["title"] == "first"
    assert (await api.get("alice", two["id"])).json() == two


async def test_another_users_same_key_is_theirs_alone(client: httpx.AsyncClient, auth: Auth) -> None:
    key = keyed("shared-key")
    alices = await client.post("/api/tasks", json={"title": "alice's"}, headers=auth("alice") | key)
    bobs = await client.post("/api/tasks", json={"title": "alice's"}, headers=auth("bob") | key)
    carols = await client.post("/api/tasks", json={"title": "something else"}, headers=auth("carol") | key)

    assert (alices.status_code, bobs.status_code, carols.status_code) == (201, 201, 201)
    # Bob's request ran as his own: never Alice's answer (her task's id), nor a 422 for Carol.
    assert "idempotent-replayed" not in bobs.headers
    assert "idempotent-replayed" not in carols.headers
    assert bobs.json()["id"] != alices.json()["id"]
    bob_listed = await client.get("/api/tasks", headers=auth("bob"))
    assert [task["id"] for task in bob_listed.json()] == [bobs.json()["id"]]
    alice_listed = await client.get("/api/tasks", headers=auth("alice"))
    assert [task["id"] for task in alice_listed.json()] == [alices.json()["id"]]


async def test_a_refused_request_uses_no_key(database_url: str, auth: Auth) -> None:
    key = keyed()
    async with serving(database_url, max_tasks_per_user=1) as client:
        existing = await client.post("/api/tasks", json={"title": "first"}, headers=auth("alice"))
        over_quota = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | key)
        await client.delete(f"/api/tasks/{existing.json()['id']}", headers=auth("alice"))
        retried = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | key)
        task = f"/api/tasks/{retried.json()['id']}"
        # Refused by validation, before the key was looked at: the corrected request runs.
        invalid = await client.patch(task, json={"title": ""}, headers=auth("alice") | keyed("k2"))
        corrected = await client.patch(task, json={"title": "y"}, headers=auth("alice") | keyed("k2"))

    assert over_quota.status_code == 409
    assert "idempotent-replayed" not in over_quota.headers
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert invalid.status_code == 422
    assert corrected.status_code == 200
    assert "idempotent-replayed" not in corrected.headers


async def test_an_answer_that_is_not_2xx_is_not_stored_and_its_write_is_undone(
    served: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, _ = served
    database = state_of(app).database
    calls: list[int] = []

    async def write(transaction: OpenDatabase) -> service.Answer:
        calls.append(1)
        created = TaskCreate(title="x")
        await tasks_service.create_task(transaction, user_id="alice", data=created, max_tasks=10)
        return service.Answer(status=409, body=b'{"detail": "refused"}')

    answers = [
        await service.answer_once(
            database, user_id="alice", key="k", fingerprint="f", ttl=timedelta(days=1), write=write
        )
        for _ in range(2)
    ]
    tasks = await run(app, sa.select(sa.func.count().label("n")).select_from(task_table))

    assert [(answer.status, answer.replayed) for answer in answers] == [(409, False), (409, False)]
    assert len(calls) == 2
    assert tasks[0]["n"] == 0
    assert await stored_keys(app) == []


async def test_a_write_that_fails_stores_no_answer(
    served: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served
    missing = await client.patch("/api/tasks/999", json={"title": "x"}, headers=auth("alice") | keyed())

    assert missing.status_code == 404
    assert await stored_keys(app) == []


@pytest.mark.parametrize(
    "value",
    [b"", b"two words", b"caf\xc3\xa9", b"tab\there", b"x" * 256, b"k" * 10_000, b"\xff\xfe"],
    ids=["empty", "space", "non-ascii", "control", "256-long", "10000-long", "bytes"],
)
async def test_a_key_that_is_not_1_to_255_visible_ascii_characters_is_400(
    client: httpx.AsyncClient, auth: Auth, value: bytes
) -> None:
    headers = [*auth("alice").items(), (KEY, value)]
    response = await client.post("/api/tasks", json={"title": "x"}, headers=headers)
    listed = await client.get("/api/tasks", headers=auth("alice"))

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert "Traceback" not in response.text
    assert listed.json() == []


async def test_a_key_of_255_visible_characters_is_taken(client: httpx.AsyncClient, auth: Auth) -> None:
    key = keyed("!" + "~" * 253 + "a")
    first = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | key)
    retried = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | key)

    assert first.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"


async def test_an_expired_key_counts_as_absent_and_is_replaced(
    served: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served
    key = keyed()
    first = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | key)
    ttl = timedelta(seconds=state_of(app).settings.idempotency_ttl)
    expired = utc_now() - ttl - timedelta(seconds=1)
    await run(app, sa.update(idempotency_key_table).values(created_at=expired))
    # Another request with the key: after its time to live, the key is free again.
    second = await client.post("/api/tasks", json={"title": "y"}, headers=auth("alice") | key)
    third = await client.post("/api/tasks", json={"title": "y"}, headers=auth("alice") | key)

    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    assert third.json() == second.json()
    assert third.headers["idempotent-replayed"] == "true"


async def test_pruning_deletes_expired_records_only(
    served: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = served
    for key in ("old", "new"):
        await client.post("/api/tasks", json={"title": key}, headers=auth("alice") | keyed(key))
    table = idempotency_key_table.c
    long_ago = utc_now() - timedelta(days=2)
    await run(app, sa.update(idempotency_key_table).where(table.key == "old").values(created_at=long_ago))

    await service.prune(state_of(app).database, before=utc_now() - timedelta(days=1))

    assert await stored_keys(app) == [("alice", "new")]


async def test_the_app_prunes_periodically(served: tuple[FastAPI, httpx.AsyncClient], auth: Auth) -> None:
    app, client = served
    await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | keyed("old"))
    database = state_of(app).database
    await run(app, sa.update(idempotency_key_table).values(created_at=utc_now() - timedelta(days=2)))

    async def pruned() -> bool:
        return await stored_keys(app) == []

    async with service.pruning(database, ttl=timedelta(days=1), first_after=0, every=0.01):
        await eventually(pruned, "pruned")


@pytest.mark.changes_schema
async def test_a_write_is_undone_when_its_answer_cannot_be_stored(
    database: Database, database_url: str, auth: Auth
) -> None:
    # The record's insert fails, after the task's own insert succeeded in the transaction.
    if database.is_postgres:
        await run_sql(
            database_url,
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
            "CREATE TRIGGER refuse BEFORE INSERT ON idempotency_key FOR EACH ROW EXECUTE FUNCTION refuse()",
        )
    else:
        with closing(sqlite3.connect(make_url(database_url).database or "")) as connection:
            connection.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON idempotency_key "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
    async with serving(database_url) as client:
        response = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | keyed())
        listed = await client.get("/api/tasks", headers=auth("alice"))

    assert response.status_code == 500
    assert "refused" not in response.text
    assert listed.json() == []


async def test_cors_lets_pages_send_the_key_and_read_the_replay(database_url: str, auth: Auth) -> None:
    origin = {"Origin": "http://localhost:3000"}
    preflight = origin | {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }
    async with serving(database_url, cors_origins=["http://localhost:3000"]) as client:
        asked = await client.options("/api/tasks", headers=preflight)
        created = await client.post(
            "/api/tasks", json={"title": "x"}, headers=origin | auth("alice") | keyed()
        )

    assert asked.status_code == 200
    assert "idempotency-key" in asked.headers["access-control-allow-headers"].lower()
    assert "idempotent-replayed" in created.headers["access-control-expose-headers"].lower()


async def test_on_sqlite_a_retry_while_the_first_runs_waits_and_is_replayed(
    database: Database, database_url: str, auth: Auth
) -> None:
    if database.is_postgres:
        pytest.skip("SQLite's one writer (PostgreSQL answers 409: see the next tests)")
    blocker = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    key = keyed()
    try:
        async with serving_app(database_url) as (app, client):
            sqlite_database = state_of(app).database
            assert isinstance(sqlite_database, SQLiteDatabase)
            # Another process's write transaction holds the file: the first request waits inside
            # its own transaction, holding the app's one writer.
            blocker.execute("BEGIN IMMEDIATE")
            first = asyncio.create_task(
                client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | key)
            )

            async def first_is_waiting() -> bool:
                return sqlite_database.lock_waits > 0

            await eventually(first_is_waiting, "waiting for the file's lock")
            retried = asyncio.create_task(
                client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | key)
            )
            blocker.execute("ROLLBACK")
            answers = await asyncio.gather(first, retried)
            listed = await client.get("/api/tasks", headers=auth("alice"))
    finally:
        blocker.close()

    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[1].json() == answers[0].json()
    assert "idempotent-replayed" not in answers[0].headers
    assert answers[1].headers["idempotent-replayed"] == "true"
    assert listed.headers["x-total-count"] == "1"


@pytest.fixture
async def postgres_served(
    database: Database, database_url: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    if not database.is_postgres:
        pytest.skip("races need PostgreSQL's concurrency (set TEST_DATABASE_URL)")
    app = create_app(make_settings(database_url, rate_limit_enabled=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            yield app, client


async def test_20_concurrent_retries_create_exactly_one_task(
    postgres_served: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    app, client = postgres_served
    key = keyed()
    answers = await asyncio.gather(
        *(client.post("/api/tasks", json={"title": "once"}, headers=auth("alice") | key) for _ in range(20))
    )
    listed = await client.get("/api/tasks", headers=auth("alice"))

    created = [answer for answer in answers if answer.status_code == 201]
    in_progress = [answer for answer in answers if answer.status_code == 409]
    assert len(created) + len(in_progress) == 20
    assert [answer.headers.get("idempotent-replayed") for answer in created].count(None) == 1
    assert all(answer.json() == created[0].json() for answer in created)
    for answer in in_progress:
        assert answer.headers["retry-after"] == "1"
        assert "Idempotency-Key" in answer.json()["detail"]
    assert listed.headers["x-total-count"] == "1"
    assert await stored_keys(app) == [("alice", key[KEY])]
    # Once the first has answered, every retry is its replay.
    after = await client.post("/api/tasks", json={"title": "once"}, headers=auth("alice") | key)
    assert (after.status_code, after.json()) == (201, created[0].json())


async def test_a_retry_while_the_first_still_runs_is_409_on_postgres(
    postgres_served: tuple[FastAPI, httpx.AsyncClient], auth: Auth, database_url: str
) -> None:
    _, client = postgres_served
    created = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice"))
    task_id = created.json()["id"]
    key = keyed()
    blocker = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        # The test holds the task's row: the first request waits inside its transaction.
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("SELECT 1 FROM task WHERE id = $1 FOR UPDATE", task_id)
        first = asyncio.create_task(
            client.patch(f"/api/tasks/{task_id}", json={"title": "y"}, headers=auth("alice") | key)
        )

        async def first_is_waiting() -> bool:
            waiting = await blocker.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            return bool(waiting)

        await eventually(first_is_waiting, "waiting for the task's row")
        during = await client.patch(f"/api/tasks/{task_id}", json={"title": "y"}, headers=auth("alice") | key)
        await transaction.rollback()
        answered = await first
    finally:
        await blocker.close()
    after = await client.patch(f"/api/tasks/{task_id}", json={"title": "y"}, headers=auth("alice") | key)

    assert during.status_code == 409
    assert during.headers["retry-after"] == "1"
    assert "still in progress" in during.json()["detail"]
    assert answered.status_code == 200
    assert (after.status_code, after.json()) == (200, answered.json())
    assert after.headers["idempotent-replayed"] == "true"


async def test_a_replay_takes_no_lock_of_a_running_request(
    postgres_served: tuple[FastAPI, httpx.AsyncClient], auth: Auth
) -> None:
    # Once stored, an answer is replayed to concurrent retries: none of them is refused.
    _, client = postgres_served
    key = keyed()
    first = await client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | key)
    answers = await asyncio.gather(
        *(client.post("/api/tasks", json={"title": "x"}, headers=auth("alice") | key) for _ in range(10))
    )

    assert [answer.status_code for answer in answers] == [201] * 10
    assert all(answer.json() == first.json() for answer in answers)


async def test_an_answer_stored_meanwhile_undoes_this_write_and_is_replayed(
    postgres_served: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    # The one race the key's lock leaves: a retry whose lookup read the database just before the
    # first request committed. Here the other request's record commits while this one writes.
    app, _ = postgres_served
    database = state_of(app).database
    theirs = service.Answer(status=201, body=b'{"theirs": true}')
    request = service.fingerprint("POST", "/api/tasks", b'{"title": "x"}')

    async def write(transaction: OpenDatabase) -> service.Answer:
        await tasks_service.create_task(
            transaction, user_id="alice", data=TaskCreate(title="mine"), max_tasks=10
        )
        async with database.autocommit() as other:
            now = utc_now()
            await other.fetch(
                STORE,
                {
                    "owner": "alice",
                    "key": "k",
                    "fingerprint": request,
                    "status": theirs.status,
                    "body": theirs.body.decode(),
                    "headers": "{}",
                    "now": now,
                    "since": now - timedelta(days=1),
                },
            )
        return service.Answer(status=201, body=b'{"mine": true}')

    answer = await service.answer_once(
        database, user_id="alice", key="k", fingerprint=request, ttl=timedelta(days=1), write=write
    )
    tasks = await run(app, sa.select(sa.func.count().label("n")).select_from(task_table))

    assert (answer.status, answer.body, answer.replayed) == (201, theirs.body, True)
    assert tasks[0]["n"] == 0
