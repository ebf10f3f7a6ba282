"""The application factory. `app` is built on first access, never at import time."""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from todo_api import health
from todo_api.auth import declare_path_user
from todo_api.config import Settings, load_settings, with_dev_secret
from todo_api.datastore import open_database
from todo_api.docs import install_docs
from todo_api.errors import install_error_handlers
from todo_api.logs import RequestLogMiddleware, configure_logging
from todo_api.middleware import HardeningMiddleware
from todo_api.ratelimit import RateLimiter
from todo_api.security import JWKSCache, TokenVerifier, VerifiedTokenCache
from todo_api.tasks.router import build_router as build_tasks_router
from todo_api.tasks.schemas import ErrorDetail

EXPOSED_HEADERS = ["Location", "Link", "X-Total-Count", "X-Request-ID", "Retry-After", "ETag"]
API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorDetail,
        "description": "Missing, malformed, expired or otherwise invalid bearer token.",
    },
    413: {"model": ErrorDetail, "description": "Request body over 1 MiB."},
    429: {
        "model": ErrorDetail,
        "description": "Per-user rate limit reached; retry after `Retry-After` seconds.",
    },
    500: {"model": ErrorDetail, "description": "Unexpected error (no internals are shown)."},
    503: {
        "model": ErrorDetail,
        "description": "Database or signing keys unreachable; retry after `Retry-After` seconds.",
    },
}
PATH_USER_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorDetail, "description": "`user_id` in the path is not the token's `sub`."}
}


def build_token_verifier(settings: Settings, http: httpx.AsyncClient) -> TokenVerifier:
    """The verifier for whichever keys are configured: secret, JWKS, or both."""
    jwks_url = settings.jwks_endpoint
    jwks = (
        JWKSCache(
            jwks_url,
            http,
            cache_seconds=settings.jwks_cache_seconds,
            refetch_interval=settings.jwks_refetch_interval,
        )
        if jwks_url
        else None
    )
    secret = settings.better_auth_secret.get_secret_value() if settings.better_auth_secret else None
    return TokenVerifier(
        secret=secret,
        jwks=jwks,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        cache=VerifiedTokenCache(settings.token_cache_size) if settings.token_cache_size else None,
    )


def build_rate_limiter(settings: Settings) -> RateLimiter | None:
    """Per-user limits, in Redis when REDIS_URL is set so all workers and instances share them."""
    if not settings.rate_limit_enabled:
        return None
    return RateLimiter(
        reads=settings.rate_limit_reads,
        writes=settings.rate_limit_writes,
        storage_url=settings.redis_url.get_secret_value() if settings.redis_url else None,
    )


def create_app(settings: Settings) -> FastAPI:
    """Build the service for these settings; the lifespan opens and closes its resources."""
    settings = with_dev_secret(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = await open_database(settings)
        # Never follow redirects: the JWKS location is configuration, not something a response may change.
        http = httpx.AsyncClient(timeout=settings.jwks_timeout, follow_redirects=False)
        app.state.database = database
        app.state.token_verifier = build_token_verifier(settings, http)
        app.state.rate_limiter = build_rate_limiter(settings)
        # Everything built so far (routes, schemas, models, metadata) lives as long as the
        # process. Moving it out of the collector's reach keeps full collections short, which
        # would otherwise stall every request in flight (tail latency) and cost CPU for nothing.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if app.state.rate_limiter is not None:
                await app.state.rate_limiter.aclose()
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
    app.state.settings = settings
    install_error_handlers(app)
    # Routes are matched in order, so the task routes, which nearly every request is for, come first.
    app.include_router(build_tasks_router("/api/tasks", responses=API_ERRORS))
    app.include_router(
        build_tasks_router(
            "/api/{user_id}/tasks",
            operation_suffix="_for_user",
            # CurrentUser checks it: someone else's id is a 403 before any other work.
            dependencies=[Depends(declare_path_user)],
            responses=API_ERRORS | PATH_USER_ERRORS,
        )
    )
    app.include_router(health.router)
    install_docs(app)
    app.add_middleware(HardeningMiddleware, hsts=settings.is_production)
    if settings.cors_origins:
        # Without configured origins no browser page elsewhere may call the API, which is
        # what leaving CORS out does; it also spares every request the middleware's work.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Request-ID"],
            expose_headers=EXPOSED_HEADERS,
            # Bearer tokens only: cookies are never needed, so credentialed CORS stays off.
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(RequestLogMiddleware)
    return app


def build_app_from_environment() -> FastAPI:
    """The app `uvicorn todo_api.main:app` serves: settings from the environment and `.env`."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


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
