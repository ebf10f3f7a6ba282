"""What the lifespan builds, typed: the one way routes and dependencies reach it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from todo_api.db.connection import Database

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from todo_api.auth import Authenticator
    from todo_api.config import Settings
    from todo_api.ratelimit import RateLimiter


@dataclass(frozen=True, slots=True)
class AppState:
    """The app's long-lived objects: settings, the database, the authenticator, the limiter."""

    settings: Settings
    database: Database
    authenticator: Authenticator
    rate_limiter: RateLimiter | None


def app_state(connection: HTTPConnection) -> AppState:
    """The running app's state (set by the lifespan before the first request)."""
    state: AppState = connection.app.state.todo_api
    return state


def install_state(app: Starlette, state: AppState) -> None:
    """Make `state` what `app_state` returns for this app's requests."""
    app.state.todo_api = state


async def get_database(connection: HTTPConnection) -> Database:
    """The app's database, for a service to open its unit of work on."""
    return app_state(connection).database


DatabaseDep = Annotated[Database, Depends(get_database)]
