"""Domain errors that carry their HTTP status; `http_errors` renders them. No web framework here,
so services and the token verifier can raise them without importing one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DATABASE_RETRY_AFTER_SECONDS = 5


class AppError(Exception):
    """Base of the errors services raise; one handler turns them into `{"detail": ...}`."""

    status_code = 500
    default_detail = "Internal Server Error"

    def __init__(self, detail: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        self.detail = detail or self.default_detail
        self.headers = dict(headers or {})
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        """What the response carries: `{"detail": ...}`."""
        return {"detail": self.detail}


class ProtocolError(AppError):
    """An error in another protocol's shape, `{"message", "code"}` (Better Auth's endpoints)."""

    def __init__(
        self, status_code: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.code = code
        super().__init__(message, headers)

    def body(self) -> dict[str, Any]:
        return {"message": self.detail, "code": self.code}


class BadRequest(AppError):
    status_code = 400
    default_detail = "Bad Request"


class Unauthenticated(AppError):
    status_code = 401
    default_detail = "Not authenticated"

    def __init__(self, detail: str | None = None, *, token_sent: bool = True) -> None:
        # RFC 6750: error="invalid_token" only when a token was actually presented.
        challenge = 'Bearer error="invalid_token"' if token_sent else "Bearer"
        super().__init__(detail, {"WWW-Authenticate": challenge})


class Forbidden(AppError):
    status_code = 403
    default_detail = "Forbidden"


class NotFound(AppError):
    status_code = 404
    default_detail = "Not Found"


class Conflict(AppError):
    status_code = 409
    default_detail = "Conflict"


class PreconditionFailed(AppError):
    status_code = 412
    default_detail = "The task has changed since it was read (If-Match does not match)"


class TooManyRequests(AppError):
    status_code = 429
    default_detail = "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests, retry in {retry_after} s", {"Retry-After": str(retry_after)})


class ServiceUnavailable(AppError):
    status_code = 503
    default_detail = "Service temporarily unavailable"

    def __init__(self, detail: str | None = None, retry_after: int = DATABASE_RETRY_AFTER_SECONDS) -> None:
        super().__init__(detail, {"Retry-After": str(retry_after)})
