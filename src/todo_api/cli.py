"""The `todo-api` command: serve, migrate, token, openapi."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from types import FrameType
from typing import Annotated, NoReturn

import typer
import uvicorn
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError

from todo_api.config import ConfigError, Settings, load_settings, misspelt_settings
from todo_api.database_url import mask_password
from todo_api.db.engine import DatabaseUnreachable
from todo_api.dev_secret import with_dev_secret
from todo_api.logs import configure_logging
from todo_api.serving import HTTPImplementation, uvicorn_options
from todo_api.tokens import create_token

DEMO_USER = "demo-user"
DEMO_TOKEN_TTL = 24 * 3600
# Only so that building the app for its schema makes no development secret file; never used.
OPENAPI_SECRET = "openapi-schema-placeholder-" + "0" * 32
# What `serve` reads from the environment besides the settings (its options' variables).
SERVE_VARIABLES = ("HOST", "PORT", "WEB_CONCURRENCY")

logger = logging.getLogger("todo_api.cli")

cli = typer.Typer(
    add_completion=False, no_args_is_help=True, help="todo-api: each user's tasks behind Better Auth tokens."
)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"todo-api: {message}", err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    """The settings, with logging configured from them; bad configuration exits with one line."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(str(exc), code=2)
    configure_logging(settings.log_level, json_lines=settings.log_json)
    _check_names(settings)
    return settings


def _check_names(settings: Settings) -> None:
    """A name that looks like a misspelt setting: a warning in development, an error in production."""
    misspelt = misspelt_settings(os.environ, also_known=SERVE_VARIABLES)
    # A misspelt ENVIRONMENT leaves the environment itself unknown: never guess development.
    if misspelt and (settings.is_production or any(name.meant == "ENVIRONMENT" for name in misspelt)):
        _fail("invalid configuration: " + "; ".join(str(name) for name in misspelt), code=2)
    for name in misspelt:
        logger.warning(str(name), extra={"event": "misspelt_setting"})


def _migrate(settings: Settings) -> None:
    # Imported here: Alembic costs ~12 MiB that a server started without migrating never needs.
    from todo_api.migrations import upgrade_database  # noqa: PLC0415

    try:
        asyncio.run(upgrade_database(settings))
    except DatabaseUnreachable as exc:
        _fail(str(exc))
    except Exception as exc:
        where = mask_password(settings.database_url.get_secret_value())
        _fail(f"cannot migrate the database at {where}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    # The driver's own words (e.g. "password authentication failed") without a traceback.
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return text[:300]


@cli.command()
def serve(
    host: Annotated[
        str, typer.Option(envvar="HOST", help="Interface to bind; 0.0.0.0 behind a load balancer.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(envvar="WEB_CONCURRENCY", min=1, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    http: Annotated[
        HTTPImplementation, typer.Option(help="HTTP parser: httptools (auto, when installed) or h11.")
    ] = HTTPImplementation.AUTO,
) -> None:
    """Apply migrations (unless MIGRATE_ON_STARTUP=false) and serve the API."""
    settings = _settings()
    # Made once here so every worker process reads the same development secret.
    settings = with_dev_secret(settings)
    if settings.migrate_on_startup:
        _migrate(settings)
    _print_banner(settings, host, port)
    # uvicorn drains in-flight requests, then re-raises the signal it caught; this handler
    # turns that into a clean exit so orchestrators see status 0 for a requested stop.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_cleanly)
    uvicorn.run(
        "todo_api.main:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        **uvicorn_options(settings, http),
    )


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@cli.command()
def migrate() -> None:
    """Apply database migrations and exit."""
    settings = _settings()
    _migrate(settings)
    typer.echo("todo-api: database is up to date")


@cli.command()
def token(
    sub: Annotated[str, typer.Argument(help="The user id (the token's `sub`).")],
    ttl: Annotated[int, typer.Option(min=1, help="Lifetime in seconds.")] = 3600,
) -> None:
    """Print an HS256 token for SUB, signed with the configured secret."""
    settings = with_dev_secret(_settings())
    if settings.better_auth_secret is None:
        _fail("no BETTER_AUTH_SECRET is configured, so no HS256 token can be signed", code=2)
    if ttl > settings.token_max_lifetime:
        _fail(
            f"--ttl {ttl} is over TOKEN_MAX_LIFETIME ({settings.token_max_lifetime} s), "
            "so the service would refuse the token"
        )
    typer.echo(_token_for(settings, settings.better_auth_secret.get_secret_value(), sub, ttl))


@cli.command()
def openapi() -> None:
    """Print the OpenAPI schema of every route (as /openapi.json serves it), without a server."""
    # Imported here, as `serve` leaves the app to uvicorn: building it loads everything.
    from todo_api.main import create_app  # noqa: PLC0415

    # Fixed settings, not the environment's, so the schema (and the client generated from it)
    # is the same everywhere; the built-in accounts are on so their routes are in it too.
    settings = Settings.model_construct(builtin_auth=True, better_auth_secret=SecretStr(OPENAPI_SECRET))
    typer.echo(json.dumps(create_app(settings).openapi(), indent=2, ensure_ascii=False))


def _token_for(settings: Settings, secret: str, sub: str, ttl: int) -> str:
    claims = {
        key: value
        for key, value in (("iss", settings.jwt_issuer), ("aud", settings.jwt_audience))
        if value is not None
    }
    return create_token(sub, secret, ttl_seconds=ttl, **claims)


def _print_banner(settings: Settings, host: str, port: int) -> None:
    shown_host = "localhost" if host in ("0.0.0.0", "::", "127.0.0.1") else host  # noqa: S104
    typer.echo(f"todo-api: API docs at http://{shown_host}:{port}/docs", err=True)
    if settings.builtin_auth:
        typer.echo(
            f"todo-api: sign-up and sign-in (Better Auth's endpoints) at http://{shown_host}:{port}/api/auth "
            "(POST /sign-up/email, /sign-in/email)",
            err=True,
        )
    if settings.is_production or settings.better_auth_secret is None:
        return
    ttl = min(DEMO_TOKEN_TTL, settings.token_max_lifetime)
    token = _token_for(settings, settings.better_auth_secret.get_secret_value(), DEMO_USER, ttl)
    typer.echo(
        f"todo-api: development token for '{DEMO_USER}' "
        f"(valid {_duration(ttl)}; paste into Authorize):\n{token}",
        err=True,
    )


def _duration(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds // 60} min"


def main() -> None:
    """Entry point of the `todo-api` script."""
    cli()
