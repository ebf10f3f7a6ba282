"""What the lifespan builds, typed: the one way routes and dependencies reach it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Protocol

from fastapi import Depends
from starlette.requests import HTTPConnection

from todo_api.db.connection import Database

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from todo_api.config import Settings
    from todo_api.ratelimit import RateLimiter
    from todo_api.tokens import TokenVerifier


class SessionUsers(Protocol):
    """Whose live Better Auth session a request carries (the accounts feature answers; the
    edge asks). A user is their id; None means no live session, or a signature not ours."""

    def session_cookie(self, cookie_header: str) -> str | None:
        """The session cookie's value in a Cookie header, not yet verified; None if absent."""

    async def user_for_bearer(self, presented: str) -> str | None:
        """The user of the session a bearer token names (the raw token, or signed)."""

    async def user_for_cookie(self, value: str) -> str | None:
        """The user of the session a signed session cookie names."""


@dataclass(frozen=True, slots=True)
class AppState:
    """The app's long-lived objects: settings, the database, the token verifier, the limiter."""

    settings: Settings
    database: Database
    token_verifier: TokenVerifier
    rate_limiter: RateLimiter | None
    # With the built-in sign-in or a shared Better Auth database: Better Auth sessions.
    session_users: SessionUsers | None = None


def app_state(connection: HTTPConnection) -> AppState:
    """The running app's state (set by the lifespan before the first request)."""
    state: AppState = connection.app.state.todo_api
    return state


def install_state(app: Starlette, state: AppState) -> None:
    """Make `state` what `app_state` returns for this app's requests."""
    # Set as a plain attribute of `app.state` (as `app.state.todo_api` still reads it): a name
    # set through `State.__setattr__` is found by `State.__getattr__`, only after a failed
    # attribute lookup has raised and caught an AttributeError, about 1 µs on every read and
    # three reads per task request.
    object.__setattr__(app.state, "todo_api", state)


async def get_database(connection: HTTPConnection) -> Database:
    """The app's database, for a service to open its unit of work on."""
    return app_state(connection).database


DatabaseDep = Annotated[Database, Depends(get_database)]
