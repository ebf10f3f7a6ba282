"""The application factory. `app` is built on first access, never at import time."""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from todo_api import health
from todo_api.accounts import router as accounts
from todo_api.assistants import router as assistants
from todo_api.auth import BEARER_SCHEME, Authenticator
from todo_api.chat import router as chat
from todo_api.config import Settings, load_settings
from todo_api.conversations import router as conversations
from todo_api.cors import RefusedPreflights
from todo_api.db.connection import Database
from todo_api.db.engine import open_database
from todo_api.dev_secret import with_dev_secret
from todo_api.docs import document_schemas, document_session_cookie, install_docs
from todo_api.edge import ApiGate
from todo_api.events import router as events
from todo_api.hardening import HardeningMiddleware
from todo_api.http_errors import install_error_handlers
from todo_api.idempotency import service as idempotency
from todo_api.logs import RequestLogMiddleware, configure_logging
from todo_api.ratelimit import RateLimiter
from todo_api.state import AppState, install_state
from todo_api.stopping import on_stop_signal
from todo_api.tasks import router as tasks
from todo_api.tokens import JWKSCache, KeySetCache, TokenVerifier, VerifiedTokenCache

if TYPE_CHECKING:
    import httpx

# A page script on another origin reads only the headers named here: a task list's
# X-Sync-Token too, which resumes the events stream and the delta sync where the list was read.
EXPOSED_HEADERS = [
    "Location",
    "Link",
    "X-Total-Count",
    "X-Request-ID",
    "Retry-After",
    "ETag",
    "Idempotent-Replayed",
    tasks.SYNC_TOKEN_HEADER,
]
# The built-in sign-in's keys are one query away: an unknown `kid` may reload them every second
# (a key a Node Better Auth on the same database just made is known within a second).
OWN_KEYS_RELOAD_INTERVAL = 1.0


def build_key_set(
    settings: Settings, http: httpx.AsyncClient | None, database: Database | None
) -> KeySetCache | None:
    """The keys of JWKS-signed tokens: with the built-in sign-in its own, read from the `jwks`
    table in-process (never over HTTP from itself); else Better Auth's JWKS endpoint, if set."""
    if settings.builtin_auth:
        if database is None:
            raise ValueError("the built-in sign-in's keys are read from the database")
        return KeySetCache(
            functools.partial(accounts.verification_keys, database),
            source="the jwks table",
            cache_seconds=settings.jwks_cache_seconds,
            refetch_interval=min(settings.jwks_refetch_interval, OWN_KEYS_RELOAD_INTERVAL),
        )
    jwks_url = settings.jwks_endpoint
    if jwks_url is None:
        return None
    if http is None:
        raise ValueError("Better Auth's JWKS endpoint is fetched over HTTP")
    return JWKSCache(
        jwks_url,
        http,
        cache_seconds=settings.jwks_cache_seconds,
        refetch_interval=settings.jwks_refetch_interval,
    )


def open_http_client(settings: Settings) -> httpx.AsyncClient | None:
    """The client for Better Auth's JWKS endpoint; None when no keys come over HTTP, and then
    httpx is never imported (a few MiB per worker: its CLI module pulls in Rich and Pygments)."""
    if settings.builtin_auth or settings.jwks_endpoint is None:
        return None
    import httpx  # noqa: PLC0415

    # Never follow redirects: the JWKS location is configuration, not something a response may change.
    return httpx.AsyncClient(timeout=settings.jwks_timeout, follow_redirects=False)


def build_token_verifier(
    settings: Settings, http: httpx.AsyncClient | None, database: Database | None = None
) -> TokenVerifier:
    """The verifier for whichever keys are configured: secret, key set, or both."""
    secret = settings.better_auth_secret.get_secret_value() if settings.better_auth_secret else None
    # The built-in sign-in's tokens name the service itself as issuer and audience.
    own_url = settings.builtin_auth_url if settings.builtin_auth else None
    return TokenVerifier(
        secret=secret,
        jwks=build_key_set(settings, http, database),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_issuer=own_url or settings.jwks_issuer,
        jwks_audience=own_url or settings.jwks_audience,
        max_lifetime=settings.token_max_lifetime,
        cache=VerifiedTokenCache(settings.token_cache_size) if settings.token_cache_size else None,
    )


def build_rate_limiter(settings: Settings) -> RateLimiter | None:
    """Per-user and per-address limits; in Redis when REDIS_URL is set, shared by every instance."""
    if not settings.rate_limit_enabled:
        return None
    return RateLimiter(
        reads=settings.rate_limit_reads,
        writes=settings.rate_limit_writes,
        auth_failures=settings.rate_limit_auth_failures,
        chat=settings.rate_limit_chat,
        storage_url=settings.redis_url.get_secret_value() if settings.redis_url else None,
    )


@functools.cache
def feature_routers() -> tuple[APIRouter, ...]:
    """The features' routes in both families. They depend on no setting and hold no state, so
    every app of the process includes the same ones, as apps include module-level routers;
    building them is most of the time an app takes to build."""
    return tuple(
        tasks.build_routers() + conversations.build_routers() + chat.build_routers() + events.build_routers()
    )


@functools.cache
def accounts_router() -> APIRouter:
    """Better Auth's own endpoints (BUILTIN_AUTH), built once as `feature_routers` are."""
    return accounts.build_router()


def create_app(settings: Settings, *, serving_process: bool = False) -> FastAPI:
    """Build the service for these settings; the lifespan opens and closes its resources.

    `serving_process` is for the processes that serve requests (`todo-api serve`, or an ASGI
    server importing `todo_api.main:app`): the heap built at start-up is frozen (see the
    lifespan), and a stop signal ends the events streams at once (`stopping.py`). An app
    built inside a test process must do neither to that process.
    """
    settings = with_dev_secret(settings)
    session_cookies = accounts.accepted_cookies(settings)
    mcp = assistants.MCPEndpoint()
    chat_agent = chat.ChatAgent(settings)
    event_feed = events.EventFeed(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = await open_database(settings)
        http = open_http_client(settings)
        rate_limiter = build_rate_limiter(settings)
        authenticator = Authenticator(
            settings=settings,
            token_verifier=build_token_verifier(settings, http, database),
            rate_limiter=rate_limiter,
            session_users=(
                accounts.SessionUsersInDatabase(database, session_cookies) if session_cookies else None
            ),
            ticket_users=events.TicketUsersInDatabase(database),
        )
        install_state(
            app,
            AppState(
                settings=settings, database=database, authenticator=authenticator, rate_limiter=rate_limiter
            ),
        )
        # Everything built so far (routes, schemas, models, metadata) lives as long as the
        # process. Moving it out of the collector's reach keeps full collections short, which
        # would otherwise stall every request in flight (tail latency) and cost CPU for nothing.
        if serving_process:
            gc.collect()
            gc.freeze()
        stop_signal = (
            on_stop_signal(event_feed.close_streams) if serving_process else contextlib.nullcontext()
        )
        try:
            idempotency_ttl = timedelta(seconds=settings.idempotency_ttl)
            async with (
                mcp.running(),
                chat_agent.running(),
                events.running(event_feed, settings, database),
                idempotency.pruning(database, ttl=idempotency_ttl),
            ):
                with stop_signal:
                    yield
        finally:
            if rate_limiter is not None:
                await rate_limiter.aclose()
            if http is not None:
                await http.aclose()
            await database.close()

    app = FastAPI(
        title="todo-api",
        summary="Each user's tasks, behind Better Auth bearer tokens.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        generate_unique_id_function=lambda route: route.name,
    )
    # Router dependencies run before the route's own, in the order given; the caller, the
    # path's user and the rate limit are already settled at the edge (ApiGate).
    routers = list(feature_routers())
    if settings.builtin_auth:
        routers.append(accounts_router())
    routers += [assistants.build_router(mcp), health.build_router()]
    for router in routers:
        app.include_router(router)
    install_error_handlers(app, routes=[route for router in routers for route in router.routes])
    install_docs(app)
    document_schemas(app, events.DOCUMENTED_MODELS)
    if session_cookies is not None:
        document_session_cookie(
            app, session_cookies.name(accounts.SESSION_TOKEN), alternative_to=BEARER_SCHEME
        )
    chat.install_chat_agent(app, chat_agent)
    events.install_event_feed(app, event_feed)
    collections = tasks.COLLECTIONS + conversations.COLLECTIONS + chat.COLLECTIONS + events.COLLECTIONS
    app.add_middleware(ApiGate, collections=collections)
    app.add_middleware(
        HardeningMiddleware,
        hsts=settings.is_production,
        form_paths=accounts.FORM_PATHS if settings.builtin_auth else frozenset(),
    )
    if settings.cors_origins:
        # Without configured origins no browser page elsewhere may call the API, which is
        # what leaving CORS out does; it also spares every request the middleware's work.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "X-Request-ID",
                "Last-Event-ID",
            ],
            expose_headers=EXPOSED_HEADERS
            + chat.EXPOSED_HEADERS
            + (accounts.EXPOSED_HEADERS if settings.builtin_auth else []),
            # Bearer tokens only, unless Better Auth's session cookie is accepted: then
            # credentialed CORS, for exactly the configured origins.
            allow_credentials=settings.accepts_sessions,
            max_age=600,
        )
    app.add_middleware(RefusedPreflights, allowed_origins=settings.cors_origins)
    app.add_middleware(RequestLogMiddleware)
    return app


def build_app_from_environment() -> FastAPI:
    """The app `uvicorn todo_api.main:app` serves: settings from the environment and `.env`."""
    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return create_app(settings, serving_process=True)


@functools.cache
def _default_app() -> FastAPI:
    return build_app_from_environment()


def __getattr__(name: str) -> FastAPI:
    # Module-level `app` for any ASGI server, built on first access so importing this
    # module never reads the environment or opens anything.
    if name != "app":
        raise AttributeError(name)
    return _default_app()


__all__ = ["app", "create_app"]  # noqa: F822
