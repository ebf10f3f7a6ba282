"""What Better Auth's clients send and receive: the bodies, checked as its zod schemas check
them, the user and session as JSON (dates as JS writes them), and its error codes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from todo_api.accounts.errors import AuthError, InvalidBody

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
# zod 4's z.email(), which Better Auth's sign-up schema uses.
EMAIL = re.compile(
    r"^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$"
)
# The longest address SMTP can carry (RFC 5321's 256-octet path, less its angle brackets). Checked
# before the pattern, which would otherwise scan up to a megabyte on the event loop.
MAX_EMAIL_LENGTH = 254
# Our limits, not Better Auth's (its schema has none): the user travels in every JWT and its
# `set-auth-jwt` header, which a megabyte name made too large for clients to accept.
MAX_NAME_LENGTH = 256
MAX_IMAGE_LENGTH = 2048
# Unicode's control characters (category Cc): C0 with NUL, DEL and C1. PostgreSQL text cannot
# hold NUL, and none of them belongs in a name or an image URL.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _js_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "string"


def _checked(body: object, fields: Mapping[str, tuple[type, bool]]) -> dict[str, Any]:
    """The fields of a JSON object, or InvalidBody naming each problem as zod words it."""
    if not isinstance(body, dict):
        received = "undefined" if body is ... else _js_type(body)
        raise InvalidBody(f"[body] Invalid input: expected object, received {received}")
    problems = []
    for name, (kind, required) in fields.items():
        if name not in body:
            if required:
                problems.append(f"[body.{name}] Invalid input: expected {_js_name(kind)}, received undefined")
            continue
        value = body[name]
        if not isinstance(value, kind) or (kind is str and isinstance(value, bool)):
            problems.append(
                f"[body.{name}] Invalid input: expected {_js_name(kind)}, received {_js_type(value)}"
            )
    if problems:
        raise InvalidBody("; ".join(problems))
    return {name: body.get(name) for name in fields}


def _js_name(kind: type) -> str:
    return "boolean" if kind is bool else "string"


@dataclass(frozen=True, slots=True)
class SignUpEmail:
    name: str
    email: str
    password: str
    image: str | None
    callback_url: str | None
    remember_me: bool

    @classmethod
    def from_body(cls, body: object) -> SignUpEmail:
        """The sign-up body, checked as Better Auth's zod schema checks it."""
        spec = {"name": (str, True), "email": (str, True), "password": (str, True)}
        optional = {"image": (str, False), "callbackURL": (str, False), "rememberMe": (bool, False)}
        fields = _checked(body, spec | optional)
        problems = _text_problems("name", fields["name"], MAX_NAME_LENGTH)
        if not is_email(fields["email"]):
            problems.append("[body.email] Invalid email address")
        if not fields["password"]:
            problems.append("[body.password] Too small: expected string to have >=1 characters")
        problems += _text_problems("image", fields["image"], MAX_IMAGE_LENGTH)
        if problems:
            raise InvalidBody("; ".join(problems))
        check_password_length(fields["password"], minimum=True)
        return cls(
            name=fields["name"],
            email=fields["email"].lower(),
            password=fields["password"],
            image=fields["image"],
            callback_url=fields["callbackURL"],
            remember_me=fields["rememberMe"] is not False,
        )


@dataclass(frozen=True, slots=True)
class SignInEmail:
    email: str
    password: str
    callback_url: str | None
    remember_me: bool

    @classmethod
    def from_body(cls, body: object) -> SignInEmail:
        """The sign-in body; the e-mail's form is checked after the schema, as Better Auth does."""
        fields = _checked(
            body,
            {
                "email": (str, True),
                "password": (str, True),
                "callbackURL": (str, False),
                "rememberMe": (bool, False),
            },
        )
        if not is_email(fields["email"]):
            raise AuthError("BAD_REQUEST", "INVALID_EMAIL")
        check_password_length(fields["password"], minimum=False)
        return cls(
            email=fields["email"].lower(),
            password=fields["password"],
            callback_url=fields["callbackURL"],
            remember_me=fields["rememberMe"] is not False,
        )


def is_email(value: str) -> bool:
    """An address of at most 254 characters that zod's pattern accepts; the length is checked
    first, so the pattern never runs on a long input."""
    return len(value) <= MAX_EMAIL_LENGTH and EMAIL.fullmatch(value) is not None


def js_length(value: str) -> int:
    """A string's length as JavaScript (and zod) counts it: UTF-16 code units."""
    return len(value.encode("utf-16-le")) // 2


def _text_problems(name: str, value: str | None, most: int) -> list[str]:
    """A free-text field's problems as zod words them: too long (counted as JS counts), or
    holding a control character (looked for only once the length is known to be bounded)."""
    if value is None:
        return []
    # A string has at least as many UTF-16 code units as characters: no need to encode a long one.
    if len(value) > most or js_length(value) > most:
        return [f"[body.{name}] Too big: expected string to have <={most} characters"]
    if CONTROL_CHARACTER.search(value):
        return [f"[body.{name}] Invalid string: must not contain control characters"]
    return []


def check_password_length(password: str, *, minimum: bool) -> None:
    """8 to 128 characters (as JS counts them: UTF-16 code units); sign-in checks only the most."""
    length = js_length(password)
    if minimum and length < MIN_PASSWORD_LENGTH:
        raise AuthError("BAD_REQUEST", "PASSWORD_TOO_SHORT")
    if length > MAX_PASSWORD_LENGTH:
        raise AuthError("BAD_REQUEST", "PASSWORD_TOO_LONG")


def js_date(moment: datetime) -> str:
    """A date as JavaScript's toISOString writes it: UTC, exactly milliseconds, and `Z`."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def user_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """A `user` row as Better Auth shows it."""
    return {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "emailVerified": row["emailVerified"],
        "image": row["image"],
        "createdAt": js_date(row["createdAt"]),
        "updatedAt": js_date(row["updatedAt"]),
    }


def session_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """A `session` row as Better Auth shows it."""
    return {
        "id": row["id"],
        "token": row["token"],
        "userId": row["userId"],
        "expiresAt": js_date(row["expiresAt"]),
        "createdAt": js_date(row["createdAt"]),
        "updatedAt": js_date(row["updatedAt"]),
        "ipAddress": row["ipAddress"],
        "userAgent": row["userAgent"],
    }


def dump(value: object) -> bytes:
    """JSON bytes (dates are already text)."""
    return orjson.dumps(value)
