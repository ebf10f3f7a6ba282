"""Task operations. Every statement is scoped to the owner, so another user's task is
indistinguishable from a missing one. Services never commit: the request's unit of work
does that."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from todo_api.errors import Conflict, NotFound, PreconditionFailed, Unauthenticated
from todo_api.models import TaskStatus, UTCDateTime, task_table, utc_now
from todo_api.tasks.schemas import SortKey, StatusFilter, TaskCreate, TaskPublic, TaskUpdate

columns = task_table.c
TASK_COLUMNS = (
    columns.id,
    columns.user_id,
    columns.title,
    columns.description,
    columns.status,
    columns.created_at,
    columns.updated_at,
)
SORT_COLUMNS = {
    "created_at": columns.created_at,
    "updated_at": columns.updated_at,
    "title": columns.title,
    "status": columns.status,
}
COMPLETED = TaskStatus.COMPLETED.value
PENDING = TaskStatus.PENDING.value
FOREIGN_KEY_VIOLATION = "23503"  # PostgreSQL's SQLSTATE


class TaskNotFound(NotFound):
    default_detail = "Task not found"


class TaskLimitReached(Conflict):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Task limit reached: a user may keep at most {limit} tasks")


@dataclass(frozen=True, slots=True)
class TaskPage:
    items: list[TaskPublic]
    total: int


def _owned(user_id: str, task_id: int) -> tuple[sa.ColumnElement[bool], ...]:
    return (columns.id == task_id, columns.user_id == user_id)


def _public(row: Any) -> TaskPublic:
    # Rows come from our own typed columns, so they are trusted: construct, don't re-validate.
    return TaskPublic.model_construct(
        id=row.id,
        user_id=row.user_id,
        title=row.title,
        description=row.description,
        status=TaskStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def list_tasks(
    connection: AsyncConnection,
    *,
    user_id: str,
    status: StatusFilter,
    sort: SortKey,
    limit: int,
    offset: int,
) -> TaskPage:
    """One page of the user's tasks and how many match in all."""
    conditions = [columns.user_id == user_id]
    if status != "all":
        conditions.append(columns.status == status)
    sort_column = SORT_COLUMNS[sort.removeprefix("-")]
    # Ties are broken by id so pages never overlap or skip rows.
    order = (sort_column.desc(), columns.id.desc()) if sort.startswith("-") else (sort_column, columns.id)
    statement = sa.select(*TASK_COLUMNS).where(*conditions).order_by(*order).limit(limit).offset(offset)
    rows: Sequence[Any] = (await connection.execute(statement)).all()
    if len(rows) < limit and (rows or offset == 0):
        # A short page is the last one, so the total is known without counting.
        total = offset + len(rows)
    else:
        count = sa.select(sa.func.count()).select_from(task_table).where(*conditions)
        total = (await connection.execute(count)).scalar_one()
    return TaskPage(items=[_public(row) for row in rows], total=total)


async def create_task(
    connection: AsyncConnection, *, user_id: str, data: TaskCreate, max_tasks: int
) -> TaskPublic:
    """Insert a task owned by `user_id`, unless they already have `max_tasks`."""
    if connection.dialect.name == "postgresql":
        # Serialises one user's creates (only theirs), so concurrent requests cannot all
        # pass the count below and overshoot the limit. Released when the transaction ends.
        await connection.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(user_id, 0)))
        )
    now = utc_now()
    status = data.status_from_completed() or TaskStatus.PENDING
    owned = sa.select(sa.func.count()).select_from(task_table).where(columns.user_id == user_id)
    row_values = sa.select(
        sa.literal(user_id, sa.String),
        sa.literal(data.title, sa.String),
        sa.literal(data.description, sa.Text),
        sa.literal(status.value, sa.String),
        sa.literal(now, UTCDateTime()),
        sa.literal(now, UTCDateTime()),
    ).where(owned.scalar_subquery() < max_tasks)
    statement = (
        sa.insert(task_table)
        .from_select(["user_id", "title", "description", "status", "created_at", "updated_at"], row_values)
        .returning(*TASK_COLUMNS)
    )
    try:
        row = (await connection.execute(statement)).one_or_none()
    except sa.exc.IntegrityError as exc:
        # Only in shared database mode: a still-valid token of a deleted Better Auth user.
        if getattr(exc.orig, "pgcode", None) == FOREIGN_KEY_VIOLATION:
            raise Unauthenticated("Invalid token: the user no longer exists") from None
        raise
    if row is None:
        raise TaskLimitReached(max_tasks)
    return _public(row)


async def get_task(connection: AsyncConnection, *, user_id: str, task_id: int) -> TaskPublic:
    """The user's task, or TaskNotFound."""
    statement = sa.select(*TASK_COLUMNS).where(*_owned(user_id, task_id))
    row = (await connection.execute(statement)).one_or_none()
    if row is None:
        raise TaskNotFound()
    return _public(row)


async def update_task(
    connection: AsyncConnection,
    *,
    user_id: str,
    task_id: int,
    changes: TaskUpdate,
    if_match: Sequence[datetime] | None = None,
) -> TaskPublic:
    """Apply the fields present in `changes` in one statement."""
    values: dict[str, Any] = {"updated_at": utc_now()}
    if "title" in changes.model_fields_set:
        values["title"] = changes.title
    if "description" in changes.model_fields_set:
        values["description"] = changes.description
    status = changes.status_from_completed()
    if status is not None:
        values["status"] = status.value
    elif changes.completed is False:
        values["status"] = _uncompleted_status()
    return await _update_returning(
        connection, user_id=user_id, task_id=task_id, values=values, if_match=if_match
    )


async def set_completed(
    connection: AsyncConnection,
    *,
    user_id: str,
    task_id: int,
    completed: bool | None,
    if_match: Sequence[datetime] | None = None,
) -> TaskPublic:
    """Set `completed`, or toggle it when None. One statement, so concurrent toggles all count."""
    if completed is None:
        status: Any = sa.case((columns.status == COMPLETED, PENDING), else_=COMPLETED)
    elif completed:
        status = COMPLETED
    else:
        status = _uncompleted_status()
    values = {"status": status, "updated_at": utc_now()}
    return await _update_returning(
        connection, user_id=user_id, task_id=task_id, values=values, if_match=if_match
    )


async def delete_task(
    connection: AsyncConnection, *, user_id: str, task_id: int, if_match: Sequence[datetime] | None = None
) -> None:
    """Delete the user's task, or TaskNotFound (PreconditionFailed if it changed)."""
    conditions = _owned(user_id, task_id) + _matching(if_match)
    statement = sa.delete(task_table).where(*conditions).returning(columns.id)
    if (await connection.execute(statement)).first() is None:
        await _explain_miss(connection, user_id=user_id, task_id=task_id)


def _uncompleted_status() -> sa.ColumnElement[str]:
    # Un-completing a completed task makes it pending; other statuses are already not completed.
    return sa.case((columns.status == COMPLETED, PENDING), else_=columns.status)


def _matching(if_match: Sequence[datetime] | None) -> tuple[sa.ColumnElement[bool], ...]:
    # The version check is part of the write's WHERE clause, so check and write are atomic.
    if if_match is None:
        return ()
    return (columns.updated_at.in_(if_match),) if if_match else (sa.false(),)


async def _explain_miss(connection: AsyncConnection, *, user_id: str, task_id: int) -> NoReturn:
    """A write matched nothing: say whether the task is gone or only changed."""
    exists = sa.select(columns.id).where(*_owned(user_id, task_id))
    if (await connection.execute(exists)).first() is None:
        raise TaskNotFound()
    raise PreconditionFailed()


async def _update_returning(
    connection: AsyncConnection,
    *,
    user_id: str,
    task_id: int,
    values: dict[str, Any],
    if_match: Sequence[datetime] | None,
) -> TaskPublic:
    conditions = _owned(user_id, task_id) + _matching(if_match)
    statement = sa.update(task_table).where(*conditions).values(values).returning(*TASK_COLUMNS)
    row = (await connection.execute(statement)).one_or_none()
    if row is None:
        await _explain_miss(connection, user_id=user_id, task_id=task_id)
    return _public(row)
