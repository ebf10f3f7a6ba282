"""DATABASE_URL as users paste it (postgres://, Neon, sqlite:///), parsed once for the drivers.

The bottom floor: it imports nothing of ours, so settings can validate the URL with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

POSTGRES_SCHEMES = {
    "postgres",
    "postgresql",
    "postgresql+asyncpg",
    "postgresql+psycopg",
    "postgresql+psycopg2",
}
SQLITE_SCHEMES = {"sqlite", "sqlite+aiosqlite"}
SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
# Query parameters libpq users paste that asyncpg takes under another name or not at all.
POSTGRES_QUERY_PARAMS = {"sslmode", "ssl", "channel_binding", "connect_timeout", "application_name"}

_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")


class DatabaseURLError(ValueError):
    """A DATABASE_URL that cannot be used; the message masks the password."""


@dataclass(frozen=True)
class DatabaseTarget:
    """A URL SQLAlchemy's async drivers accept, plus what the driver needs besides it."""

    url: URL
    connect_args: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"


class DatabaseURL(SecretStr):
    """DATABASE_URL: kept secret like any password, and parsed once, when settings are read."""

    def __init__(self, raw_url: str) -> None:
        super().__init__(raw_url)
        self.target = normalize_database_url(raw_url)


def mask_password(raw_url: str) -> str:
    """The URL with any password replaced by ***, safe to print."""
    return _PASSWORD_IN_URL.sub(r"\1***@", raw_url)


def normalize_database_url(raw_url: str) -> DatabaseTarget:
    """Translate postgres://, postgresql://, Neon and sqlite:/// URLs for asyncpg/aiosqlite."""
    text = raw_url.strip()
    shown = mask_password(text)
    if "://" not in text:
        raise DatabaseURLError(f"not a URL: '{shown}' (expected postgresql://... or sqlite:///...)")
    scheme = text.split("://", 1)[0].lower()
    if scheme not in POSTGRES_SCHEMES | SQLITE_SCHEMES:
        raise DatabaseURLError(
            f"unsupported scheme '{scheme}' in '{shown}' (expected postgresql:// or sqlite:///)"
        )
    try:
        url = make_url(text)
        _ = url.port  # parsing the port is lazy in places; force it here
    except (ArgumentError, ValueError):
        raise DatabaseURLError(f"malformed URL '{shown}'") from None
    if scheme in SQLITE_SCHEMES:
        return _sqlite_target(url, shown)
    return _postgres_target(url, shown)


def _sqlite_target(url: URL, shown: str) -> DatabaseTarget:
    if url.host or url.username or url.password:
        raise DatabaseURLError(
            f"malformed SQLite URL '{shown}' (use sqlite:///relative.db or sqlite:////absolute.db)"
        )
    return DatabaseTarget(url=url.set(drivername="sqlite+aiosqlite"))


def _postgres_target(url: URL, shown: str) -> DatabaseTarget:
    unknown = sorted(set(url.query) - POSTGRES_QUERY_PARAMS)
    if unknown:
        raise DatabaseURLError(
            f"unsupported query parameter(s) {', '.join(unknown)} in '{shown}' "
            f"(supported: {', '.join(sorted(POSTGRES_QUERY_PARAMS))})"
        )
    query = {key: value if isinstance(value, str) else value[-1] for key, value in url.query.items()}
    connect_args: dict[str, Any] = {}
    notes: list[str] = []

    ssl_mode = query.get("sslmode") or query.get("ssl")
    if ssl_mode is not None:
        if ssl_mode not in SSL_MODES:
            raise DatabaseURLError(
                f"sslmode '{ssl_mode}' in '{shown}' is not one of {', '.join(sorted(SSL_MODES))}"
            )
        connect_args["ssl"] = ssl_mode
    channel_binding = query.get("channel_binding")
    if channel_binding is not None:
        # asyncpg cannot do SCRAM channel binding; what it protects against needs TLS, so
        # TLS is required instead of being dropped along with the parameter.
        if connect_args.get("ssl") in (None, "disable", "allow", "prefer"):
            connect_args["ssl"] = "require"
        notes.append(
            f"channel_binding={channel_binding} is not supported by asyncpg and was ignored; "
            f"TLS is still required (sslmode={connect_args['ssl']})"
        )
    if "connect_timeout" in query:
        try:
            connect_args["timeout"] = float(query["connect_timeout"])
        except ValueError:
            raise DatabaseURLError(f"connect_timeout in '{shown}' is not a number") from None
    if "application_name" in query:
        connect_args["server_settings"] = {"application_name": query["application_name"]}

    asyncpg_url = url.set(drivername="postgresql+asyncpg", query={})
    return DatabaseTarget(url=asyncpg_url, connect_args=connect_args, notes=tuple(notes))
