"""The FastAPI side of authentication: who is calling, and may they use this path."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPBearer

from todo_api.errors import Forbidden, ServiceUnavailable, Unauthenticated
from todo_api.logs import client_address
from todo_api.ratelimit import READ_METHODS, RateLimiter
from todo_api.security import InvalidToken, KeysUnavailable, TokenVerifier

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class User:
    """The caller, as proven by a verified token: `id` is the token's `sub` and nothing else."""

    id: str


def _refuse(request: Request, reason: str, *, token_sent: bool) -> Unauthenticated:
    logger.warning(
        "authentication failed",
        extra={
            "event": "authentication_failed",
            "reason": reason,
            "client": client_address(request),
            "path": request.url.path,
        },
    )
    return Unauthenticated(reason, token_sent=token_sent)


class BearerAuthentication(HTTPBearer):
    """The bearer scheme (as the OpenAPI document and Swagger's "Authorize" show it) that also
    verifies the token, holds the caller to their own `/api/{user_id}/…` path and charges
    their rate limit, in that order.

    One dependency rather than four (scheme, verification, path check, rate limit): FastAPI's
    work per dependency was a large share of every request.
    """

    async def __call__(self, request: Request) -> User:  # type: ignore[override]
        """The verified caller; only the Authorization header is ever read."""
        credentials = await super().__call__(request)
        if credentials is None:
            header = request.headers.get("authorization")
            reason = "Not authenticated" if not header else "Authorization must be 'Bearer <token>'"
            raise _refuse(request, reason, token_sent=False)
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            token = await verifier.verify(credentials.credentials)
        except InvalidToken as exc:
            raise _refuse(request, f"Invalid token: {exc}", token_sent=True) from None
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
        user = User(id=token.subject)
        request.state.user_id = user.id
        _require_path_user(request, user)
        limiter: RateLimiter | None = request.app.state.rate_limiter
        if limiter is not None:
            await limiter.check(user.id, write=request.method not in READ_METHODS)
        return user


get_current_user = BearerAuthentication(
    auto_error=False,
    scheme_name="BearerJWT",
    bearerFormat="JWT",
    description="A JWT from Better Auth's jwt() plugin, or an HS256 token signed with BETTER_AUTH_SECRET.",
)
CurrentUser = Annotated[User, Depends(get_current_user)]


def _require_path_user(request: Request, user: User) -> None:
    # Someone else's id in the path is a 403 before any other work, the rate limit included.
    path_user = request.path_params.get("user_id")
    if path_user is not None and path_user != user.id:
        logger.warning(
            "path user does not match token",
            extra={"event": "authorization_failed", "reason": "user_id mismatch", "user_id": user.id},
        )
        raise Forbidden("The user id in the path does not match the token")


async def declare_path_user(
    user_id: Annotated[str, Path(description="The caller's own id (the token's `sub`); any other is a 403.")],
) -> None:
    """Declares `user_id` for the `/api/{user_id}/…` routes; `CurrentUser` checks it."""
