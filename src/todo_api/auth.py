"""The edge where a request becomes a user: who is calling, may they use this path, and are
they within their rate limit. Each is a dependency the routers declare, in that order; failed
authentications count against the client's address.

A caller is proven by the Authorization header (a JWT, or a Better Auth session token) or,
when it is absent, by Better Auth's signed session cookie. A browser sends that cookie with
any request, including one a page on another site makes it send, so a cookie-authenticated
write must come from a trusted origin (cross-site request forgery)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPBearer

from todo_api.errors import Forbidden, ServiceUnavailable, Unauthenticated
from todo_api.http_errors import documented
from todo_api.logs import client_address
from todo_api.origins import INVALID_ORIGIN, MISSING_OR_NULL_ORIGIN, trusted_origins, untrusted_origin
from todo_api.ratelimit import READ_METHODS
from todo_api.state import SessionUsers, app_state
from todo_api.tokens import InvalidToken, KeysUnavailable

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


async def _refuse(
    request: Request, reason: str, *, token_sent: bool, public: str | None = None
) -> Unauthenticated:
    """The 401 for a failed authentication (answered with `public`, by default the reason),
    once counted against the client's address: past RATE_LIMIT_AUTH_FAILURES it raises a 429
    instead. Valid tokens are never counted, so a flood from one address never locks out a
    user who shares it (behind a NAT, say)."""
    limiter = app_state(request).rate_limiter
    if limiter is not None:
        await limiter.check_failed_authentication(client_address(request))
    logger.warning(
        "authentication failed",
        extra={
            "event": "authentication_failed",
            "reason": reason,
            "client": client_address(request),
            "path": request.url.path,
        },
    )
    return Unauthenticated(public or reason, token_sent=token_sent)


class BearerAuthentication(HTTPBearer):
    """The bearer scheme (as the OpenAPI document and Swagger's "Authorize" show it) that also
    verifies the token: one dependency rather than two, as FastAPI's work per dependency is a
    noticeable share of a request."""

    async def __call__(self, request: Request) -> User:  # type: ignore[override]
        """The verified caller: from the Authorization header, else from the session cookie."""
        state = app_state(request)
        header = request.headers.get("authorization")
        if not header and state.session_users is not None:
            cookie = state.session_users.session_cookie(request.headers.get("cookie", ""))
            if cookie is not None:
                return await _cookie_user(request, cookie, state.session_users)
        presented = bearer_token(header)
        if presented is None:
            reason = "Not authenticated" if not header else "Authorization must be 'Bearer <token>'"
            raise await _refuse(request, reason, token_sent=False)
        # A JWT has two dots; Better Auth's session tokens none, or one when signed.
        if state.session_users is not None and presented.count(".") < JWT_DOTS:
            return await _session_user(request, presented, state.session_users)
        try:
            token = await state.token_verifier.verify(presented)
        except InvalidToken as exc:
            # In production the answer does not say which check failed (an oracle for anyone
            # probing keys and signatures); the log does. In development it helps wire things up.
            public = INVALID_TOKEN if state.settings.is_production else None
            raise await _refuse(request, f"{INVALID_TOKEN}: {exc}", token_sent=True, public=public) from None
        except KeysUnavailable:
            logger.warning(
                "signing keys unavailable",
                extra={
                    "event": "jwks_unavailable",
                    "client": client_address(request),
                    "path": request.url.path,
                },
            )
            raise ServiceUnavailable("Cannot verify the token right now, retry shortly") from None
        return _caller(request, token.subject)


def bearer_token(header: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>` (the scheme in any case), read as FastAPI's
    `HTTPBearer` reads it, without the credentials model it builds per request."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if not scheme or not token or scheme.lower() != "bearer":
        return None
    return token


async def _session_user(request: Request, presented: str, session_users: SessionUsers) -> User:
    user_id = await session_users.user_for_bearer(presented)
    if user_id is None:
        raise await _refuse(
            request, f"{INVALID_TOKEN}: no live session", token_sent=True, public=INVALID_TOKEN
        )
    return _caller(request, user_id)


async def _cookie_user(request: Request, cookie: str, session_users: SessionUsers) -> User:
    if request.method not in SAFE_METHODS:
        _check_origin(request)
    user_id = await session_users.user_for_cookie(cookie)
    if user_id is None:
        raise await _refuse(request, f"{INVALID_SESSION}: no live session", token_sent=False)
    return _caller(request, user_id)


def _check_origin(request: Request) -> None:
    """Better Auth's origin check, before the session is even looked up."""
    trusted = trusted_origins(app_state(request).settings, str(request.base_url))
    problem = untrusted_origin(request.headers, trusted)
    if problem is None:
        return
    logger.warning(
        "cross-site request refused",
        extra={
            "event": "csrf_refused",
            "reason": problem,
            "client": client_address(request),
            "path": request.url.path,
        },
    )
    raise Forbidden(ORIGIN_REFUSALS[problem])


def _caller(request: Request, user_id: str) -> User:
    # Kept on the request for the access log line only; the routes get the user from CurrentUser.
    request.state.user_id = user_id
    return User(id=user_id)


get_current_user = BearerAuthentication(
    auto_error=False,
    scheme_name=BEARER_SCHEME,
    bearerFormat="JWT",
    description="A JWT from Better Auth's jwt() plugin, or an HS256 token signed with BETTER_AUTH_SECRET.",
)
CurrentUser = Annotated[User, Depends(get_current_user)]


async def require_own_path(
    user: CurrentUser,
    user_id: Annotated[str, Path(description="The caller's own id (the token's `sub`); any other is a 403.")],
) -> None:
    """`/api/{user_id}/…`: someone else's id is a 403, before any other work."""
    if user_id != user.id:
        logger.warning(
            "path user does not match token",
            extra={"event": "authorization_failed", "reason": "user_id mismatch", "user_id": user.id},
        )
        raise Forbidden("The user id in the path does not match the token")


async def charge_rate_limit(request: Request, user: CurrentUser) -> None:
    """Count the request against the caller's read or write limit (TooManyRequests when over)."""
    limiter = app_state(request).rate_limiter
    if limiter is not None:
        await limiter.check(user.id, write=request.method not in READ_METHODS)


async def admit(request: Request) -> None:
    """The API routes' checks, in their order, for a request answered before they ran (its
    body could not be parsed): the caller is judged before the body is."""
    if not _needs_a_user(getattr(request.scope.get("route"), "dependant", None)):
        return
    user = await get_current_user(request)
    # Declared by the route as a path parameter, and so already matched into the request.
    path_user = request.path_params.get("user_id")
    if path_user is not None:
        await require_own_path(user, path_user)
    await charge_rate_limit(request, user)


def _needs_a_user(dependant: Any) -> bool:
    """Whether a route (or a dependency of it) depends on the authenticated caller."""
    if dependant is None:
        return False
    return dependant.call is get_current_user or any(_needs_a_user(sub) for sub in dependant.dependencies)


OwnPath = Depends(require_own_path)
RateLimited = Depends(charge_rate_limit)
