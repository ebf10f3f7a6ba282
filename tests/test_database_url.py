"""DATABASE_URL as users paste it, translated for asyncpg and aiosqlite."""

from __future__ import annotations

import pytest

from todo_api.database_url import DatabaseURLError, mask_password, normalize_database_url


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://app:pw@db.example:5432/todo",
        "postgresql://app:pw@db.example:5432/todo",
        "postgresql+asyncpg://app:pw@db.example:5432/todo",
        "  postgresql://app:pw@db.example:5432/todo\n",
    ],
)
def test_postgres_urls_become_asyncpg(raw: str) -> None:
    target = normalize_database_url(raw)

    assert target.url.drivername == "postgresql+asyncpg"
    assert (target.url.host, target.url.port, target.url.database) == ("db.example", 5432, "todo")
    assert target.url.password == "pw"
    assert target.connect_args == {}


def test_neon_url_keeps_tls_and_drops_channel_binding_with_a_note() -> None:
    raw = "postgresql://app:pw@ep-cool-name-123456.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require"

    target = normalize_database_url(raw)

    assert target.url.query == {}
    assert target.connect_args == {"ssl": "require"}
    assert any("channel_binding" in note and "TLS is still required" in note for note in target.notes)


def test_channel_binding_alone_still_requires_tls() -> None:
    target = normalize_database_url("postgresql://app:pw@db.example/todo?channel_binding=require")

    assert target.connect_args["ssl"] == "require"


@pytest.mark.parametrize("mode", ["disable", "prefer", "require", "verify-ca", "verify-full"])
def test_sslmode_is_passed_to_asyncpg(mode: str) -> None:
    target = normalize_database_url(f"postgresql://app@db.example/todo?sslmode={mode}")

    assert target.connect_args["ssl"] == mode


def test_connect_timeout_and_application_name() -> None:
    target = normalize_database_url("postgresql://app@db/todo?connect_timeout=3&application_name=web")

    assert target.connect_args == {"timeout": 3.0, "server_settings": {"application_name": "web"}}


@pytest.mark.parametrize(
    ("raw", "database"),
    [
        ("sqlite:///todo.db", "todo.db"),
        ("sqlite:////var/lib/todo/todo.db", "/var/lib/todo/todo.db"),
        ("sqlite://", None),
    ],
)
def test_sqlite_urls_become_aiosqlite(raw: str, database: str | None) -> None:
    target = normalize_database_url(raw)

    assert target.url.drivername == "sqlite+aiosqlite"
    assert target.url.database == database
    assert target.is_sqlite


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("todo.db", "not a URL"),
        ("mysql://app:pw@db/todo", "unsupported scheme 'mysql'"),
        ("postgresql://app:pw@db:port/todo", "malformed URL"),
        ("postgresql://app:pw@db/todo?sslmode=sometimes", "sslmode 'sometimes'"),
        ("postgresql://app:pw@db/todo?sslrootcert=/x.pem", "unsupported query parameter(s) sslrootcert"),
        ("postgresql://app:pw@db/todo?connect_timeout=soon", "connect_timeout"),
        ("sqlite://app:pw@host/todo.db", "malformed SQLite URL"),
    ],
)
def test_unusable_urls_name_the_problem_and_mask_the_password(raw: str, problem: str) -> None:
    with pytest.raises(DatabaseURLError) as caught:
        normalize_database_url(raw)

    assert problem in str(caught.value)
    assert ":pw@" not in str(caught.value)


def test_mask_password() -> None:
    assert mask_password("postgresql://app:s3cr3t@db/todo") == "postgresql://app:***@db/todo"
    assert mask_password("postgresql://app@db/todo") == "postgresql://app@db/todo"
    assert mask_password("sqlite:///todo.db") == "sqlite:///todo.db"
