"""An event as clients receive it: the JSON of `EventPublic`, in a Server-Sent Events frame; and
as other services receive it from the relay, the same JSON inside a CloudEvents 1.0 envelope."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from todo_api.tasks.schemas import TaskPublic, public_fields

EventType = Literal["task.created", "task.updated", "task.completed", "task.deleted", "reminder.due"]
REMINDER_DUE: EventType = "reminder.due"
# The task columns an event keeps as timestamps, written as text in its JSON snapshot.
SNAPSHOT_TIMES = (
    "due_at",
    "overdue_after",
    "remind_at",
    "reminder_acknowledged_at",
    "created_at",
    "updated_at",
)


class ReminderPublic(BaseModel):
    """A reminder that fired: whose task, and when it was due and set to remind."""

    task_id: int
    title: str = Field(description="The task's title when the reminder fired.")
    due_at: str | None = Field(
        description="The task's due date as the task shows it (`due_date`); null when it has none."
    )
    remind_at: str = Field(description="The instant the reminder was set for, as the task shows it.")
    user_id: str


class EventPublic(BaseModel):
    """One change of one of your tasks, or one of its reminders firing, as the events stream and
    the Redis relay send it."""

    event_id: str = Field(description="A UUID: the same event is always the same id (deduplicate on it).")
    seq: int = Field(description="Your events are numbered 1, 2, 3, ... in the order they happened.")
    type: EventType
    user_id: str
    task_id: int
    task: TaskPublic | None = Field(
        description="The task after the change (for `reminder.due`, as it fired); null for `task.deleted`."
    )
    reminder: ReminderPublic | None = Field(
        description="For `reminder.due`, the reminder that fired; null for the other types."
    )
    at: datetime


def snapshot_row(snapshot: str) -> dict[str, Any]:
    """A task row (as the task statements return one) from the JSON an event keeps of it.

    PostgreSQL writes its times with an offset, SQLite as naive UTC (SQLAlchemy's format);
    both are read as aware UTC times. SQLite writes booleans as 0 and 1.
    """
    row: dict[str, Any] = orjson.loads(snapshot)
    for name in SNAPSHOT_TIMES:
        text = row.get(name)
        if text is not None:
            moment = datetime.fromisoformat(text)
            row[name] = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    row["due_all_day"] = bool(row["due_all_day"])
    return row


def event_fields(event: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    """An outbox row as `EventPublic` shows it, its task as the task routes show one at `now`."""
    snapshot = event["task"]
    task = None if snapshot is None else public_fields(snapshot_row(snapshot), now=now)
    return {
        "event_id": event["event_id"],
        "seq": event["seq"],
        "type": event["type"],
        "user_id": event["user_id"],
        "task_id": event["task_id"],
        "task": task,
        "reminder": reminder_fields(task) if event["type"] == REMINDER_DUE and task is not None else None,
        "at": event["at"],
    }


def reminder_fields(task: Mapping[str, Any]) -> dict[str, Any]:
    """A fired reminder as `ReminderPublic` shows it, from its task as the task routes show it
    (so its times are written as the task's are)."""
    return {
        "task_id": task["id"],
        "title": task["title"],
        "due_at": task["due_date"],
        "remind_at": task["remind_at"],
        "user_id": task["user_id"],
    }


def dump_event(event: Mapping[str, Any], *, now: datetime) -> bytes:
    return orjson.dumps(event_fields(event, now=now), option=orjson.OPT_UTC_Z)


def event_frame(event: Mapping[str, Any], *, now: datetime) -> bytes:
    """The Server-Sent Events frame of one event: its number as the `id:` a reconnecting
    client sends back (Last-Event-ID), its type as the `event:` name."""
    data = dump_event(event, now=now)
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event["seq"], event["type"].encode(), data)


CLOUDEVENTS_VERSION = "1.0"


def cloud_event(event: Mapping[str, Any], *, source: str, now: datetime) -> bytes:
    """An outbox row as a CloudEvents 1.0 event in structured mode (JSON), its `data` the event
    as `EventPublic` writes it (docs/events.md).

    `type` is the event's own (`task.created`...): `source` already names the producer, and
    consumers of the relay and of the events stream match the same names. `sequence` follows
    the CloudEvents sequence extension, a string whose text order is the events' order: the
    user's number, zero-padded. It orders the events of one `userid`, not of the whole source.
    """
    envelope = {
        "specversion": CLOUDEVENTS_VERSION,
        "id": event["event_id"],
        "source": source,
        "type": event["type"],
        "subject": str(event["task_id"]),
        "time": event["at"],
        "datacontenttype": "application/json",
        "userid": event["user_id"],
        "sequence": f"{event['seq']:020d}",
        "data": event_fields(event, now=now),
    }
    return orjson.dumps(envelope, option=orjson.OPT_UTC_Z)
