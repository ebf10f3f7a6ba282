"""Who is calling: the one place a request becomes a user. Failed authentications count
against the client's address.

A caller is proven by the Authorization header (a JWT, or a Better Auth session token) or,
when it is absent, by Better Auth's signed session cookie. A browser sends that cookie with
any request, including one a page on another site makes it send, so a cookie-authenticated
write must come from a trusted origin (cross-site request forgery).

`Authenticator.authenticate` runs at the edge (`edge.ApiGate`), before any body is read; the
routes receive its answer through `CurrentUser`. It reads nothing of the app but what it is
given, so it sits below the app's state, which holds one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Depends, Path, Request
from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection
from starlette.types import Scope

from todo_api.errors import Forbidden, ServiceUnavailable, Unauthenticated
from todo_api.http_errors import documented
from todo_api.logs import client_address
from todo_api.origins import INVALID_ORIGIN, MISSING_OR_NULL_ORIGIN, trusted_origins, untrusted_origin
from todo_api.tokens import InvalidToken, KeysUnavailable

if TYPE_CHECKING:
    from todo_api.config import Settings
    from todo_api.ratelimit import RateLimiter
    from todo_api.tokens import TokenVerifier

logger = logging.getLogger(__name__)

JWT_DOTS = 2
BEARER_SCHEME = "BearerJWT"
INVALID_TOKEN = "Invalid token"  # noqa: S105 (a message, not a secret)
INVALID_SESSION = "Invalid session cookie"
# Requests a page on another site can make a browser send, cookies and all, without CORS.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ORIGIN_REFUSALS = {
    MISSING_OR_NULL_ORIGIN: "A write authenticated by a session cookie must send its Origin",
    INVALID_ORIGIN: "A write authenticated by a session cookie must come from a trusted origin",
}
PATH_USER_ERRORS: dict[int | str, dict[str, Any]] = {
    403: documented("`user_id` in the path is not the token's `sub`.")
}


@dataclass(frozen=True, slots=True)
class User:
    """The caller, as proven by a verified token: `id` is the token's `sub` and nothing else."""

    id: str


class SessionUsers(Protocol):
    """Whose live Better Auth session a request carries (the accounts feature answers; this
    module asks). A user is their id; None means no live session, or a signature not ours."""

    def session_cookie(self, cookie_header: str) -> str | None:
        """The session cookie's value in a Cookie header, not yet verified; None if absent."""

    async def user_for_bearer(self, presented: str) -> str | None:
        """The user of the session a bearer token names (the raw token, or signed)."""

    async def user_for_cookie(self, value: str) -> str | None:
        """The user of the session a signed session cookie names."""


class TicketUsers(Protocol):
    """Single-use tickets for the one kind of request a browser cannot add a header to: an
    EventSource opening an events stream (the events feature answers; this module asks)."""

    def takes_tickets(self, method: str, path: str) -> bool:
        """Whether a request to `path` may be authenticated by a `?ticket=`."""

    async def user_for_ticket(self, ticket: str) -> str | None:
        """The user the ticket was issued to, spending it; None when unknown, spent or expired."""


@dataclass(frozen=True, slots=True)
class Authenticator:
    """Proves who a request's caller is, with the keys and sessions the lifespan opened."""

    settings: Settings
    token_verifier: TokenVerifier
    rate_limiter: RateLimiter | None
    # With the built-in sign-in or a shared Better Auth database: Better Auth sessions.
    session_users: SessionUsers | None = None
    ticket_users: TicketUsers | None = None

    async def authenticate(self, connection: HTTPConnection) -> User:
        """The verified caller: from the Authorization header, else from the session cookie.

        Raises Unauthenticated (401; TooManyRequests once the client's address is past its
        budget of failures), Forbidden for a cookie-authenticated write from an untrusted
        origin, or ServiceUnavailable when the signing keys cannot be fetched.
        """
        header = connection.headers.get("authorization")
        if not header and self.ticket_users is not None and "ticket" in connection.query_params:
            tickets = self.ticket_users
            if tickets.takes_tickets(connection.scope["method"], connection.scope["path"]):
                return await self._ticket_user(connection, connection.query_params["ticket"], tickets)
        if not header and self.session_users is not None:
            cookie = self.session_users.session_cookie(connection.headers.get("cookie", ""))
            if cookie is not None:
                return await self._cookie_user(connection, cookie, self.session_users)
        presented = bearer_token(header)
        if presented is None:
            reason = "Not authenticated" if not header else "Authorization must be 'Bearer <token>'"
            raise await self._refuse(connection, reason, token_sent=False)
        # A JWT has two dots; Better Auth's session tokens none, or one when signed.
        if self.session_users is not None and presented.count(".") < JWT_DOTS:
            return await self._session_user(connection, presented, self.session_users)
        try:
            token = await self.token_verifier.verify(presented)
        except InvalidToken as exc:
            # In production the answer does not say which check failed (an oracle for anyone
            # probing keys and signatures); the log does. In development it helps wire things up.
            public = INVALID_TOKEN if self.settings.is_production else None
            reason = f"{INVALID_TOKEN}: {exc}"
            raise await self._refuse(connection, reason, token_sent=True, public=public) from None
        except KeysUnavailable:
            logger.warning(
                "signing keys unavailable",
                extra={
                    "event": "jwks_unavailable",
                    "client": client_address(connection),
                    "path": connection.url.path,
                },
            )
            raise ServiceUnavailable("Cannot verify the token right now, retry shortly") from None
        return User(id=token.subject)

    async def _refuse(
        self, connection: HTTPConnection, reason: str, *, token_sent: bool, public: str | None = None
    ) -> Unauthenticated:
        """The 401 for a failed authentication (answered with `public`, by default the reason),
        once counted against the client's address: past RATE_LIMIT_AUTH_FAILURES it raises a
        429 instead. Valid tokens are never counted, so a flood from one address never locks
        out a user who shares it (behind a NAT, say)."""
        if self.rate_limiter is not None:
            await self.rate_limiter.check_failed_authentication(client_address(connection))
        logger.warning(
            "authentication failed",
            extra={
                "event": "authentication_failed",
                "reason": reason,
                "client": client_address(connection),
                "path": connection.url.path,
            },
        )
        return Unauthenticated(public or reason, token_sent=token_sent)

    async def _session_user(
        self, connection: HTTPConnection, presented: str, session_users: SessionUsers
    ) -> User:
        user_id = await session_users.user_for_bearer(presented)
        if user_id is None:
            reason = f"{INVALID_TOKEN}: no live session"
            raise await self._refuse(connection, reason, token_sent=True, public=INVALID_TOKEN)
        return User(id=user_id)

    async def _ticket_user(self, connection: HTTPConnection, ticket: str, tickets: TicketUsers) -> User:
        user_id = await tickets.user_for_ticket(ticket)
        if user_id is None:
            reason = "Invalid ticket: unknown, already used or expired"
            raise await self._refuse(connection, reason, token_sent=True)
        return User(id=user_id)

    async def _cookie_user(
        self, connection: HTTPConnection, cookie: str, session_users: SessionUsers
    ) -> User:
        # Better Auth's origin check, before the session is even looked up.
        if connection.scope.get("method") not in SAFE_METHODS:
            self._check_origin(connection)
        user_id = await session_users.user_for_cookie(cookie)
        if user_id is None:
            raise await self._refuse(connection, f"{INVALID_SESSION}: no live session", token_sent=False)
        return User(id=user_id)

    def _check_origin(self, connection: HTTPConnection) -> None:
        trusted = trusted_origins(self.settings, str(connection.base_url))
        problem = untrusted_origin(connection.headers, trusted)
        if problem is None:
            return
        logger.warning(
            "cross-site request refused",
            extra={
                "event": "csrf_refused",
                "reason": problem,
                "client": client_address(connection),
                "path": connection.url.path,
            },
        )
        raise Forbidden(ORIGIN_REFUSALS[problem])


def bearer_token(header: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>` (the scheme in any case), read as FastAPI's
    `HTTPBearer` reads it."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if not scheme or not token or scheme.lower() != "bearer":
        return None
    return token


def record_caller(scope: Scope, user: User) -> None:
    """Keep the admitted caller in the request's scope: for CurrentUser, and for the access line."""
    scope["user"] = user
    scope.setdefault("state", {})["user_id"] = user.id


class AdmittedCaller(HTTPBearer):
    """The bearer scheme, as the OpenAPI document and Swagger's "Authorize" show it; as a
    dependency, the caller the edge admitted (`edge.ApiGate` puts it in the request's scope)."""

    async def __call__(self, request: Request) -> User:  # type: ignore[override]
        """The admitted caller; a route outside the edge's guard has none, and is refused."""
        user = request.scope.get("user")
        if not isinstance(user, User):
            raise Unauthenticated()
        return user


current_user = AdmittedCaller(
    auto_error=False,
    scheme_name=BEARER_SCHEME,
    bearerFormat="JWT",
    description="A JWT from Better Auth's jwt() plugin, or an HS256 token signed with BETTER_AUTH_SECRET.",
)
CurrentUser = Annotated[User, Depends(current_user)]


async def declare_path_user(
    user_id: Annotated[str, Path(description="The caller's own id (the token's `sub`); any other is a 403.")],
) -> None:
    """`/api/{user_id}/…`'s path parameter, for the OpenAPI document: the edge has already
    refused any id that is not the caller's, before the body was read."""


OwnPath = Depends(declare_path_user)
