"""Better Auth's cookies, as `better-call` signs and writes them.

A signed value is `value + "." + base64(HMAC-SHA256(secret, value))` (standard base64, padded:
44 characters), URL-encoded as `encodeURIComponent` does. Attributes come in better-call's
order: Max-Age, Path, HttpOnly, Secure, SameSite. With an https base URL the names carry the
`__Secure-` prefix and the cookies are `Secure`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, unquote

PREFIX = "better-auth"
SESSION_TOKEN = "session_token"  # noqa: S105 (a cookie's name, not a secret)
SESSION_DATA = "session_data"
DONT_REMEMBER = "dont_remember"
SIGNATURE_LENGTH = 44
# What encodeURIComponent leaves as it is, besides letters and digits.
URI_COMPONENT_SAFE = "-_.!~*'()"


def signature(value: str, secret: str) -> str:
    """base64(HMAC-SHA256(secret, value)), as better-call's signCookieValue computes it."""
    digest = hmac.digest(secret.encode(), value.encode(), hashlib.sha256)
    return base64.b64encode(digest).decode("ascii")


def sign(value: str, secret: str) -> str:
    """`value.signature`, not yet URL-encoded (the `set-auth-token` header carries this)."""
    return f"{value}.{signature(value, secret)}"


def unsign(signed: str, secret: str) -> str | None:
    """The value a signed `value.signature` carries, or None if the signature is not ours."""
    value, dot, mark = signed.rpartition(".")
    if not dot or not value or len(mark) != SIGNATURE_LENGTH or not mark.endswith("="):
        return None
    # As bytes: compare_digest raises a TypeError on a str that is not ASCII.
    return value if hmac.compare_digest(signature(value, secret).encode(), mark.encode()) else None


def session_token_from_bearer(presented: str, secret: str) -> str | None:
    """Better Auth's bearer plugin: the raw session token, or `token.signature` (URL-encoded
    or not), whose signature must be ours."""
    if "." not in presented:
        return presented
    return unsign(unquote(presented) if "%" in presented else presented, secret)


def parse_cookie_header(header: str) -> dict[str, str]:
    """`Cookie` header pairs as better-call reads them: the first of a name wins, quotes are
    stripped and the value URL-decoded; a malformed pair is skipped, not fatal."""
    cookies: dict[str, str] = {}
    for pair in header.split(";"):
        name, equals, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name or name in cookies:
            continue
        if value.startswith('"') and value.endswith('"') and len(value) > 1:
            value = value[1:-1]
        try:
            cookies[name] = unquote(value, errors="strict")
        except UnicodeDecodeError:
            cookies[name] = value
    return cookies


@dataclass(frozen=True, slots=True)
class AuthCookies:
    """The session cookies for one deployment: their names, attributes and signing secret."""

    secret: str
    secure: bool
    max_age: int

    def name(self, cookie: str) -> str:
        return f"{'__Secure-' if self.secure else ''}{PREFIX}.{cookie}"

    def _serialize(self, cookie: str, encoded: str, max_age: int | None) -> str:
        parts = [f"{self.name(cookie)}={encoded}"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        parts += ["Path=/", "HttpOnly"]
        if self.secure:
            parts.append("Secure")
        parts.append("SameSite=Lax")
        return "; ".join(parts)

    def signed(self, cookie: str, value: str, *, max_age: int | None) -> str:
        """A Set-Cookie value carrying `value`, signed; no Max-Age makes it a browser-session cookie."""
        return self._serialize(cookie, quote(sign(value, self.secret), safe=URI_COMPONENT_SAFE), max_age)

    def session(self, token: str, *, remember: bool) -> list[str]:
        """The Set-Cookie values for a new or renewed session."""
        if remember:
            return [self.signed(SESSION_TOKEN, token, max_age=self.max_age)]
        return [
            self.signed(SESSION_TOKEN, token, max_age=None),
            self.signed(DONT_REMEMBER, "true", max_age=None),
        ]

    def expired(self) -> list[str]:
        """The Set-Cookie values that end a session in the browser (as sign-out sends them)."""
        return [self._serialize(cookie, "", 0) for cookie in (SESSION_TOKEN, SESSION_DATA, DONT_REMEMBER)]

    def read(self, cookies: dict[str, str], cookie: str) -> str | None:
        """The verified value of a signed cookie, or None if absent or not signed by us."""
        signed = cookies.get(self.name(cookie))
        return unsign(signed, self.secret) if signed else None
