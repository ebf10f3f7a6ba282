"""The conversation feature's domain errors; each carries its status (`http_errors` renders them)."""

from __future__ import annotations

from todo_api.errors import NotFound


class ConversationNotFound(NotFound):
    """No such conversation for this user: another user's is reported the same way."""

    default_detail = "Conversation not found"
