"""Better Auth's errors as its clients expect them: `{message, code}` with its statuses and
codes (`packages/core/src/error/codes.ts`), rendered by `http_errors` like every domain error."""

from __future__ import annotations

from typing import Any

from todo_api.errors import ProtocolError

# Better Auth's BASE_ERROR_CODES (packages/core/src/error/codes.ts): code -> message.
MESSAGES = {
    "INVALID_EMAIL": "Invalid email",
    "INVALID_EMAIL_OR_PASSWORD": "Invalid email or password",
    "PASSWORD_TOO_SHORT": "Password too short",
    "PASSWORD_TOO_LONG": "Password too long",
    "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL": "User already exists. Use another email.",
    "FAILED_TO_CREATE_SESSION": "Failed to create session",
    "INVALID_ORIGIN": "Invalid origin",
    "MISSING_OR_NULL_ORIGIN": "Missing or null Origin",
    "INVALID_CALLBACK_URL": "Invalid callbackURL",
    # The session middleware's refusal (api/routes/session.ts), for /token without a session.
    "UNAUTHORIZED": "Unauthorized",
    "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED": (
        "Cross-site navigation login blocked. This request appears to be a CSRF attack."
    ),
}
# Better Auth's rate limiter (packages/better-auth/src/api/rate-limiter/) answers with no code.
TOO_MANY_REQUESTS = "Too many requests. Please try again later."
STATUS = {"BAD_REQUEST": 400, "UNAUTHORIZED": 401, "FORBIDDEN": 403, "UNPROCESSABLE_ENTITY": 422}


class AuthError(ProtocolError):
    """One of Better Auth's errors: its status, its code and its message."""

    def __init__(self, status: str, code: str) -> None:
        super().__init__(STATUS[status], code, MESSAGES[code])


class TooManyAttempts(ProtocolError):
    """Better Auth's rate limiter's 429: a message and no code; the wait in X-Retry-After
    (Better Auth's header) and in Retry-After (the standard one)."""

    def __init__(self, retry_after: int) -> None:
        wait = str(retry_after)
        super().__init__(429, "", TOO_MANY_REQUESTS, {"X-Retry-After": wait, "Retry-After": wait})

    def body(self) -> dict[str, Any]:
        return {"message": self.detail}


class InvalidBody(ProtocolError):
    """The body does not match the endpoint's schema (better-call's VALIDATION_ERROR)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "VALIDATION_ERROR", message)
