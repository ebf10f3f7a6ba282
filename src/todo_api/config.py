"""Typed settings, read from the environment and `.env` only when asked."""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

import limits
from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from todo_api.database_url import DatabaseURL

MIN_SECRET_LENGTH = 32
DEV_SECRET_FILE = ".todo-api-secret"  # noqa: S105 (a file name, not a secret)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ConfigError(Exception):
    """Configuration that cannot start the service; the message is one line for operators."""


class Settings(BaseSettings):
    """Everything the service can be configured with."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    environment: Environment = Environment.DEVELOPMENT
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    # Unset: JSON lines in production (for a log collector), readable lines in development.
    log_format: Literal["json", "text"] | None = None

    database_url: DatabaseURL = DatabaseURL("sqlite:///todo.db")
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_connect_timeout: float = Field(default=5.0, gt=0, le=60)
    db_command_timeout: float = Field(default=10.0, gt=0, le=600)
    db_prepared_statements: bool = True
    migrate_on_startup: bool = True

    better_auth_secret: SecretStr | None = None
    better_auth_url: AnyHttpUrl | None = None
    jwks_url: AnyHttpUrl | None = None
    jwks_cache_seconds: float = Field(default=300.0, ge=0)
    jwks_refetch_interval: float = Field(default=10.0, ge=0)
    jwks_timeout: float = Field(default=5.0, gt=0, le=60)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    token_cache_size: int = Field(default=10_000, ge=0)
    # The longest a token may live (`exp` - `iat`), so a leaked key cannot mint lasting tokens.
    token_max_lifetime: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)

    cors_origins: Annotated[list[str], NoDecode] = []

    max_tasks_per_user: int = Field(default=10_000, ge=1)
    rate_limit_enabled: bool = True
    rate_limit_reads: str = "600/minute"
    rate_limit_writes: str = "120/minute"
    redis_url: SecretStr | None = None

    # Sharing Better Auth's PostgreSQL database: a migration ties task.user_id to "user".id
    # (ON DELETE CASCADE), so deleting a Better Auth user deletes their tasks.
    better_auth_shared_database: bool = False

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _parse_database_url(cls, value: object) -> object:
        # Parsed here, once: a bad URL is reported against DATABASE_URL (DatabaseURLError is a
        # ValueError), and the engines use the parsed form without reading the text again.
        if isinstance(value, SecretStr) and not isinstance(value, DatabaseURL):
            value = value.get_secret_value()
        return DatabaseURL(value) if isinstance(value, str) else value

    @field_validator("rate_limit_reads", "rate_limit_writes", mode="after")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a rate such as '600/minute' or '10/second'") from None
        return value

    @field_validator("redis_url", mode="after")
    @classmethod
    def _check_redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("redis://", "rediss://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @field_validator(
        "better_auth_secret",
        "better_auth_url",
        "jwks_url",
        "jwt_issuer",
        "jwt_audience",
        "redis_url",
        "log_format",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `FOO=` in a .env file means "not set", not "set to the empty string".
        return None if value == "" else value

    @field_validator("better_auth_secret", mode="after")
    @classmethod
    def _check_secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _production_needs_a_key(self) -> Self:
        if (
            self.environment is Environment.PRODUCTION
            and self.better_auth_secret is None
            and self.jwks_endpoint is None
        ):
            raise ValueError(
                "production needs BETTER_AUTH_SECRET (at least 32 characters) "
                "or BETTER_AUTH_URL/JWKS_URL to verify tokens"
            )
        return self

    @model_validator(mode="after")
    def _production_pins_jwks_tokens(self) -> Self:
        # Better Auth signs more than access tokens with its keys; iss and aud tell them apart.
        if self.is_production and self.jwks_endpoint is not None:
            missing = [
                name
                for name, value in (("JWT_ISSUER", self.jwks_issuer), ("JWT_AUDIENCE", self.jwks_audience))
                if value is None
            ]
            if missing:
                raise ValueError(
                    f"production with JWKS_URL needs {' and '.join(missing)} (or BETTER_AUTH_URL, "
                    "which sets both), so that only tokens meant for this API are accepted"
                )
        return self

    @property
    def jwks_endpoint(self) -> str | None:
        """The JWKS document's URL, derived from Better Auth's base URL unless given."""
        if self.jwks_url is not None:
            return str(self.jwks_url)
        if self.better_auth_url is not None:
            return f"{self.better_auth_base_url}/api/auth/jwks"
        return None

    @property
    def better_auth_base_url(self) -> str | None:
        """BETTER_AUTH_URL as Better Auth writes it into `iss` and `aud` (no trailing slash)."""
        return str(self.better_auth_url).rstrip("/") if self.better_auth_url is not None else None

    @property
    def jwks_issuer(self) -> str | None:
        """The `iss` a JWKS-signed token must carry: JWT_ISSUER, else Better Auth's default."""
        return self.jwt_issuer or self.better_auth_base_url

    @property
    def jwks_audience(self) -> str | None:
        """The `aud` a JWKS-signed token must carry: JWT_AUDIENCE, else Better Auth's default."""
        return self.jwt_audience or self.better_auth_base_url

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def log_json(self) -> bool:
        """Whether logs are JSON lines (LOG_FORMAT, else production) or lines for people."""
        return self.log_format == "json" if self.log_format is not None else self.is_production

    @property
    def needs_dev_secret(self) -> bool:
        """True when nothing could verify a token and a local secret may be made."""
        return not self.is_production and self.better_auth_secret is None and self.jwks_endpoint is None


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and `.env`, or raise ConfigError with one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's report into one line that names each variable and never its value."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "_".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "invalid configuration: " + "; ".join(problems)


def with_dev_secret(settings: Settings, directory: Path | None = None) -> Settings:
    """In development with no key configured, use (and keep) a random local secret."""
    if not settings.needs_dev_secret:
        return settings
    path = (directory or Path.cwd()) / DEV_SECRET_FILE
    secret = _read_secret(path)
    if secret is None:
        secret = _create_secret(path)
    return settings.model_copy(update={"better_auth_secret": SecretStr(secret)})


def _read_secret(path: Path) -> str | None:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return secret if len(secret) >= MIN_SECRET_LENGTH else None


def _create_secret(path: Path) -> str:
    """Write a new owner-only secret; if another process won the race, use its secret."""
    secret = secrets.token_urlsafe(48)
    staging = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    try:
        # link() never replaces an existing file, so concurrent starts agree on one secret.
        os.link(staging, path)
    except FileExistsError:
        existing = _read_secret(path)
        if existing is None:
            os.replace(staging, path)
            return secret
        secret = existing
    finally:
        staging.unlink(missing_ok=True)
    return secret
