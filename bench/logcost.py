"""What one access-log line costs the service, measured in-process with its own JSON formatter."""

from __future__ import annotations

import logging
import tempfile
import time
import uuid

from todo_api.logs import JSONFormatter

PASSES = 7
LINES = 2000


def measure() -> dict[str, float]:
    """µs per access line (best of several passes) as RequestLogMiddleware logs it, written to a file."""
    logger = logging.getLogger("bench.access")
    logger.setLevel(logging.INFO)
    logger.propagate = False  # only our file handler: the root logger's setup stays untouched
    extra = {
        "event": "request",
        "request_id": uuid.uuid4().hex,
        "method": "GET",
        "path": "/api/tasks",
        "status": 200,
        "duration_ms": 1.23,
        "user_id": "x" * 32,
        "client": "127.0.0.1",
    }
    with tempfile.TemporaryFile("w") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(JSONFormatter())
        logger.addHandler(handler)
        timings = []
        for _ in range(PASSES):
            started = time.perf_counter()
            for _ in range(LINES):
                logger.info("request", extra=extra)
            timings.append(time.perf_counter() - started)
        logger.removeHandler(handler)
    return {"access_line_us": round(min(timings) / LINES * 1e6, 2)}
