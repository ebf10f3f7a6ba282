"""Better Auth sessions as the task routes see them: the user a session token or a session
cookie belongs to, read from the `session` table on every request, so a sign-out or an expiry
(here, or on a Node Better Auth sharing the database) counts at once, on every instance.
main.py hands this to the authenticator (auth.py), which may not import a feature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from todo_api.accounts.cookies import (
    SESSION_TOKEN,
    AuthCookies,
    parse_cookie_header,
    session_token_from_bearer,
    unsign,
)
from todo_api.accounts.service import SESSION_LIFETIME, get_session
from todo_api.db.connection import Database

if TYPE_CHECKING:
    from todo_api.config import Settings


def accepted_cookies(settings: Settings) -> AuthCookies | None:
    """With the built-in sign-in or a shared Better Auth database, the task routes accept its
    sessions too: the token as a bearer, or the signed cookie (both need the signing secret)."""
    if not settings.accepts_sessions or settings.better_auth_secret is None:
        return None
    return cookies_for(settings, settings.better_auth_secret.get_secret_value())


def cookies_for(settings: Settings, secret: str) -> AuthCookies:
    """The session cookies' names and attributes: `__Secure-` and Secure with an https URL."""
    secure = settings.better_auth_url is not None and settings.better_auth_url.scheme == "https"
    return AuthCookies(secret=secret, secure=secure, max_age=int(SESSION_LIFETIME.total_seconds()))


@dataclass(frozen=True, slots=True)
class SessionUsersInDatabase:
    """The auth.SessionUsers the authenticator asks: whose live session a request carries."""

    database: Database
    cookies: AuthCookies

    def session_cookie(self, cookie_header: str) -> str | None:
        """The session cookie's value as sent (not yet verified), or None when there is none."""
        if not cookie_header:
            return None
        return parse_cookie_header(cookie_header).get(self.cookies.name(SESSION_TOKEN)) or None

    async def user_for_bearer(self, presented: str) -> str | None:
        """The user of the session a bearer names (the raw token, or signed), else None."""
        return await self._user_for(session_token_from_bearer(presented, self.cookies.secret))

    async def user_for_cookie(self, value: str) -> str | None:
        """The user of the session a cookie names; it must carry our signature, else None."""
        return await self._user_for(unsign(value, self.cookies.secret))

    async def _user_for(self, token: str | None) -> str | None:
        if token is None:
            return None
        signed_in = await get_session(self.database, token=token, extend=False)
        return str(signed_in.user["id"]) if signed_in is not None else None
