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
        problems = []
        if not EMAIL.fullmatch(fields["email"]):
            problems.append("[body.email] Invalid email address")
        if not fields["password"]:
            problems.append("[body.password] Too small: expected string to have >=1 characters")
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
        if not EMAIL.fullmatch(fields["email"]):
            raise AuthError("BAD_REQUEST", "INVALID_EMAIL")
        check_password_length(fields["password"], minimum=False)
        return cls(
            email=fields["email"].lower(),
            password=fields["password"],
            callback_url=fields["callbackURL"],
            remember_me=fields["rememberMe"] is not False,
        )


def check_password_length(password: str, *, minimum: bool) -> None:
    """8 to 128 characters (as JS counts them: UTF-16 code units); sign-in checks only the most."""
    length = len(password.encode("utf-16-le")) // 2
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
