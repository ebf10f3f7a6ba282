"""The task feature's domain errors; each carries its status (`http_errors` renders them)."""

from __future__ import annotations

from todo_api.errors import AppError, BadRequest, Conflict, NotFound


class TaskNotFound(NotFound):
    """No such task for this user: another user's task is reported the same way."""

    default_detail = "Task not found"


class TagNotFound(NotFound):
    """None of this user's tasks has the tag."""

    default_detail = "Tag not found"


class ScheduleRefused(Conflict):
    """A reminder relative to the due date or a recurrence, for a task that has no due date (or an
    interval without a pattern): the request is well formed, but the task's state does not
    allow it."""


class TaskLimitReached(Conflict):
    """The user already keeps MAX_TASKS_PER_USER tasks."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Task limit reached: a user may keep at most {limit} tasks")


class InvalidListParameter(BadRequest):
    """A list parameter out of what it allows; the detail names it and says what it takes."""

    def __init__(self, name: str, rule: str) -> None:
        super().__init__(f"invalid '{name}': {rule}")


class SyncTokenExpired(AppError):
    """The changes after a sync token are no longer all kept (EVENTS_RETENTION_DAYS), or the
    token is not one of this database's: the client must list its tasks afresh."""

    status_code = 410
    default_detail = (
        "This sync token is too old (or unknown): list your tasks again and sync from that "
        "list's X-Sync-Token"
    )
