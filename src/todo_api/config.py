"""Typed settings, read from the environment and `.env` only when asked."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

import limits
from dotenv import dotenv_values
from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from todo_api.config_checks import (
    is_loopback,
    is_loopback_origin,
    misspelt_name,
    origin_problem,
    weak_secret_reason,
)
from todo_api.database_url import DatabaseURL

MIN_SECRET_LENGTH = 32
# Where `todo-api serve` answers by default: the built-in sign-in's issuer in development.
DEVELOPMENT_URL = "http://localhost:8000"
# Where the Next.js example (examples/nextjs) runs: allowed by CORS in development by default.
DEVELOPMENT_CORS_ORIGINS = ("http://localhost:3000",)
GENERATE_A_SECRET = "make one with `openssl rand -base64 48`"  # noqa: S105 (advice, not a secret)
# The chat model's API when OPENAI_BASE_URL is unset.
OPENAI_API_URL = "https://api.openai.com/v1"
# Read from the working directory, after the environment (which wins).
DOTENV_FILE = ".env"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ConfigError(Exception):
    """Configuration that cannot start the service; the message is one line for operators."""


class Settings(BaseSettings):
    """Everything the service can be configured with."""

    model_config = SettingsConfigDict(
        env_file=DOTENV_FILE, env_file_encoding="utf-8", extra="ignore", frozen=True
    )

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
    # This service's public base URL, for what names it to clients (the /mcp resource metadata).
    # Unset: BETTER_AUTH_URL with BUILTIN_AUTH (then the service's own); in development only, the
    # URL a request came to (its Host header, which a client chooses).
    public_url: AnyHttpUrl | None = None
    jwks_url: AnyHttpUrl | None = None
    jwks_cache_seconds: float = Field(default=300.0, ge=0)
    jwks_refetch_interval: float = Field(default=10.0, ge=0)
    jwks_timeout: float = Field(default=5.0, gt=0, le=60)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    token_cache_size: int = Field(default=10_000, ge=0)
    # The longest a token may live (`exp` - `iat`), so a leaked key cannot mint lasting tokens.
    token_max_lifetime: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)

    # Unset: the Next.js example's origin in development, none in production (see _split_origins).
    cors_origins: Annotated[list[str], NoDecode] = Field(default=None, validate_default=True)

    max_tasks_per_user: int = Field(default=10_000, ge=1)
    # Seconds the first answer to a write sent with an Idempotency-Key is kept for its retries.
    idempotency_ttl: int = Field(default=86_400, ge=1, le=30 * 24 * 3600)
    rate_limit_enabled: bool = True
    rate_limit_reads: str = "600/minute"
    rate_limit_writes: str = "120/minute"
    # Failed authentications per client address; beyond them a failure is a 429, not a 401.
    rate_limit_auth_failures: str = "60/minute"
    # Chat turns per user, besides the write they count as: each costs a model call or more.
    rate_limit_chat: str = "20/minute"
    redis_url: SecretStr | None = None

    # The relay that publishes the outbox to other services (events/relay.py). Off: the events
    # stay in the database only. `redis`: CloudEvents on a Redis Stream.
    events_relay: Literal["off", "redis"] = "off"
    # Unset: REDIS_URL, the Redis every deployment with shared rate limits already has.
    events_relay_redis_url: SecretStr | None = None
    events_relay_stream: str = "todo-api.events"
    # The stream is trimmed to about this many entries (XADD MAXLEN ~), oldest first.
    events_relay_maxlen: int = Field(default=100_000, ge=1000)
    # The CloudEvents `source` of every event: a URI reference naming this service.
    events_relay_source: str = "/todo-api"

    # The edge, as `todo-api serve` runs uvicorn (see serving.py).
    header_timeout: float = Field(default=10.0, gt=0, le=300)
    keep_alive_timeout: int = Field(default=5, ge=1, le=3600)
    limit_concurrency: int = Field(default=1000, ge=1)
    # Proxies whose X-Forwarded-For/-Proto are believed; none unless configured.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = []

    # The chat endpoint's model, on any OpenAI-compatible Chat Completions API. Unset: the chat
    # routes answer 503 and nothing else changes.
    chat_model: str | None = None
    # Unset: OpenAI's own API (https://api.openai.com/v1).
    openai_base_url: AnyHttpUrl | None = None
    openai_api_key: SecretStr | None = None
    # Seconds one model call may take, well under a proxy's idle timeout; and how many times the
    # client retries a call that failed on the way (a timeout, a 429, a 5xx) before giving up.
    chat_timeout: float = Field(default=30.0, gt=0, le=300)
    chat_max_retries: int = Field(default=1, ge=0, le=5)
    # Model calls in one turn (each answer to a tool call is another): a model calling tools in
    # a loop stops there, with an answer that says so.
    chat_max_turns: int = Field(default=10, ge=1, le=50)
    # What of a conversation the model is sent: its latest turns, within so many characters.
    chat_history_turns: int = Field(default=20, ge=0, le=1000)
    chat_history_characters: int = Field(default=20_000, ge=0, le=1_000_000)
    chat_max_message_length: int = Field(default=4000, ge=1, le=100_000)
    # Seconds a streamed answer may stay silent (the model thinking, a tool running) before an
    # SSE comment keeps it alive: well under the idle timeouts of common proxies and load
    # balancers (60 s for nginx and AWS's, 55 s for Heroku's router).
    chat_heartbeat: float = Field(default=15.0, gt=0, le=60)
    # The Agents SDK's trace export (to OpenAI, with OPENAI_API_KEY), without message contents.
    # Off: no user's message leaves for a tracing service.
    chat_tracing: bool = False

    # Live events (GET /api/events) and the outbox they come from (migration 0012).
    # Days an event is kept: a client away for longer is told to start over (a `reset`).
    events_retention_days: float = Field(default=7.0, gt=0, le=365)
    # Seconds a stream may stay silent before an SSE comment keeps it alive (see chat_heartbeat).
    events_heartbeat: float = Field(default=15.0, gt=0, le=60)
    # PostgreSQL wakes streams with LISTEN/NOTIFY on a connection of its own, which must reach
    # the database directly: a transaction-mode pooler (DB_PREPARED_STATEMENTS=false; Neon's
    # -pooler host) drops LISTEN. Unset: DATABASE_URL.
    events_listen_url: DatabaseURL | None = None
    # Seconds between looks at the outbox where no notification comes: SQLite (writes from any
    # process on the file), and PostgreSQL while its listening connection is away.
    events_poll_interval: float = Field(default=0.25, gt=0, le=60)
    # Seconds a stream stays open before it ends and its client reconnects where it left off
    # (EventSource does so by itself): connections move to new instances, none is held for ever.
    events_stream_lifetime: float = Field(default=3600.0, gt=0, le=86400)
    # Open streams per user on one instance (each holds a connection and a little memory).
    events_max_streams_per_user: int = Field(default=10, ge=1, le=1000)

    # Every instance fires the due reminders (a `reminder.due` event each) every so many seconds;
    # a reminder fires once however many instances run.
    reminders_enabled: bool = True
    reminder_interval: float = Field(default=5.0, gt=0, le=3600)

    # Sharing Better Auth's PostgreSQL database: a migration ties task.user_id to "user".id
    # (ON DELETE CASCADE), so deleting a Better Auth user deletes their tasks.
    better_auth_shared_database: bool = False
    # Serve Better Auth's own /api/auth endpoints (sign-up, sign-in, sessions). Unset: on in
    # development, unless another Better Auth signs users in (see _builtin_auth_by_default);
    # off in production, where serving sign-in is a decision to make.
    builtin_auth: bool = Field(default=None, validate_default=True)

    @field_validator("public_url", mode="before")
    @classmethod
    def _empty_public_url_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("public_url", mode="after")
    @classmethod
    def _check_public_url(cls, value: AnyHttpUrl | None, info: ValidationInfo) -> AnyHttpUrl | None:
        if value is None:
            return None
        if value.query is not None or value.fragment is not None:
            raise ValueError("must be a base URL, without a query or a fragment")
        production = info.data.get("environment") is Environment.PRODUCTION
        if production and value.scheme != "https" and not is_loopback(value.host):
            raise ValueError("must use https in production")
        return value

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("builtin_auth", mode="before")
    @classmethod
    def _builtin_auth_by_default(cls, value: object, info: ValidationInfo) -> object:
        if value is not None and value != "":
            return value
        fields = info.data
        if fields.get("environment") is Environment.PRODUCTION or fields.get("better_auth_shared_database"):
            return False
        # A Better Auth elsewhere (its URL or JWKS configured) signs users in; BETTER_AUTH_URL
        # names the service itself only when BUILTIN_AUTH is asked for.
        return fields.get("jwks_url") is None and fields.get("better_auth_url") is None

    @field_validator("database_url", "events_listen_url", mode="before")
    @classmethod
    def _parse_database_url(cls, value: object) -> object:
        # Parsed here, once: a bad URL is reported against DATABASE_URL (DatabaseURLError is a
        # ValueError), and the engines use the parsed form without reading the text again.
        if isinstance(value, SecretStr) and not isinstance(value, DatabaseURL):
            value = value.get_secret_value()
        return DatabaseURL(value) if isinstance(value, str) else value

    @field_validator("events_listen_url", mode="after")
    @classmethod
    def _check_listen_url(cls, value: DatabaseURL | None) -> DatabaseURL | None:
        if value is not None and value.target.is_sqlite:
            raise ValueError("must be a PostgreSQL URL (SQLite has no notifications to listen to)")
        return value

    @field_validator(
        "rate_limit_reads", "rate_limit_writes", "rate_limit_auth_failures", "rate_limit_chat", mode="after"
    )
    @classmethod
    def _check_rate(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a rate such as '600/minute' or '10/second'") from None
        return value

    @field_validator("redis_url", "events_relay_redis_url", mode="after")
    @classmethod
    def _check_redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("redis://", "rediss://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("events_relay", mode="before")
    @classmethod
    def _relay_off_when_empty(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or "off"
        return value

    @field_validator("events_relay_stream", "events_relay_source", mode="after")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not value or value != value.strip() or not value.isprintable() or " " in value:
            raise ValueError("must be a non-empty name without spaces")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object, info: ValidationInfo) -> object:
        if value is None or value == "":
            development = info.data.get("environment") is Environment.DEVELOPMENT
            return list(DEVELOPMENT_CORS_ORIGINS) if development else []
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins", mode="after")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            problem = origin_problem(origin)
            if problem is not None:
                raise ValueError(problem)
        return value

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [proxy.strip() for proxy in value.split(",") if proxy.strip()]
        return value

    @field_validator("forwarded_allow_ips", mode="after")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for proxy in value:
            if proxy == "*":  # any peer: only where nothing but the proxy can reach the server
                continue
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"'{proxy}' is not an IP address or network (such as 10.0.0.0/8)") from None
        return value

    @field_validator(
        "better_auth_secret",
        "better_auth_url",
        "jwks_url",
        "jwt_issuer",
        "jwt_audience",
        "redis_url",
        "events_relay_redis_url",
        "log_format",
        "chat_model",
        "openai_base_url",
        "openai_api_key",
        "events_listen_url",
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

    @field_validator("chat_model", mode="after")
    @classmethod
    def _check_chat_model(cls, value: str | None) -> str | None:
        if value is not None and (value != value.strip() or not value.isprintable()):
            raise ValueError("must be a model name such as gpt-4o-mini, without spaces around it")
        return value

    @field_validator("openai_base_url", mode="after")
    @classmethod
    def _check_openai_base_url(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and (value.query is not None or value.fragment is not None):
            raise ValueError("must be a base URL such as https://api.openai.com/v1, without a query")
        return value

    @model_validator(mode="after")
    def _openai_needs_a_key(self) -> Self:
        # Other providers may need none (a local Ollama); OpenAI's own API always does.
        if self.chat_model is not None and self.openai_base_url is None and self.openai_api_key is None:
            raise ValueError(
                "CHAT_MODEL on OpenAI's API needs OPENAI_API_KEY (or OPENAI_BASE_URL for another "
                "provider, such as a local Ollama that needs no key)"
            )
        if self.chat_tracing and self.openai_api_key is None:
            raise ValueError("CHAT_TRACING exports traces to OpenAI with OPENAI_API_KEY, which is not set")
        return self

    @model_validator(mode="after")
    def _relay_needs_redis(self) -> Self:
        if self.events_relay == "redis" and self.events_relay_url is None:
            raise ValueError("EVENTS_RELAY=redis needs EVENTS_RELAY_REDIS_URL or REDIS_URL (redis://...)")
        return self

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
    def _builtin_auth_signs_cookies(self) -> Self:
        if self.builtin_auth and self.better_auth_secret is None and not self.needs_dev_secret:
            raise ValueError("BUILTIN_AUTH needs BETTER_AUTH_SECRET (at least 32 characters) to sign cookies")
        if self.builtin_auth and self.is_production and self.better_auth_url is None:
            raise ValueError("BUILTIN_AUTH in production needs BETTER_AUTH_URL, the service's own public URL")
        return self

    @model_validator(mode="after")
    def _production_is_strict(self) -> Self:
        if not self.is_production:
            return self
        problems = [
            f"{name} must use https"
            for name, url in (("BETTER_AUTH_URL", self.better_auth_url), ("JWKS_URL", self.jwks_url))
            if url is not None and url.scheme != "https" and not is_loopback(url.host)
        ]
        if any(
            not origin.startswith("https://") and not is_loopback_origin(origin)
            for origin in self.cors_origins
        ):
            problems.append("CORS_ORIGINS must be https:// origins (http:// only for localhost)")
        if self.better_auth_secret is not None:
            weakness = weak_secret_reason(self.better_auth_secret.get_secret_value())
            if weakness is not None:
                problems.append(
                    f"BETTER_AUTH_SECRET {weakness}: anyone could sign tokens; {GENERATE_A_SECRET}"
                )
        if problems:
            raise ValueError("in production, " + "; ".join(problems))
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
    def builtin_auth_url(self) -> str:
        """The built-in sign-in's own URL, its JWTs' `iss` and `aud`: BETTER_AUTH_URL, else (in
        development only) where `todo-api serve` answers by default."""
        return self.better_auth_base_url or DEVELOPMENT_URL

    @property
    def jwks_issuer(self) -> str | None:
        """The `iss` a JWKS-signed token must carry: JWT_ISSUER, else Better Auth's default."""
        return self.jwt_issuer or self.better_auth_base_url

    @property
    def jwks_audience(self) -> str | None:
        """The `aud` a JWKS-signed token must carry: JWT_AUDIENCE, else Better Auth's default."""
        return self.jwt_audience or self.better_auth_base_url

    @property
    def accepts_sessions(self) -> bool:
        """Whether Better Auth's sessions (token or cookie) authenticate, besides JWTs."""
        return self.builtin_auth or self.better_auth_shared_database

    @property
    def events_relay_url(self) -> str | None:
        """The Redis the events relay publishes to: EVENTS_RELAY_REDIS_URL, else REDIS_URL."""
        url = self.events_relay_redis_url or self.redis_url
        return url.get_secret_value() if url is not None else None

    @property
    def chat_base_url(self) -> str:
        """Where the chat model's Chat Completions API is: OPENAI_BASE_URL, else OpenAI's."""
        return str(self.openai_base_url).rstrip("/") if self.openai_base_url else OPENAI_API_URL

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


@dataclass(frozen=True)
class MisspeltSetting:
    """A name given to the service that is no setting of it, and the setting it resembles."""

    name: str
    where: str
    meant: str

    def __str__(self) -> str:
        return f"{self.name} (in {self.where}) is not a setting: did you mean {self.meant}?"


def misspelt_settings(
    environ: Mapping[str, str], *, env_file: Path = Path(DOTENV_FILE), also_known: Collection[str] = ()
) -> list[MisspeltSetting]:
    """Names in the environment or the `.env` file that look like misspellings of settings.

    `also_known` adds names read elsewhere (the command's own options). A name unlike every
    setting (PATH, NODE_ENV...) is ignored.
    """
    known = {name.upper() for name in Settings.model_fields} | {name.upper() for name in also_known}
    sources: list[tuple[str, Collection[str]]] = [("the environment", list(environ))]
    if env_file.is_file():
        sources.append((env_file.name, list(dotenv_values(env_file))))
    found = []
    for where, names in sources:
        for name in names:
            meant = misspelt_name(name.upper(), known)
            if meant is not None:
                found.append(MisspeltSetting(name, where, meant))
    return found
