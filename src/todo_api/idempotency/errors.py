"""Idempotency's domain errors; each carries its status (`http_errors` renders them)."""

from __future__ import annotations

from todo_api.errors import AppError, BadRequest, Conflict

# A request with the same key is usually done within a second.
RETRY_AFTER_SECONDS = 1


class InvalidKey(BadRequest):
    default_detail = "Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces)"


class KeyInUse(Conflict):
    """A request with this key is still running: its answer is not known yet."""

    default_detail = "A request with this Idempotency-Key is still in progress; retry shortly"

    def __init__(self) -> None:
        super().__init__(None, {"Retry-After": str(RETRY_AFTER_SECONDS)})


class KeyReused(AppError):
    """The key was first used for another request: replaying that answer would be wrong."""

    status_code = 422
    default_detail = (
        "This Idempotency-Key was already used for a different request (method, path or body); "
        "use a new key for a new request"
    )
