"""What the accounts routes load from a request: the body, checked; the session token, from
the bearer header or the signed cookie; the cookies' settings; and the origin checks
Better Auth runs before sign-up, sign-in and cookie-carrying writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

import orjson
from fastapi import Depends, Request

from todo_api import origins
from todo_api.accounts.cookies import (
    DONT_REMEMBER,
    SESSION_TOKEN,
    AuthCookies,
    parse_cookie_header,
    session_token_from_bearer,
)
from todo_api.accounts.errors import AuthError, InvalidBody, TooManyAttempts
from todo_api.accounts.schemas import SignInEmail, SignUpEmail
from todo_api.accounts.service import Client
from todo_api.accounts.sessions import cookies_for
from todo_api.hardening import is_form
from todo_api.logs import client_address
from todo_api.state import app_state


async def auth_cookies(request: Request) -> AuthCookies:
    """Names and attributes of the session cookies: `__Secure-` and Secure with an https URL."""
    settings = app_state(request).settings
    if settings.better_auth_secret is None:  # refused by Settings when BUILTIN_AUTH is on
        raise RuntimeError("BUILTIN_AUTH without BETTER_AUTH_SECRET")
    return cookies_for(settings, settings.better_auth_secret.get_secret_value())


CookiesDep = Annotated[AuthCookies, Depends(auth_cookies)]


@dataclass(frozen=True, slots=True)
class JwtIssuer:
    """What the jwt() plugin's tokens need: the secret its keys are stored under, and the
    service's own URL for `iss` and `aud`."""

    secret: str
    url: str


async def jwt_issuer(request: Request, cookies: CookiesDep) -> JwtIssuer:
    """The secret (as the cookies use it) and the built-in sign-in's URL."""
    return JwtIssuer(secret=cookies.secret, url=app_state(request).settings.builtin_auth_url)


JwtIssuerDep = Annotated[JwtIssuer, Depends(jwt_issuer)]


def trusted_origins(request: Request) -> set[str]:
    """BETTER_AUTH_URL's origin (else the service's own, as requested) and CORS_ORIGINS."""
    return origins.trusted_origins(app_state(request).settings, str(request.base_url))


def check_origin(request: Request) -> None:
    """Better Auth's validateOrigin: the Origin (or Referer) must be a trusted one."""
    code = origins.untrusted_origin(request.headers, trusted_origins(request))
    if code is not None:
        raise AuthError("FORBIDDEN", code)


async def check_cookie_origin(request: Request) -> None:
    """A write that carries cookies must come from a trusted origin (cross-site forgery)."""
    if "cookie" in request.headers:
        check_origin(request)


async def check_form_origin(request: Request) -> None:
    """Sign-up and sign-in (Better Auth's formCsrfMiddleware): a cookie, Sec-Fetch metadata or
    an Origin/Referer header means a browser, whose origin must be trusted; a cross-site
    navigation (a plain HTML form on another site) is refused outright."""
    headers = request.headers
    if "cookie" in headers:
        check_origin(request)
        return
    site, mode = headers.get("sec-fetch-site", ""), headers.get("sec-fetch-mode", "")
    if site.strip() or mode.strip() or headers.get("sec-fetch-dest", "").strip():
        if site == "cross-site" and mode == "navigate":
            raise AuthError("FORBIDDEN", "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED")
        check_origin(request)
    elif headers.get("origin") or headers.get("referer"):
        check_origin(request)


async def throttle_attempts(request: Request) -> None:
    """Sign-in and sign-up attempts, counted per client address and path before anything
    else (Better Auth's rate limiter runs first too); over the limit, a 429."""
    limiter = app_state(request).rate_limiter
    if limiter is None:
        return
    wait = await limiter.sign_in_wait(client_address(request), request.url.path)
    if wait is not None:
        raise TooManyAttempts(wait)


# Better Auth's rule for a relative callbackURL (matchesOriginPattern, allowRelativePaths): one
# slash, not followed by a second slash or a backslash, encoded or not, then only plain path
# characters and an optional query. A browser drops tabs and newlines from a URL and reads `\`
# as `/`, so anything looser lets `/\t/evil.example` or `/\t\\evil.example` send it to another
# site; and nothing outside these characters can break the `Location` header.
SAFE_RELATIVE_URL = re.compile(r"/(?!/|\\|%2f|%5c)[\w\-.+/@]*(?:\?[\w\-.+/=&%@]*)?", re.ASCII)
# An absolute callbackURL must be sendable as it is in `Location`: visible ASCII, no space.
VISIBLE_ASCII = re.compile(r"[!-~]+")


def check_callback_url(request: Request, callback_url: str | None) -> None:
    """Better Auth's origin check of a callbackURL, before any work: a plain path on this site,
    or a URL on a trusted origin (no open redirect, nothing a header cannot carry)."""
    if not callback_url:
        return
    if callback_url.startswith("/"):
        safe = SAFE_RELATIVE_URL.fullmatch(callback_url) is not None
    else:
        safe = VISIBLE_ASCII.fullmatch(callback_url) is not None and (
            origins.origin_of(callback_url) in trusted_origins(request)
        )
    if not safe:
        raise AuthError("FORBIDDEN", "INVALID_CALLBACK_URL")


async def _body(request: Request) -> object:
    """The body as better-call reads it: JSON, or an HTML form's fields, every value a string
    (so `rememberMe=false` is a string, which the schema refuses as Better Auth's does)."""
    raw = await request.body()
    if not raw.strip():
        return ...  # JavaScript's undefined: no body at all
    if is_form(request.headers.get("content-type", "").encode("latin-1")):
        # URLSearchParams: a repeated field's last value wins; bad UTF-8 becomes U+FFFD.
        return dict(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True, errors="replace"))
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidBody("[body] Invalid input: expected object, received string") from None


async def sign_up_body(request: Request) -> SignUpEmail:
    """The sign-up body, after the origin check, validated as Better Auth validates it."""
    await check_form_origin(request)
    body = SignUpEmail.from_body(await _body(request))
    check_callback_url(request, body.callback_url)
    return body


async def sign_in_body(request: Request) -> SignInEmail:
    """The sign-in body, after the origin check, validated as Better Auth validates it."""
    await check_form_origin(request)
    body = SignInEmail.from_body(await _body(request))
    check_callback_url(request, body.callback_url)
    return body


SignUpBody = Annotated[SignUpEmail, Depends(sign_up_body)]
SignInBody = Annotated[SignInEmail, Depends(sign_in_body)]


async def request_client(request: Request) -> Client:
    """The address and user agent a new session records."""
    return Client(ip_address=client_address(request) or "", user_agent=request.headers.get("user-agent", ""))


ClientDep = Annotated[Client, Depends(request_client)]


@dataclass(frozen=True, slots=True)
class PresentedSession:
    """The session token a request carries (None: none, or a signature not ours)."""

    token: str | None
    remember: bool


def _bearer_token(request: Request, cookies: AuthCookies) -> str | None:
    # Better Auth's bearer plugin: the raw token, or `token.signature` (URL-encoded or not).
    header = request.headers.get("authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    presented = header[7:].strip()
    return session_token_from_bearer(presented, cookies.secret) if presented else None


async def presented_session(request: Request, cookies: CookiesDep) -> PresentedSession:
    """The bearer token if it is a valid one, else the signed session cookie."""
    jar = parse_cookie_header(request.headers.get("cookie", ""))
    remember = cookies.read(jar, DONT_REMEMBER) is None
    token = _bearer_token(request, cookies) or cookies.read(jar, SESSION_TOKEN)
    return PresentedSession(token=token, remember=remember)


SessionDep = Annotated[PresentedSession, Depends(presented_session)]
