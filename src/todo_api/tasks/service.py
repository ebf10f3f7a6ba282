"""Task operations. Every statement is scoped to the owner, so another user's task is
indistinguishable from a missing one.

Each operation is one statement, atomic and committed on its own (autocommit: no BEGIN and
COMMIT), so on PostgreSQL it costs one round trip; creating a task included, whose statement
checks the per-user quota and inserts at once (see CREATE_TASK).

The statements are built once, with named parameters, so each is compiled once per process
(see `todo_api.db.query`); only If-Match conditions, which carry the client's versions, are
built per call.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from todo_api.db.connection import Connection, Database, ForeignKeyViolation
from todo_api.db.query import Query, Row
from todo_api.errors import Conflict, NotFound, PreconditionFailed, Unauthenticated
from todo_api.models import TaskStatus, UTCDateTime, task_quota_table, task_table, utc_now
from todo_api.tasks.schemas import SortKey, StatusFilter, TaskCreate, TaskUpdate

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

# Parameter names differ from column names: SQLAlchemy reserves those for INSERT/UPDATE values.
OWNER = sa.bindparam("owner", type_=sa.String)
NOW = sa.bindparam("now", type_=UTCDateTime())
OWNED = (columns.id == sa.bindparam("task_id", type_=sa.Integer), columns.user_id == OWNER)
LIMIT = sa.bindparam("limit", type_=sa.Integer)
# Toggling flips completed and pending; un-completing a completed task makes it pending, and
# leaves other statuses (already not completed) as they are.
IS_COMPLETED = columns.status == TaskStatus.COMPLETED.value
TOGGLED = sa.case((IS_COMPLETED, TaskStatus.PENDING.value), else_=TaskStatus.COMPLETED.value)
UNCOMPLETED = sa.case((IS_COMPLETED, TaskStatus.PENDING.value), else_=columns.status)
STATUS_FOR_COMPLETED = {None: TOGGLED, True: sa.literal(TaskStatus.COMPLETED.value), False: UNCOMPLETED}

GET_TASK = Query(sa.select(*TASK_COLUMNS).where(*OWNED))
TASK_EXISTS = Query(sa.select(columns.id).where(*OWNED))
DELETE_TASK = Query(sa.delete(task_table).where(*OWNED).returning(columns.id))
SET_COMPLETION = {
    completed: Query(
        sa.update(task_table).where(*OWNED).values(status=status, updated_at=NOW).returning(*TASK_COLUMNS)
    )
    for completed, status in STATUS_FOR_COMPLETED.items()
}
NEW_TASK_COLUMNS = ["user_id", "title", "description", "status", "created_at", "updated_at"]
NEW_TASK_VALUES = (
    sa.bindparam("new_title", type_=sa.String),
    sa.bindparam("new_description", type_=sa.Text),
    sa.bindparam("new_status", type_=sa.String),
    NOW,
    NOW,
)
MAX_TASKS = sa.bindparam("max_tasks", type_=sa.Integer)
quota = task_quota_table.c
# PostgreSQL: take the user's quota row (INSERT ... ON CONFLICT DO UPDATE waits for any other
# create of theirs to commit, then re-reads the row's latest version) and return it only while
# they are under the limit; the insert then adds a task only if it was returned. One user's
# creates queue on that row, so the quota is exact in one autocommit statement, with no lock
# to take first. Triggers (migration 0004) keep `used` equal to the user's number of tasks.
QUOTA_SLOT = (
    postgresql.insert(task_quota_table)
    .values(user_id=OWNER, used=0)
    .on_conflict_do_update(
        index_elements=[quota.user_id], set_={"used": quota.used}, where=quota.used < MAX_TASKS
    )
    .returning(quota.user_id)
    .cte("quota_slot")
)
CREATE_TASK = Query(
    # SQLite: one statement counts and inserts; as it writes, it holds the database's single
    # write lock from its start, so concurrent creates cannot all pass the count.
    sa.insert(task_table)
    .from_select(
        NEW_TASK_COLUMNS,
        sa.select(OWNER, *NEW_TASK_VALUES).where(
            sa.select(sa.func.count())
            .select_from(task_table)
            .where(columns.user_id == OWNER)
            .scalar_subquery()
            < MAX_TASKS
        ),
    )
    .returning(*TASK_COLUMNS),
    postgres=sa.insert(task_table)
    .from_select(NEW_TASK_COLUMNS, sa.select(QUOTA_SLOT.c.user_id, *NEW_TASK_VALUES).select_from(QUOTA_SLOT))
    .returning(*TASK_COLUMNS)
    .add_cte(QUOTA_SLOT),
)

WriteStatement = sa.Update | sa.Delete


class TaskNotFound(NotFound):
    default_detail = "Task not found"


class TaskLimitReached(Conflict):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Task limit reached: a user may keep at most {limit} tasks")


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of rows (the columns of TASK_COLUMNS) and how many match in all."""

    items: list[Row]
    total: int


@functools.cache
def _page_query(sort: SortKey, filtered: bool) -> Query:
    """One page and, in the same statement, how many match in all (one round trip)."""
    sort_column = SORT_COLUMNS[sort.removeprefix("-")]
    descending = sort.startswith("-")
    # Ties are broken by id so pages never overlap or skip rows.
    order = (sort_column.desc(), columns.id.desc()) if descending else (sort_column, columns.id)
    page = (
        sa.select(*TASK_COLUMNS)
        .where(*_list_conditions(filtered))
        .order_by(*order)
        .limit(LIMIT)
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .subquery("page")
    )
    on_page = sa.func.count().over()
    # A short page is the last one, so the total is known without counting; both databases
    # run the count subquery only when its branch is taken (a full page).
    total = sa.case(
        (on_page < LIMIT, sa.bindparam("offset", type_=sa.Integer) + on_page),
        else_=_count_statement(filtered).scalar_subquery(),
    ).label("total")
    by_page = (page.c[sort_column.name], page.c.id)
    page_order = tuple(column.desc() for column in by_page) if descending else by_page
    return Query(sa.select(page, total).order_by(*page_order))


@functools.cache
def _count_query(filtered: bool) -> Query:
    return Query(_count_statement(filtered))


def _count_statement(filtered: bool) -> sa.Select[Any]:
    total = sa.func.count().label("total")
    return sa.select(total).select_from(task_table).where(*_list_conditions(filtered))


def _list_conditions(filtered: bool) -> tuple[sa.ColumnElement[bool], ...]:
    by_owner = columns.user_id == OWNER
    return (by_owner, columns.status == sa.bindparam("wanted", type_=sa.String)) if filtered else (by_owner,)


async def list_tasks(
    database: Database,
    *,
    user_id: str,
    status: StatusFilter,
    sort: SortKey,
    limit: int,
    offset: int,
) -> TaskPage:
    """One page of the user's tasks and how many match in all."""
    filtered = status != "all"
    matching: dict[str, Any] = {"owner": user_id} | ({"wanted": status} if filtered else {})
    async with database.autocommit() as connection:
        paging = {"limit": limit, "offset": offset}
        rows = await connection.fetch(_page_query(sort, filtered), matching | paging)
        if rows or offset == 0:
            return TaskPage(items=rows, total=rows[0]["total"] if rows else 0)
        # Past the last page no row carries the total: only then a second statement counts.
        counted = await connection.fetch_one(_count_query(filtered), matching)
    return TaskPage(items=rows, total=counted["total"] if counted else 0)


async def create_task(database: Database, *, user_id: str, data: TaskCreate, max_tasks: int) -> Row:
    """Insert a task owned by `user_id`, unless they already have `max_tasks`."""
    status = data.status_from_completed() or TaskStatus.PENDING
    values = {
        "owner": user_id,
        "new_title": data.title,
        "new_description": data.description,
        "new_status": status.value,
        "now": utc_now(),
        "max_tasks": max_tasks,
    }
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
    if_match: Sequence[datetime] | None = None,
) -> Row:
    """Apply the fields present in `changes` in one statement."""
    values: dict[str, Any] = {"owner": user_id, "task_id": task_id, "now": utc_now()}
    if "title" in changes.model_fields_set:
        values["new_title"] = changes.title
    if "description" in changes.model_fields_set:
        values["new_description"] = changes.description
    status = changes.status_from_completed()
    if status is not None:
        values["new_status"] = status.value
    uncomplete = status is None and changes.completed is False
    query = _update_query(frozenset(values), uncomplete=uncomplete)
    return await _write_returning(database, query, values, if_match)


@functools.cache
def _update_query(names: frozenset[str], *, uncomplete: bool) -> Query:
    """The UPDATE for one combination of fields (at most eight, each compiled once)."""
    changes: dict[str, Any] = {"updated_at": NOW}
    if "new_title" in names:
        changes["title"] = sa.bindparam("new_title", type_=sa.String)
    if "new_description" in names:
        changes["description"] = sa.bindparam("new_description", type_=sa.Text)
    if "new_status" in names:
        changes["status"] = sa.bindparam("new_status", type_=sa.String)
    elif uncomplete:
        changes["status"] = UNCOMPLETED
    return Query(sa.update(task_table).where(*OWNED).values(changes).returning(*TASK_COLUMNS))


async def set_completed(
    database: Database,
    *,
    user_id: str,
    task_id: int,
    completed: bool | None,
    if_match: Sequence[datetime] | None = None,
) -> Row:
    """Set `completed`, or toggle it when None. One statement, so concurrent toggles all count."""
    values = {"owner": user_id, "task_id": task_id, "now": utc_now()}
    return await _write_returning(database, SET_COMPLETION[completed], values, if_match)


async def delete_task(
    database: Database, *, user_id: str, task_id: int, if_match: Sequence[datetime] | None = None
) -> None:
    """Delete the user's task, or TaskNotFound (PreconditionFailed if it changed)."""
    await _write_returning(database, DELETE_TASK, {"owner": user_id, "task_id": task_id}, if_match)


async def _write_returning(
    database: Database, query: Query, values: dict[str, Any], if_match: Sequence[datetime] | None
) -> Row:
    """Run a one-statement write that returns the row, or say why it matched nothing."""
    # The version check is part of the write's WHERE clause, so check and write are atomic.
    # It carries the client's versions, so that statement is built (and compiled) per call.
    statement = (
        query if if_match is None else cast(WriteStatement, query.statement).where(_matching(if_match))
    )
    async with database.autocommit() as connection:
        row = await connection.fetch_one(statement, values)
        if row is None:
            if if_match is None:
                # Nothing but the owner and the id to match: the task is not there.
                raise TaskNotFound()
            await _explain_miss(connection, values)
    return row


def _matching(if_match: Sequence[datetime]) -> sa.ColumnElement[bool]:
    if not if_match:
        return sa.false()
    return sa.or_(*(columns.updated_at == version for version in if_match))


async def _explain_miss(connection: Connection, values: dict[str, Any]) -> NoReturn:
    """A write matched nothing: say whether the task is gone or only changed."""
    owned = {"owner": values["owner"], "task_id": values["task_id"]}
    if await connection.fetch_one(TASK_EXISTS, owned) is None:
        raise TaskNotFound()
    raise PreconditionFailed()
