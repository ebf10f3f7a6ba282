"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from todo_api.errors import ServiceUnavailable
from todo_api.state import app_state

router = APIRouter(tags=["health"])


class HealthStatus(BaseModel):
    status: Literal["ok"]


@router.get("/health", summary="Liveness: the process answers (no database)")
async def health() -> HealthStatus:
    return HealthStatus(status="ok")


@router.get(
    "/health/ready",
    summary="Readiness: the database answers",
    responses={503: {"description": "The database is unreachable."}},
)
async def ready(request: Request) -> HealthStatus:
    state = app_state(request)
    try:
        async with asyncio.timeout(state.settings.db_connect_timeout):
            await state.database.ping()
    except Exception:
        raise ServiceUnavailable("Database unavailable") from None
    return HealthStatus(status="ok")
