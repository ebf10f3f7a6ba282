"""The events feature's domain errors; each carries its status (`http_errors` renders them)."""

from __future__ import annotations

from todo_api.errors import AppError, ServiceUnavailable

# Seconds a client over its number of streams is asked to wait: a closed one is freed at once.
STREAMS_RETRY_AFTER = 5


class TooManyStreams(AppError):
    """The user already has as many open streams on this instance as allowed."""

    status_code = 429

    def __init__(self, most: int) -> None:
        super().__init__(
            f"At most {most} event streams may be open at once (EVENTS_MAX_STREAMS_PER_USER); close one",
            {"Retry-After": str(STREAMS_RETRY_AFTER)},
        )


class ServerStopping(ServiceUnavailable):
    """This instance is stopping: a new stream belongs on another."""

    def __init__(self) -> None:
        super().__init__("This instance is stopping: reconnect in a moment", retry_after=1)
