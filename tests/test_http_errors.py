"""Failures never leak internals: a lost database is a fast 503, a bug is a generic 500."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import answered_within, make_settings
from tests.proxy import Proxy
from todo_api.config import Settings
from todo_api.db.engine import create_engine
from todo_api.main import create_app
from todo_api.state import AppState, install_state

UNREACHABLE = "postgresql://todo:placeholder-password@127.0.0.1:1/todo"


@pytest.fixture
async def unreachable_client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(UNREACHABLE))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_refused_database_is_a_503_with_retry_after(
    unreachable_client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]]
) -> None:
    response = await unreachable_client.get("/api/tasks", headers=auth("alice"))

    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert response.json() == {"detail": "Database unavailable, retry shortly"}


@pytest.fixture
async def silent_database() -> AsyncIterator[Proxy]:
    """A PostgreSQL address that accepts connections and never answers (no server behind it)."""
    proxy = Proxy("127.0.0.1", 1)
    await proxy.black_hole()
    try:
        yield proxy
    finally:
        await proxy.cut()


async def test_a_database_that_never_answers_is_a_503_within_the_connect_timeout(
    silent_database: Proxy, auth: Callable[[str], dict[str, str]]
) -> None:
    # Nothing refuses or resets the connection, so only DB_CONNECT_TIMEOUT (1 s) ends the wait;
    # the command timeout is at its maximum so it cannot be what answers.
    url = f"postgresql://todo:placeholder-password@127.0.0.1:{silent_database.port}/todo"
    app = create_app(make_settings(url, db_connect_timeout=1.0, db_command_timeout=600.0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await answered_within(client.get("/api/tasks", headers=auth("alice")))

    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert response.json() == {"detail": "Database unavailable, retry shortly"}
    assert silent_database.swallowed >= 1, "the request never reached the silent database"


async def test_unreachable_database_fails_readiness_not_liveness(
    unreachable_client: httpx.AsyncClient,
) -> None:
    assert (await unreachable_client.get("/health")).status_code == 200
    ready = await unreachable_client.get("/health/ready")
    assert ready.status_code == 503
    assert "detail" in ready.json()


async def test_readiness_is_ok_with_a_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


class BrokenDatabase:
    """A database whose every use fails with a message that must never reach the client."""

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[None]:
        raise RuntimeError("SELECT secret FROM internals -- driver said something revealing")
        yield  # pragma: no cover


def break_database(app: FastAPI) -> None:
    """From now on every request of the running `app` gets a BrokenDatabase."""
    state: AppState = app.state.todo_api
    install_state(app, dataclasses.replace(state, database=BrokenDatabase()))  # type: ignore[arg-type]


async def test_unexpected_errors_are_a_generic_500(
    app: FastAPI, client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]]
) -> None:
    break_database(app)

    response = await client.get("/api/tasks", headers=auth("alice"))

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing/here/at/all")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def commit_time_failure(dialect: str, event: str) -> list[str]:
    """Statements that make every INSERT or UPDATE of a task fail only at COMMIT, as a
    deferred constraint does."""
    if dialect == "sqlite":
        return [
            "CREATE TABLE commit_guard (ref INTEGER REFERENCES task (id) DEFERRABLE INITIALLY DEFERRED)",
            f"CREATE TRIGGER guard AFTER {event} ON task BEGIN INSERT INTO commit_guard VALUES (-1); END",  # noqa: S608
        ]
    return [
        "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$",
        f"CREATE CONSTRAINT TRIGGER refuse_commit AFTER {event} ON task "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()",
    ]


UNDO_COMMIT_TIME_FAILURE = {
    "sqlite": ["DROP TRIGGER guard", "DROP TABLE commit_guard"],
    "postgresql": ["DROP TRIGGER refuse_commit ON task", "DROP FUNCTION refuse_commit()"],
}


@pytest.mark.changes_schema
@pytest.mark.parametrize("event", ["INSERT", "UPDATE"])
async def test_a_failed_commit_is_an_error_not_a_success(
    settings: Settings, client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], event: str
) -> None:
    # A create commits its transaction, a toggle its one statement, before the response exists.
    existing = (await client.post("/api/tasks", json={"title": "kept"}, headers=auth("alice"))).json()
    engine = create_engine(settings)
    dialect = engine.dialect.name
    async with engine.begin() as connection:
        for statement in commit_time_failure(dialect, event):
            await connection.execute(text(statement))
    try:
        if event == "INSERT":
            response = await client.post("/api/tasks", json={"title": "lost?"}, headers=auth("alice"))
        else:
            response = await client.patch(f"/api/tasks/{existing['id']}/complete", headers=auth("alice"))
    finally:
        async with engine.begin() as connection:
            for statement in UNDO_COMMIT_TIME_FAILURE[dialect]:
                await connection.execute(text(statement))
        await engine.dispose()
    listed = await client.get("/api/tasks", headers=auth("alice"))

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert listed.json() == [existing]


async def test_an_unexpected_error_is_answered_and_logged_once_never_passed_to_the_server(
    app: FastAPI, auth: Callable[[str], dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    break_database(app)
    # raise_app_exceptions=True: an error the app let escape would be raised here, as a server
    # would see it (and log it a second time).
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/api/tasks", headers=auth("alice"))

    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert [getattr(record, "event", None) for record in errors] == ["unhandled_error"]
    assert errors[0].exc_info is not None
