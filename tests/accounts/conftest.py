"""The app with the built-in sign-in on, and helpers to sign users up through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import make_settings, serving_app
from todo_api.db.engine import create_engine

PASSWORD = "placeholder-password-123"


@pytest.fixture
async def auth_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the app with BUILTIN_AUTH on; it keeps no cookies between calls."""
    async with serving_app(database_url, builtin_auth=True) as (app, _):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with ForgetfulClient(transport=transport, base_url="http://testserver") as client:
            yield client


class ForgetfulClient(httpx.AsyncClient):
    """Keeps no cookies, so each test sends exactly the cookies it means to."""

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = await super().send(request, **kwargs)
        self.cookies.clear()
        return response


async def sign_up(
    client: httpx.AsyncClient, email: str = "alice@example.com", password: str = PASSWORD, **extra: Any
) -> httpx.Response:
    body = {"name": "Alice", "email": email, "password": password} | extra
    return await client.post("/api/auth/sign-up/email", json=body)


def cookie_pairs(response: httpx.Response) -> str:
    """The cookies a response set, as the next request's Cookie header."""
    return "; ".join(header.split(";")[0] for header in response.headers.get_list("set-cookie"))


async def count_rows(database_url: str, table: sa.Table) -> int:
    """How many rows `table` holds now, read on a connection of the test's own."""
    engine = create_engine(make_settings(database_url))
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())
    finally:
        await engine.dispose()
