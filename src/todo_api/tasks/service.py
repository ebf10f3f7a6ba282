"""Task operations. Every statement is scoped to the owner, so another user's task is
indistinguishable from a missing one.

Each operation is one statement, atomic and committed on its own (autocommit: no BEGIN and
COMMIT), so on PostgreSQL it costs one round trip; creating a task included, whose statement
checks the per-user quota and inserts at once (see CREATE_TASK). One exception: an update of the
due date, time zone or reminder reads what the task keeps of them first, in a transaction (see
schedule.py).

The statements live in `statements.py`, built once with named parameters; only If-Match
conditions, which carry the client's versions, are built per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, cast

from todo_api.db.connection import Connection, Database, ForeignKeyViolation
from todo_api.db.query import Query, Row
from todo_api.errors import PreconditionFailed, Unauthenticated
from todo_api.models import PRIORITY_RANKS, TaskStatus, utc_now
from todo_api.tasks.errors import (
    ScheduleRefused,
    SyncTokenExpired,
    TagNotFound,
    TaskLimitReached,
    TaskNotFound,
)
from todo_api.tasks.listing import TaskFilter
from todo_api.tasks.occurrences import add_next_occurrence, adds_an_occurrence, as_written
from todo_api.tasks.schedule import RECURRENCE_FIELDS, Schedule, ScheduleConflict, rescheduled
from todo_api.tasks.schemas import TaskCreate, TaskUpdate
from todo_api.tasks.statements import (
    ACKNOWLEDGE_REMINDER,
    COUNT_WITH_TAG,
    CREATE_TASK,
    DELETE_TASK,
    DUE_REMINDERS,
    GET_TASK,
    LOCKED_TASK,
    TAG_LISTS,
    TASK_EXISTS,
    TASKS_WITH_TAG,
    WriteStatement,
    changes_query,
    completion_query,
    count_query,
    page_query,
    planned_per_call,
    retag_statement,
    update_query,
    version_matches,
)
from todo_api.tasks.tags import (
    key_pattern,
    retagged,
    tag_counts,
    tag_key,
    tag_keys_column,
    tags_column,
    tags_of,
)
from todo_api.tasks.written import description_values, tag_values, title_values


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of rows (the columns of TASK_COLUMNS) and how many match in all."""

    items: list[Row]
    total: int
    # The number of the user's latest event when the page was read (X-Sync-Token).
    sync_token: int


async def list_tasks(
    database: Database, *, user_id: str, listing: TaskFilter, limit: int, offset: int
) -> TaskPage:
    """One page of the user's tasks that pass `listing`, in its order, and how many pass in all."""
    shape = listing.shape
    matching: dict[str, Any] = {"owner": user_id, "now": utc_now()} | listing.values
    async with database.autocommit(plan_per_call=planned_per_call(shape)) as connection:
        paging = {"limit": limit, "offset": offset}
        rows = await connection.fetch(page_query(shape), matching | paging)
        # Always one row at least: an empty page is one row of NULLs with the sync token.
        sync_token = rows[0]["sync_token"]
        if rows[0]["id"] is not None:
            return TaskPage(items=rows, total=rows[0]["total"], sync_token=sync_token)
        if offset == 0:
            return TaskPage(items=[], total=0, sync_token=sync_token)
        # Past the last page no row carries the total: only then a second statement counts
        # (one row, always: a count without GROUP BY).
        counted = await connection.fetch(count_query(shape), matching)
    return TaskPage(items=[], total=counted[0]["total"], sync_token=sync_token)


@dataclass(frozen=True, slots=True)
class TaskChanges:
    """The user's tasks changed since a sync token, in the order of their latest change: each
    task's row as it is now, or its id alone (None) when it was deleted; and the token to
    give next time (where these changes end)."""

    changes: list[tuple[int, Row | None]]
    sync_token: int
    # Whether `limit` cut the changes short: more follow after `sync_token`.
    more: bool


async def changes_since(database: Database, *, user_id: str, since: int, limit: int) -> TaskChanges:
    """What changed in the user's tasks after the sync token `since` (an event's number), or
    SyncTokenExpired when the events after it are no longer all kept."""
    values = {"owner": user_id, "since": since, "limit": limit}
    async with database.autocommit() as connection:
        rows = await connection.fetch(changes_query(), values)
    head = rows[0]
    latest, oldest = head["sync_token"], head["oldest_event"]
    # Resumable while the next event is kept (or none has come since), and not from the future.
    if since > latest or (since < latest and (oldest is None or oldest > since + 1)):
        raise SyncTokenExpired()
    if head["changed_id"] is None:
        return TaskChanges(changes=[], sync_token=latest, more=False)
    changes = [(row["changed_id"], row if row["id"] is not None else None) for row in rows]
    more = len(rows) == limit
    return TaskChanges(changes=changes, sync_token=rows[-1]["changed_seq"] if more else latest, more=more)


async def create_task(database: Database, *, user_id: str, data: TaskCreate, max_tasks: int) -> Row:
    """Insert a task owned by `user_id`, unless they already have `max_tasks`."""
    status = data.status_from_completed() or TaskStatus.PENDING
    values = {
        "owner": user_id,
        **title_values(data.title),
        **description_values(data.description),
        **tag_values(data.tags),
        "new_status": status.value,
        "new_priority": PRIORITY_RANKS[data.priority],
        "new_timezone": data.timezone,
        "now": utc_now(),
        "max_tasks": max_tasks,
    }
    try:
        values |= rescheduled(Schedule(), data.model_fields_set, data)
    except ScheduleConflict as error:
        raise ScheduleRefused(str(error)) from None
    try:
        async with database.autocommit() as connection:
            row = await connection.fetch_one(CREATE_TASK, values)
    except ForeignKeyViolation:
        # Only in shared database mode: a still-valid token of a deleted Better Auth user.
        raise Unauthenticated("Invalid token: the user no longer exists") from None
    if row is None:
        raise TaskLimitReached(max_tasks)
    return row


async def get_task(database: Database, *, user_id: str, task_id: int) -> Row:
    """The user's task, or TaskNotFound."""
    async with database.autocommit() as connection:
        row = await connection.fetch_one(GET_TASK, {"owner": user_id, "task_id": task_id})
    if row is None:
        raise TaskNotFound()
    return row


async def update_task(
    database: Database,
    *,
    user_id: str,
    task_id: int,
    changes: TaskUpdate,
    max_tasks: int,
    if_match: Sequence[datetime] | None = None,
) -> Row:
    """Apply the fields present in `changes` in one statement (a change of the due date, time zone,
    reminder or recurrence, or a completion: read the task, then write, in one transaction)."""
    values: dict[str, Any] = {"owner": user_id, "task_id": task_id, "now": utc_now()}
    sent = changes.model_fields_set
    if "title" in sent and changes.title is not None:
        values |= title_values(changes.title)
    if "description" in sent:
        values |= description_values(changes.description)
    if changes.priority is not None:
        values["new_priority"] = PRIORITY_RANKS[changes.priority]
    if "tags" in sent:
        values |= tag_values(changes.tags or ())
    status = changes.status_from_completed()
    if status is not None:
        values["new_status"] = status.value
    uncomplete = status is None and changes.completed is False
    if sent & SCHEDULE_FIELDS or status is TaskStatus.COMPLETED:
        if "timezone" in sent:
            values["new_timezone"] = changes.timezone
        # Worked out from what the task keeps now (a local date-time is read in its stored zone; a
        # relative reminder moves with its due date; a recurring task completed adds its next
        # occurrence), which must not change between the read and the write: the row stays
        # locked until the transaction ends.
        async with database.transaction() as connection:
            stored = await connection.fetch_one(LOCKED_TASK, {"owner": user_id, "task_id": task_id})
            if stored is None:
                raise TaskNotFound()
            try:
                values |= rescheduled(Schedule.of(stored), sent, changes)
            except ScheduleConflict as error:
                raise ScheduleRefused(str(error)) from None
            if if_match is None or stored["updated_at"] in if_match:
                written = as_written(stored, values)
                if adds_an_occurrence(stored, written):
                    values["new_next_task_id"] = await add_next_occurrence(
                        connection, written, owner=user_id, now=values["now"], max_tasks=max_tasks
                    )
            query = update_query(frozenset(values), uncomplete=uncomplete)
            return await _write_on(connection, query, values, if_match)
    query = update_query(frozenset(values), uncomplete=uncomplete)
    return await _write_returning(database, query, values, if_match)


# Tasks retagged per statement: three parameters each, well under both databases' limits.
RETAG_BATCH = 500


async def list_tags(database: Database, *, user_id: str) -> list[tuple[str, int]]:
    """The user's tags, each with how many of their tasks have it, by name."""
    async with database.autocommit() as connection:
        rows = await connection.fetch(TAG_LISTS, {"owner": user_id})
    return tag_counts(row["tags"] for row in rows)


async def rename_tag(database: Database, *, user_id: str, name: str, new_name: str) -> int:
    """Rename the tag `name` to `new_name` on every task of the user that has it, in one
    transaction; how many tasks have `new_name` then, or TagNotFound."""
    async with database.transaction() as connection:
        await _retag(connection, user_id=user_id, key=tag_key(name.strip()), new_name=new_name)
        counted = await connection.fetch(
            COUNT_WITH_TAG, {"owner": user_id, "tag_pattern": key_pattern(new_name)}
        )
    return int(counted[0]["total"])


async def remove_tag(database: Database, *, user_id: str, name: str) -> None:
    """Remove the tag `name` from every task of the user that has it, in one transaction, or
    TagNotFound."""
    async with database.transaction() as connection:
        await _retag(connection, user_id=user_id, key=tag_key(name.strip()), new_name=None)


async def _retag(connection: Connection, *, user_id: str, key: str, new_name: str | None) -> None:
    tagged = await connection.fetch(TASKS_WITH_TAG, {"owner": user_id, "tag_pattern": key_pattern(key)})
    if not tagged:
        raise TagNotFound()
    retags = [(row["id"], retagged(tags_of(row["tags"]), key, new_name)) for row in tagged]
    now = utc_now()
    for start in range(0, len(retags), RETAG_BATCH):
        batch = retags[start : start + RETAG_BATCH]
        values: dict[str, Any] = {"owner": user_id, "now": now}
        for index, (task_id, names) in enumerate(batch):
            values[f"id_{index}"] = task_id
            values[f"tags_{index}"] = tags_column(names)
            values[f"tag_keys_{index}"] = tag_keys_column(names)
        await connection.fetch(retag_statement(len(batch)), values)


SCHEDULE_FIELDS = (
    frozenset({"due_date", "timezone", "remind_at", "remind_before_minutes"}) | RECURRENCE_FIELDS
)


async def due_reminders(database: Database, *, user_id: str, until: datetime, limit: int) -> list[Row]:
    """The user's tasks with a reminder due by `until`, not acknowledged and not completed, the
    earliest first."""
    async with database.autocommit() as connection:
        return await connection.fetch(DUE_REMINDERS, {"owner": user_id, "until": until, "limit": limit})


async def acknowledge_reminder(database: Database, *, user_id: str, task_id: int) -> Row:
    """Mark the task's reminder acknowledged (it is no longer due), or TaskNotFound."""
    values = {"owner": user_id, "task_id": task_id, "now": utc_now()}
    return await _write_returning(database, ACKNOWLEDGE_REMINDER, values, None)


async def set_completed(
    database: Database,
    *,
    user_id: str,
    task_id: int,
    completed: bool | None,
    max_tasks: int,
    if_match: Sequence[datetime] | None = None,
) -> Row:
    """Set `completed`, or toggle it when None. One statement, so concurrent toggles all count;
    completing a recurring task for the first time also adds its next occurrence, in a
    transaction."""
    values: dict[str, Any] = {"owner": user_id, "task_id": task_id, "now": utc_now()}
    row = await _write_returning(database, completion_query(completed), values, if_match)
    if row["updated_at"] == values["now"]:
        return row
    # The statement left the task as it was: a recurring task to complete (see _completion).
    async with database.transaction() as connection:
        stored = await connection.fetch_one(LOCKED_TASK, {"owner": user_id, "task_id": task_id})
        if stored is None:
            raise TaskNotFound()
        done = stored["status"] != TaskStatus.COMPLETED if completed is None else completed
        if done:
            values["new_status"] = TaskStatus.COMPLETED.value
        if if_match is None or stored["updated_at"] in if_match:
            written = as_written(stored, values)
            if adds_an_occurrence(stored, written):
                values["new_next_task_id"] = await add_next_occurrence(
                    connection, written, owner=user_id, now=values["now"], max_tasks=max_tasks
                )
        return await _write_on(
            connection, update_query(frozenset(values), uncomplete=not done), values, if_match
        )


async def delete_task(
    database: Database, *, user_id: str, task_id: int, if_match: Sequence[datetime] | None = None
) -> None:
    """Delete the user's task, or TaskNotFound (PreconditionFailed if it changed)."""
    await _write_returning(database, DELETE_TASK, {"owner": user_id, "task_id": task_id}, if_match)


async def _write_returning(
    database: Database, query: Query, values: dict[str, Any], if_match: Sequence[datetime] | None
) -> Row:
    """Run a one-statement write that returns the row, or say why it matched nothing."""
    async with database.autocommit() as connection:
        return await _write_on(connection, query, values, if_match)


async def _write_on(
    connection: Connection, query: Query, values: dict[str, Any], if_match: Sequence[datetime] | None
) -> Row:
    # The version check is part of the write's WHERE clause, so check and write are atomic.
    # It carries the client's versions, so that statement is built (and compiled) per call.
    statement = (
        query if if_match is None else cast(WriteStatement, query.statement).where(version_matches(if_match))
    )
    row = await connection.fetch_one(statement, values)
    if row is None:
        if if_match is None:
            # Nothing but the owner and the id to match: the task is not there.
            raise TaskNotFound()
        await _explain_miss(connection, values)
    return row


async def _explain_miss(connection: Connection, values: dict[str, Any]) -> NoReturn:
    """A write matched nothing: say whether the task is gone or only changed."""
    owned = {"owner": values["owner"], "task_id": values["task_id"]}
    if await connection.fetch_one(TASK_EXISTS, owned) is None:
        raise TaskNotFound()
    raise PreconditionFailed()
