"""Logs: one JSON object per line for machines (production), one readable line for people
(development); and one access line per request, with a request id."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_logger = logging.getLogger("todo_api.access")
error_logger = logging.getLogger("todo_api.errors")
REQUEST_ID_HEADER = "x-request-id"
MAX_LOGGED_PATH = 200
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Attributes every LogRecord has; anything else was passed in `extra` and belongs in the line.
# uvicorn's `color_message` is its message again, with terminal colour codes.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
# Loggers that speak only of their own set-up, or of each outgoing request, at INFO (Alembic
# names each plugin it loads; the MCP SDK, its session manager's start and every stateless
# request's "session" ending; httpx, and the httpx2 the OpenAI client is built on, one line per
# HTTP request: each call to the chat model, each fetch of signing keys).
QUIET_BELOW_WARNING = ("alembic", "mcp", "httpx", "httpx2")
# Drivers that log statements with their parameters (password hashes, session tokens) at DEBUG;
# the OpenAI client (the Agents SDK's `openai.agents` included), which logs each request to the
# chat model (the user's messages) at DEBUG; and httpcore, which logs the headers HTTP answers
# carry (a provider's cookies): kept at WARNING even when LOG_LEVEL=debug.
NEVER_BELOW_WARNING = (
    "aiosqlite",
    "asyncpg",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "openai",
    "httpcore",
    "httpcore2",
)


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed in `extra`."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(extra_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """One line for a person at a terminal: time, level, logger, message, then `key=value`s.

    An access line reads as the request it was: `GET /api/tasks/{task_id} 404 1.3 ms`.
    """

    def format(self, record: logging.LogRecord) -> str:
        fields = extra_fields(record)
        fields.pop("event", None)  # the message already says what happened
        message = record.getMessage()
        if record.name == access_logger.name and "status" in fields:
            message = f"{fields.pop('method')} {fields.pop('path')} {fields.pop('status')}"
            message += f" {fields.pop('duration_ms')} ms"
        time_of_day = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        details = "".join(f" {key}={_shown(value)}" for key, value in fields.items() if value is not None)
        line = f"{time_of_day} {record.levelname:<7} {record.name}: {message}{details}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _shown(value: object) -> str:
    # Quoted (control characters escaped) unless plainly one word, so no value can forge a line.
    text = str(value)
    return text if text and text.isprintable() and " " not in text else json.dumps(text)


def configure_logging(level: str, *, json_lines: bool) -> None:
    """Send every logger, uvicorn's included, to stderr: JSON lines, or readable ones."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if json_lines else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our access line replaces uvicorn's, which would log raw query strings.
    logging.getLogger("uvicorn.access").disabled = True
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in QUIET_BELOW_WARNING:
        logging.getLogger(name).setLevel(quiet)
    for name in NEVER_BELOW_WARNING:
        logging.getLogger(name).setLevel(logging.WARNING)


def log_unhandled_error(error: BaseException, *, path: str, client: str | None) -> None:
    """The one line (with its traceback) an error no handler expected leaves in the log."""
    error_logger.error(
        "unhandled error", exc_info=error, extra={"event": "unhandled_error", "path": path, "client": client}
    )


def client_address(connection: HTTPConnection) -> str | None:
    """The peer's address as the server saw it (after trusted proxy headers, if enabled)."""
    return connection.client.host if connection.client else None


class RequestLogMiddleware:
    """Give each request an id (echoed in X-Request-ID) and log one line when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # 128 random bits as 32 hex digits, as uuid4().hex gives, without building a UUID object.
        request_id = _incoming_request_id(scope) or os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("ascii")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # At warning level (typical under load) skip building a record nobody will see.
            if access_logger.isEnabledFor(logging.INFO):
                self._log(scope, request_id, status, started)

    @staticmethod
    def _log(scope: Scope, request_id: str, status: int, started: float) -> None:
        route = scope.get("route")
        access_logger.info(
            "request",
            extra={
                "event": "request",
                "request_id": request_id,
                "method": scope["method"],
                # The route's template (no ids); else, for what no route of ours answered (the
                # OpenAPI document, a preflight, a 404), the path as sent, cut short.
                "path": getattr(route, "path_format", None) or scope["path"][:MAX_LOGGED_PATH],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": scope["state"].get("user_id"),
                "client": scope["client"][0] if scope.get("client") else None,
            },
        )


def _incoming_request_id(scope: Scope) -> str | None:
    # A caller's id is kept for tracing across services, but only if it is plainly safe.
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SAFE_REQUEST_ID.match(candidate) else None
    return None
