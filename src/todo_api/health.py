"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from todo_api.db.connection import Database
from todo_api.errors import ServiceUnavailable
from todo_api.state import DatabaseDep, app_state

# Seconds the database's answer to a readiness probe is reused for.
READINESS_REUSED_FOR = 1.0


class HealthStatus(BaseModel):
    status: Literal["ok"]


class LastReadiness:
    """The database's last answer to the readiness probe, reused for a second: the probe needs
    no token, and must not let anyone drive database queries at will."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._asked_at = -math.inf
        self._ready = False

    async def ready(self, database: Database, within: float) -> bool:
        """Whether the database answered (within `within` seconds), now or a moment ago."""
        # One probe asks at a time; the probes that queued meanwhile take its answer.
        async with self._lock:
            if time.monotonic() - self._asked_at >= READINESS_REUSED_FOR:
                self._ready = await _answers(database, within)
                self._asked_at = time.monotonic()
            return self._ready


async def _answers(database: Database, within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            await database.ping()
    except Exception:
        return False
    return True


def build_router() -> APIRouter:
    """The probes, with a readiness answer of this app's own."""
    router = APIRouter(tags=["health"])
    last_readiness = LastReadiness()

    @router.get("/health", summary="Liveness: the process answers (no database)")
    async def health() -> HealthStatus:
        return HealthStatus(status="ok")

    @router.get(
        "/health/ready",
        summary="Readiness: the database answers",
        responses={503: {"description": "The database is unreachable."}},
    )
    async def ready(request: Request, database: DatabaseDep) -> HealthStatus:
        if not await last_readiness.ready(database, app_state(request).settings.db_connect_timeout):
            raise ServiceUnavailable("Database unavailable")
        return HealthStatus(status="ok")

    return router
