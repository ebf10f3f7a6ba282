"""The next occurrence of a recurring task, added in the transaction that completes it.

The completed task keeps the new occurrence's id (`next_task_id`) and its row stays locked until
the transaction ends, so however many requests complete it at once, or retry, one occurrence is
added: each later one finds `next_task_id` set. Un-completing a task keeps its occurrence.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from todo_api.db.connection import Connection
from todo_api.models import TaskStatus
from todo_api.tasks.due_dates import overdue_after, zone
from todo_api.tasks.errors import TaskLimitReached
from todo_api.tasks.recurrence import next_due
from todo_api.tasks.schedule import due_moment
from todo_api.tasks.statements import CREATE_TASK
from todo_api.tasks.tags import tags_of
from todo_api.tasks.written import description_values, tag_values, title_values


def as_written(row: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A task's columns once an update's `new_<column>` values are applied to `row`."""
    task = dict(row)
    task.update(
        (name.removeprefix("new_"), value) for name, value in values.items() if name.startswith("new_")
    )
    return task


def adds_an_occurrence(stored: Mapping[str, Any], written: Mapping[str, Any]) -> bool:
    """Whether writing `written` over `stored` completes a recurring task for the first time."""
    return (
        stored["status"] != TaskStatus.COMPLETED
        and written["status"] == TaskStatus.COMPLETED
        and written["recurrence_pattern"] is not None
        and stored["next_task_id"] is None
    )


async def add_next_occurrence(
    connection: Connection, task: Mapping[str, Any], *, owner: str, now: datetime, max_tasks: int
) -> int | None:
    """Add the occurrence that follows `task` (its columns as written): the same task, pending,
    due by its rule, with its reminder moved along. Its id; None when the series has ended."""
    task_zone = zone(task["timezone"])
    due_at: datetime = task["due_at"]
    all_day: bool = task["due_all_day"]
    following = next_due(
        due_at,
        all_day=all_day,
        zone=task_zone,
        pattern=task["recurrence_pattern"],
        interval=task["recurrence_interval"] or 1,
        anchor_day=task["recurrence_anchor_day"],
        rule=task["recurrence_rule"],
    )
    if following is None:
        return None
    before = task["remind_before_minutes"]
    remind_at: datetime | None
    if before is not None:
        remind_at = due_moment(following, all_day=all_day, zone=task_zone) - timedelta(minutes=before)
    else:
        remind_at = None if task["remind_at"] is None else task["remind_at"] + (following - due_at)
    values = {
        "owner": owner,
        "now": now,
        "max_tasks": max_tasks,
        **title_values(task["title"]),
        **description_values(task["description"]),
        **tag_values(tags_of(task["tags"])),
        "new_status": TaskStatus.PENDING.value,
        "new_priority": task["priority"],
        "new_due_at": following,
        "new_due_all_day": all_day,
        "new_overdue_after": overdue_after(following, all_day=all_day, zone=task_zone),
        "new_remind_at": remind_at,
        "new_remind_before_minutes": before,
        "new_recurrence_pattern": task["recurrence_pattern"],
        "new_recurrence_interval": task["recurrence_interval"],
        "new_recurrence_rule": task["recurrence_rule"],
        "new_recurrence_anchor_day": task["recurrence_anchor_day"],
        "new_timezone": task["timezone"],
    }
    added = await connection.fetch_one(CREATE_TASK, values)
    if added is None:
        raise TaskLimitReached(max_tasks)
    return int(added["id"])
