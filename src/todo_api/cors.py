"""A CORS preflight the service refuses, said out loud.

A browser shows nothing of a refused preflight but a console line on the page's side: the
request it was asking for is simply never sent. So a preflight from an origin the service does
not allow is answered here with a JSON 403 naming the setting, and logged with the same hint,
whether CORS is configured or not; an allowed one goes on to Starlette's `CORSMiddleware`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)


class RefusedPreflights:
    """Answer a preflight from an origin that is not allowed with a 403 and a hint, and log it."""

    def __init__(self, app: ASGIApp, *, allowed_origins: Collection[str]) -> None:
        self.app = app
        self.allowed_origins = frozenset(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            # A preflight: OPTIONS with an Origin and the method the page means to send.
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if (
                origin is not None
                and "access-control-request-method" in headers
                and origin not in self.allowed_origins
            ):
                hint = f"add {origin} to CORS_ORIGINS to let pages there call this service"
                logger.warning(
                    "cross-origin request refused: origin not in CORS_ORIGINS",
                    extra={"event": "cors_refused", "origin": origin, "path": scope["path"], "hint": hint},
                )
                detail = f"Origin {origin} is not allowed: {hint}"
                await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
