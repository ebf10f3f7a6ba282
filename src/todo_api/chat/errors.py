"""The chat feature's domain errors; each carries its status (`http_errors` renders them). None
says anything the provider said: its text may echo a prompt, and it is not the user's to read."""

from __future__ import annotations

from todo_api.errors import AppError

# Where a failed turn's message went, in every failure's detail.
KEPT = "your message is kept in the conversation, marked unanswered"


class ChatNotConfigured(AppError):
    """No model is configured: chat is off, and everything else works."""

    status_code = 503
    default_detail = (
        "Chat is not configured on this service: set CHAT_MODEL, with OPENAI_API_KEY and, for a "
        "provider other than OpenAI, OPENAI_BASE_URL"
    )


class ModelUnanswered(AppError):
    """The model gave no usable answer; the turn's message is kept, marked unanswered."""


class ModelTimedOut(ModelUnanswered):
    status_code = 504
    default_detail = f"The model took too long to answer; {KEPT}. Try again."


class ModelFailed(ModelUnanswered):
    status_code = 502
    default_detail = f"The model provider failed to answer; {KEPT}. Try again later."


class ModelBusy(ModelUnanswered):
    """The provider rate-limits this service (not the user: their own limit is a 429)."""

    status_code = 503
    default_detail = f"The model provider is busy; {KEPT}. Try again later."

    def __init__(self, retry_after: int | None) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)} if retry_after is not None else None)
