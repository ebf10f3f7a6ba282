"""Failures never leak internals: a lost database is a fast 503, a bug is a generic 500."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_settings
from todo_api.database import get_session
from todo_api.main import create_app

UNREACHABLE = "postgresql://todo:placeholder-password@127.0.0.1:1/todo"


@pytest.fixture
async def unreachable_client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(UNREACHABLE))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_unreachable_database_is_a_fast_503_with_retry_after(
    unreachable_client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]]
) -> None:
    started = time.monotonic()

    response = await unreachable_client.get("/api/tasks", headers=auth("alice"))

    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert response.json() == {"detail": "Database unavailable, retry shortly"}
    assert time.monotonic() - started < 5


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


async def test_unexpected_errors_are_a_generic_500(
    app: FastAPI, client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]]
) -> None:
    async def broken_session() -> AsyncIterator[None]:
        raise RuntimeError("SELECT secret FROM internals -- driver said something revealing")
        yield  # pragma: no cover

    app.dependency_overrides[get_session] = broken_session

    response = await client.get("/api/tasks", headers=auth("alice"))

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing/here/at/all")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_a_failed_commit_is_an_error_not_a_success(
    database_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    # With the session dependency's default scope the commit would run after the 201 was sent.
    app = create_app(make_settings(database_url))
    async with app.router.lifespan_context(app):
        original = app.state.sessionmaker

        def failing_sessionmaker():  # type: ignore[no-untyped-def]
            session = original()

            async def refuse() -> None:
                raise ConnectionResetError("connection lost during commit")

            session.commit = refuse
            return session

        app.state.sessionmaker = failing_sessionmaker
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post("/api/tasks", json={"title": "lost?"}, headers=auth("alice"))
        app.state.sessionmaker = original
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            listed = await client.get("/api/tasks", headers=auth("alice"))

    assert response.status_code == 503
    assert listed.json() == []
