"""Better Auth's own endpoints under /api/auth (behind BUILTIN_AUTH): a typed
signature and one service call each; the answers have Better Auth's bodies and cookies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, Response

from todo_api.accounts import service, signing_keys
from todo_api.accounts.cookies import SESSION_TOKEN, AuthCookies, sign
from todo_api.accounts.dependencies import (
    ClientDep,
    CookiesDep,
    JwtIssuerDep,
    SessionDep,
    SignInBody,
    SignUpBody,
    check_cookie_origin,
    throttle_attempts,
)
from todo_api.accounts.schemas import dump, session_fields, user_fields
from todo_api.accounts.sessions import SessionUsersInDatabase, accepted_cookies
from todo_api.state import DatabaseDep

__all__ = [
    "EXPOSED_HEADERS",
    "FORM_PATHS",
    "SESSION_TOKEN",
    "SessionUsersInDatabase",
    "accepted_cookies",
    "build_router",
    "verification_keys",
]

JSON = "application/json"
# The bearer plugin's header: the signed session token, for clients that keep no cookies.
AUTH_TOKEN_HEADER = "set-auth-token"  # noqa: S105 (a header's name, not a secret)
# The jwt plugin's header on get-session: a fresh JWT for the session's user.
AUTH_JWT_HEADER = "set-auth-jwt"
# What a browser page may read of the answers: the bearer plugin's token, the JWT, and the
# rate limiter's wait.
EXPOSED_HEADERS = [AUTH_TOKEN_HEADER, AUTH_JWT_HEADER, "X-Retry-After"]
# The jwt plugin's keys, for the task routes' verifier (read in-process from the jwks table).
verification_keys = signing_keys.verification_keys
EXPOSE = "Access-Control-Expose-Headers"


JWK_SCHEMA = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in ("kid", "kty", "alg", "crv", "x")},
    "required": ["kid", "kty", "alg"],
}


def _json_object(properties: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"type": "object", "properties": properties}}},
    }


PREFIX = "/api/auth"
SIGN_UP, SIGN_IN = "/sign-up/email", "/sign-in/email"
# Better Auth takes these two from an HTML form as well as from JSON (allowedMediaTypes).
FORM_PATHS = frozenset({PREFIX + SIGN_UP, PREFIX + SIGN_IN})


def _error(description: str) -> dict[str, Any]:
    return _json_object({"message": {"type": "string"}, "code": {"type": "string"}}, description)


TOO_MANY_ATTEMPTS = _error(
    "More than 3 attempts in 10 seconds from this address; X-Retry-After says when to retry."
)


def _answer(body: object, set_cookies: Sequence[str] = (), headers: dict[str, str] | None = None) -> Response:
    response = Response(dump(body), media_type=JSON, headers=headers)
    for cookie in set_cookies:
        response.headers.append("set-cookie", cookie)
    return response


def _signed_in(
    body: dict[str, Any], signed_in: service.SignedIn, cookies: AuthCookies, *, remember: bool
) -> Response:
    token = signed_in.session["token"]
    return _answer(
        body,
        cookies.session(token, remember=remember),
        {AUTH_TOKEN_HEADER: sign(token, cookies.secret), EXPOSE: AUTH_TOKEN_HEADER},
    )


async def sign_up_email(
    database: DatabaseDep, body: SignUpBody, client: ClientDep, cookies: CookiesDep
) -> Response:
    """Create a user with e-mail and password, and sign them in."""
    signed_in = await service.sign_up(database, data=body, client=client)
    answer = {"token": signed_in.session["token"], "user": user_fields(signed_in.user)}
    return _signed_in(answer, signed_in, cookies, remember=body.remember_me)


async def sign_in_email(
    database: DatabaseDep, body: SignInBody, client: ClientDep, cookies: CookiesDep
) -> Response:
    """Sign in with e-mail and password."""
    signed_in = await service.sign_in(database, data=body, client=client)
    # As Better Auth: an empty callbackURL is echoed in `url` but is no redirect.
    answer: dict[str, Any] = {"redirect": bool(body.callback_url), "token": signed_in.session["token"]}
    if body.callback_url is not None:
        answer["url"] = body.callback_url
    answer["user"] = user_fields(signed_in.user)
    response = _signed_in(answer, signed_in, cookies, remember=body.remember_me)
    if body.callback_url:
        response.headers["Location"] = body.callback_url
    return response


async def get_session(
    database: DatabaseDep, presented: SessionDep, cookies: CookiesDep, issuer: JwtIssuerDep
) -> Response:
    """The caller's session and user, or `null`; with a session, a JWT in `set-auth-jwt`."""
    no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if presented.token is None:
        return _answer(None, headers=no_store)
    found = await service.get_session(database, token=presented.token, extend=presented.remember)
    if found is None:
        return _answer(None, cookies.expired(), no_store)
    answer = {"session": session_fields(found.session), "user": user_fields(found.user)}
    response = _signed_in(answer, found, cookies, remember=True) if found.refreshed else _answer(answer)
    response.headers.update(no_store)
    # The jwt plugin's after-hook: the header joins those already exposed to CORS.
    token = await service.issue_jwt(database, user=found.user, secret=issuer.secret, issuer=issuer.url)
    exposed = [name.strip() for name in response.headers.get(EXPOSE, "").split(",") if name.strip()]
    response.headers[AUTH_JWT_HEADER] = token
    response.headers[EXPOSE] = ", ".join(dict.fromkeys([*exposed, AUTH_JWT_HEADER]))
    return response


async def get_token(database: DatabaseDep, presented: SessionDep, issuer: JwtIssuerDep) -> Response:
    """A JWT for the caller's session (the jwt plugin's /token)."""
    token = await service.jwt_for_session(
        database, token=presented.token, secret=issuer.secret, issuer=issuer.url
    )
    return _answer({"token": token})


async def get_jwks(database: DatabaseDep, issuer: JwtIssuerDep) -> Response:
    """The public keys that verify the service's JWTs (the jwt plugin's /jwks)."""
    return _answer({"keys": await signing_keys.public_keys(database, secret=issuer.secret)})


async def sign_out(database: DatabaseDep, presented: SessionDep, cookies: CookiesDep) -> Response:
    """End the caller's session and expire its cookies."""
    if presented.token is not None:
        await service.sign_out(database, token=presented.token)
    return _answer({"success": True}, cookies.expired())


def build_router() -> APIRouter:
    """Better Auth's e-mail and password endpoints, under /api/auth."""
    router = APIRouter(prefix=PREFIX, tags=["auth"])
    router.add_api_route(
        SIGN_UP,
        sign_up_email,
        methods=["POST"],
        summary="Sign up with e-mail and password",
        responses={
            400: _error("VALIDATION_ERROR, PASSWORD_TOO_SHORT or PASSWORD_TOO_LONG."),
            403: _error("INVALID_ORIGIN, MISSING_OR_NULL_ORIGIN or INVALID_CALLBACK_URL."),
            422: _error("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL."),
            429: TOO_MANY_ATTEMPTS,
        },
        dependencies=[Depends(throttle_attempts)],
    )
    router.add_api_route(
        SIGN_IN,
        sign_in_email,
        methods=["POST"],
        summary="Sign in with e-mail and password",
        responses={
            400: _error("VALIDATION_ERROR, INVALID_EMAIL or PASSWORD_TOO_LONG."),
            401: _error("INVALID_EMAIL_OR_PASSWORD (an unknown e-mail and a wrong password alike)."),
            403: _error("INVALID_ORIGIN, MISSING_OR_NULL_ORIGIN or INVALID_CALLBACK_URL."),
            429: TOO_MANY_ATTEMPTS,
        },
        dependencies=[Depends(throttle_attempts)],
    )
    router.add_api_route(
        "/get-session",
        get_session,
        methods=["GET"],
        summary="The current session, or null",
        description="With a session, the `set-auth-jwt` header carries a JWT for its user (jwt plugin).",
    )
    router.add_api_route(
        "/token",
        get_token,
        methods=["GET"],
        summary="A JWT for the current session",
        description=(
            "`{token}`: EdDSA, `sub` = the user's id, valid 15 minutes, `iss` = `aud` = the service's URL. "
            "A token stays valid until it expires, even after sign-out."
        ),
        responses={
            200: _json_object({"token": {"type": "string"}}, "The JWT."),
            401: _error("UNAUTHORIZED: no live session."),
        },
    )
    router.add_api_route(
        "/jwks",
        get_jwks,
        methods=["GET"],
        summary="The public keys of the service's JWTs",
        responses={
            200: _json_object({"keys": {"type": "array", "items": JWK_SCHEMA}}, "The JSON Web Key Set.")
        },
    )
    router.add_api_route(
        "/sign-out",
        sign_out,
        methods=["POST"],
        summary="Sign out",
        dependencies=[Depends(check_cookie_origin)],
        responses={403: _error("MISSING_OR_NULL_ORIGIN or INVALID_ORIGIN (a cookie from another site).")},
    )
    return router
