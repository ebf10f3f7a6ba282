"""The task feature's statements, written once with SQLAlchemy Core and compiled once per
process (see `todo_api.db.query`); every one is scoped to the owner. The service runs them.

Creating a task checks the per-user quota and inserts in one statement (CREATE_TASK); a list's
page and its total are one statement too (page_query). Only If-Match conditions, which carry
the client's versions, are built per call (version_matches).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from todo_api.db.query import EscapedLike, Query
from todo_api.models import (
    TaskStatus,
    UTCDateTime,
    event_sequence_table,
    task_event_table,
    task_quota_table,
    task_table,
)
from todo_api.tasks.listing import PRIORITY_SLOTS, SEARCH_SLOTS, TAG_SLOTS, ListShape

columns = task_table.c
counters = event_sequence_table.c
TASK_COLUMNS = (
    columns.id,
    columns.user_id,
    columns.title,
    columns.description,
    columns.status,
    columns.priority,
    columns.tags,
    columns.due_at,
    columns.due_all_day,
    columns.overdue_after,
    columns.remind_at,
    columns.remind_before_minutes,
    columns.reminder_acknowledged_at,
    columns.recurrence_pattern,
    columns.recurrence_interval,
    columns.recurrence_rule,
    columns.recurrence_anchor_day,
    columns.next_task_id,
    columns.timezone,
    columns.created_at,
    columns.updated_at,
)
SORT_COLUMNS = {
    "created_at": columns.created_at,
    "updated_at": columns.updated_at,
    "title": columns.title,
    "status": columns.status,
    "priority": columns.priority,
    "due_date": columns.due_at,
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
# The whole task, locked until the transaction that changes it in the light of what it was writes
# (its due date, zone or reminder; completing it, which may add its next occurrence).
LOCKED_TASK = Query(sa.select(*TASK_COLUMNS).where(*OWNED).with_for_update())
# The user's reminders due by `until` and not yet acknowledged, of tasks not completed.
DUE_REMINDERS = Query(
    sa.select(*TASK_COLUMNS)
    .where(
        columns.user_id == OWNER,
        columns.remind_at <= sa.bindparam("until", type_=UTCDateTime()),
        columns.reminder_acknowledged_at.is_(None),
        columns.status != TaskStatus.COMPLETED.value,
    )
    .order_by(columns.remind_at, columns.id)
    .limit(LIMIT)
)
ACKNOWLEDGE_REMINDER = Query(
    sa.update(task_table)
    .where(*OWNED)
    .values(reminder_acknowledged_at=NOW, updated_at=NOW)
    .returning(*TASK_COLUMNS)
)
TASK_EXISTS = Query(sa.select(columns.id).where(*OWNED))
DELETE_TASK = Query(sa.delete(task_table).where(*OWNED).returning(columns.id))


# Built on first use rather than at import, like the list statements, so that the tests (and
# mutation testing) run the code that builds it.
@functools.cache
def completion_query(completed: bool | None) -> Query:
    """Set a task's completion (`completed`), or toggle it (None)."""
    status = STATUS_FOR_COMPLETED[completed]
    # A recurring task being completed for the first time needs its next occurrence added with
    # it, which takes a transaction: the statement leaves such a task as it is (its updated_at
    # too, which tells the service to take that path).
    adds_next = sa.and_(
        columns.recurrence_pattern.is_not(None),
        columns.next_task_id.is_(None),
        ~IS_COMPLETED,
        status == TaskStatus.COMPLETED.value,
    )
    return Query(
        sa.update(task_table)
        .where(*OWNED)
        .values(
            status=sa.case((adds_next, columns.status), else_=status),
            updated_at=sa.case((adds_next, columns.updated_at), else_=NOW),
        )
        .returning(*TASK_COLUMNS)
    )


NEW_DUE_AT = sa.bindparam("new_due_at", type_=UTCDateTime())
NEW_DUE_ALL_DAY = sa.bindparam("new_due_all_day", type_=sa.Boolean)
NEW_OVERDUE_AFTER = sa.bindparam("new_overdue_after", type_=UTCDateTime())
NEW_TIMEZONE = sa.bindparam("new_timezone", type_=sa.Text)
NEW_REMIND_AT = sa.bindparam("new_remind_at", type_=UTCDateTime())
NEW_REMIND_BEFORE = sa.bindparam("new_remind_before_minutes", type_=sa.Integer)
NEW_RECURRENCE = {
    "recurrence_pattern": sa.bindparam("new_recurrence_pattern", type_=sa.String),
    "recurrence_interval": sa.bindparam("new_recurrence_interval", type_=sa.Integer),
    "recurrence_rule": sa.bindparam("new_recurrence_rule", type_=sa.Text),
    "recurrence_anchor_day": sa.bindparam("new_recurrence_anchor_day", type_=sa.SmallInteger),
}
NEW_TASK_COLUMNS = [
    "user_id",
    "title",
    "description",
    "title_folded",
    "description_folded",
    "status",
    "priority",
    "tags",
    "tag_keys",
    "due_at",
    "due_all_day",
    "overdue_after",
    "remind_at",
    "remind_before_minutes",
    "recurrence_pattern",
    "recurrence_interval",
    "recurrence_rule",
    "recurrence_anchor_day",
    "timezone",
    "created_at",
    "updated_at",
]
NEW_TASK_VALUES = (
    sa.bindparam("new_title", type_=sa.String),
    sa.bindparam("new_description", type_=sa.Text),
    sa.bindparam("new_title_folded", type_=sa.Text),
    sa.bindparam("new_description_folded", type_=sa.Text),
    sa.bindparam("new_status", type_=sa.String),
    sa.bindparam("new_priority", type_=sa.SmallInteger),
    sa.bindparam("new_tags", type_=sa.Text),
    sa.bindparam("new_tag_keys", type_=sa.Text),
    NEW_DUE_AT,
    NEW_DUE_ALL_DAY,
    NEW_OVERDUE_AFTER,
    NEW_REMIND_AT,
    NEW_REMIND_BEFORE,
    *NEW_RECURRENCE.values(),
    NEW_TIMEZONE,
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


# One statement per shape of list, compiled on first use; bounded, as the shapes number thousands.
@functools.lru_cache(maxsize=256)
def page_query(shape: ListShape) -> Query:
    """One page and, in the same statement, how many match in all and where the user's events
    stand (one round trip)."""
    listed = _filtered_page(shape) if shape.filtered else _whole_list_page(shape)
    return Query(_with_sync_token(listed, shape))


# The number of the user's latest event (the outbox, migration 0012); 0 before the first.
SYNC_TOKEN = sa.func.coalesce(
    sa.select(counters.last_seq).where(counters.user_id == OWNER).scalar_subquery(), 0
).label("sync_token")


def _with_sync_token(listed: sa.Select[Any], shape: ListShape) -> sa.Select[Any]:
    # Read by the page's own statement, so the list and its token are one moment: a client that
    # asks for the changes since the token misses none and repeats none the page showed. An
    # empty page is one row of NULLs carrying the token.
    page = listed.subquery("listed")
    head = sa.select(SYNC_TOKEN).subquery("head")
    order = _order(shape, page.c[SORT_COLUMNS[shape.sort].name], page.c.id)
    return sa.select(head.c.sync_token, *page.c).select_from(head.outerjoin(page, sa.true())).order_by(*order)


events = task_event_table.c
# The number of the oldest event still kept (NULL for none): a sync from before it missed some.
OLDEST_EVENT = (
    sa.select(sa.func.min(events.seq)).where(events.user_id == OWNER).scalar_subquery().label("oldest_event")
)


@functools.cache
def changes_query() -> Query:
    """The user's tasks changed after the event `since`, each once, in the order of its latest
    change, at most `limit`: the task as it is now, or NULLs (with `changed_id`) for one deleted
    since. With them, where the user's events stand (one row of NULLs when nothing changed)."""
    changed = (
        sa.select(events.task_id.label("changed_id"), sa.func.max(events.seq).label("changed_seq"))
        .where(events.user_id == OWNER, events.seq > sa.bindparam("since", type_=sa.BigInteger))
        .group_by(events.task_id)
        .order_by(sa.func.max(events.seq))
        .limit(LIMIT)
        .subquery("changed")
    )
    head = sa.select(SYNC_TOKEN, OLDEST_EVENT).subquery("head")
    found = sa.and_(columns.id == changed.c.changed_id, columns.user_id == OWNER)
    joined = head.outerjoin(changed, sa.true()).outerjoin(task_table, found)
    return Query(
        sa.select(
            head.c.sync_token, head.c.oldest_event, changed.c.changed_id, changed.c.changed_seq, *TASK_COLUMNS
        )
        .select_from(joined)
        .order_by(changed.c.changed_seq)
    )


def planned_per_call(shape: ListShape) -> bool:
    """Whether the list's statement is best planned with its values on every run (see
    `Database.autocommit`): a search. The plan PostgreSQL keeps is costed for a user with few
    tasks and reads all of a user's tasks, thousands of them, where the trigram index reads
    only the matches. (A tag filter's kept plan uses the index already.)"""
    return shape.search_terms > 0


def _filtered_page(shape: ListShape) -> sa.Select[Any]:
    # The matching tasks are read once: counted as they are sorted, before the page is cut.
    # A kept (generic) plan is costed for a user with few tasks, so it reads all of the
    # user's tasks whatever the filter; once is then half the work of a page and a count.
    total = sa.func.count().over().label("total")
    return (
        sa.select(*TASK_COLUMNS, total)
        .where(*_list_conditions(shape))
        .order_by(*_order(shape, SORT_COLUMNS[shape.sort], columns.id))
        .limit(LIMIT)
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )


def _whole_list_page(shape: ListShape) -> sa.Select[Any]:
    sort_column = SORT_COLUMNS[shape.sort]
    # Ties are broken by id so pages never overlap or skip rows.
    page = (
        sa.select(*TASK_COLUMNS)
        .where(*_list_conditions(shape))
        .order_by(*_order(shape, sort_column, columns.id))
        .limit(LIMIT)
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .subquery("page")
    )
    on_page = sa.func.count().over()
    # A short page is the last one, so the total is known without counting; both databases
    # run the count subquery only when its branch is taken (a full page).
    total = sa.case(
        (on_page < LIMIT, sa.bindparam("offset", type_=sa.Integer) + on_page),
        else_=_count_statement(shape).scalar_subquery(),
    ).label("total")
    page_order = _order(shape, page.c[sort_column.name], page.c.id)
    return sa.select(page, total).order_by(*page_order)


def _order(
    shape: ListShape, sort_column: sa.ColumnElement[Any], tie_breaker: sa.ColumnElement[Any]
) -> tuple[sa.ColumnElement[Any], ...]:
    key = sort_column.desc() if shape.descending else sort_column.asc()
    if shape.sort == "due_date":
        # Tasks without a due date last in both directions (SQLite would put them first when
        # ascending); only there, so the other orders still match their indexes' on PostgreSQL.
        key = key.nulls_last()
    return key, tie_breaker.desc() if shape.descending else tie_breaker


@functools.lru_cache(maxsize=256)
def count_query(shape: ListShape) -> Query:
    return Query(_count_statement(shape))


def _count_statement(shape: ListShape) -> sa.Select[Any]:
    total = sa.func.count().label("total")
    return sa.select(total).select_from(task_table).where(*_list_conditions(shape))


def _list_conditions(shape: ListShape) -> list[sa.ColumnElement[bool]]:
    conditions = [columns.user_id == OWNER]
    if shape.status:
        conditions.append(columns.status == sa.bindparam("wanted", type_=sa.String))
    if shape.completed is not None:
        conditions.append(IS_COMPLETED if shape.completed else columns.status != TaskStatus.COMPLETED.value)
    if shape.priorities:
        conditions.append(
            columns.priority.in_([sa.bindparam(slot, type_=sa.SmallInteger) for slot in PRIORITY_SLOTS])
        )
    if shape.due_from:
        conditions.append(columns.due_at >= sa.bindparam("due_from", type_=UTCDateTime()))
    if shape.due_before:
        conditions.append(columns.due_at < sa.bindparam("due_before", type_=UTCDateTime()))
    if shape.tags:
        wanted = [
            EscapedLike(columns.tag_keys, sa.bindparam(slot, type_=sa.Text))
            for slot in TAG_SLOTS[: shape.tags]
        ]
        conditions.append(sa.and_(*wanted) if shape.all_tags else sa.or_(*wanted))
    for slot in SEARCH_SLOTS[: shape.search_terms]:
        term = sa.bindparam(slot, type_=sa.Text)
        conditions.append(
            sa.or_(
                EscapedLike(columns.title_folded, term),
                EscapedLike(columns.description_folded, term),
            )
        )
    if shape.has_due_date is not None:
        conditions.append(columns.due_at.is_not(None) if shape.has_due_date else columns.due_at.is_(None))
    if shape.overdue is True:
        conditions.append(sa.and_(columns.status != TaskStatus.COMPLETED.value, columns.overdue_after < NOW))
    elif shape.overdue is False:
        conditions.append(sa.or_(IS_COMPLETED, columns.overdue_after.is_(None), columns.overdue_after >= NOW))
    return conditions


# What each value an update may carry sets (beside updated_at).
UPDATED_COLUMNS: dict[str, dict[str, Any]] = {
    "new_title": {
        "title": sa.bindparam("new_title", type_=sa.String),
        "title_folded": sa.bindparam("new_title_folded", type_=sa.Text),
    },
    "new_description": {
        "description": sa.bindparam("new_description", type_=sa.Text),
        "description_folded": sa.bindparam("new_description_folded", type_=sa.Text),
    },
    "new_priority": {"priority": sa.bindparam("new_priority", type_=sa.SmallInteger)},
    "new_tags": {
        "tags": sa.bindparam("new_tags", type_=sa.Text),
        "tag_keys": sa.bindparam("new_tag_keys", type_=sa.Text),
    },
    "new_due_at": {"due_at": NEW_DUE_AT, "due_all_day": NEW_DUE_ALL_DAY},
    "new_overdue_after": {"overdue_after": NEW_OVERDUE_AFTER},
    "new_remind_at": {"remind_at": NEW_REMIND_AT, "remind_before_minutes": NEW_REMIND_BEFORE},
    "new_reminder_acknowledged_at": {
        "reminder_acknowledged_at": sa.bindparam("new_reminder_acknowledged_at", type_=UTCDateTime())
    },
    "new_recurrence_pattern": NEW_RECURRENCE,
    "new_next_task_id": {"next_task_id": sa.bindparam("new_next_task_id", type_=sa.Integer)},
    "new_timezone": {"timezone": NEW_TIMEZONE},
    "new_status": {"status": sa.bindparam("new_status", type_=sa.String)},
}


@functools.cache
def update_query(names: frozenset[str], *, uncomplete: bool) -> Query:
    """The UPDATE for one combination of fields (each compiled once)."""
    changes: dict[str, Any] = {"updated_at": NOW}
    for name, updated in UPDATED_COLUMNS.items():
        if name in names:
            changes |= updated
    if uncomplete and "new_status" not in names:
        changes["status"] = UNCOMPLETED
    return Query(sa.update(task_table).where(*OWNED).values(changes).returning(*TASK_COLUMNS))


# Every tagged task's tags, for the user's list of tags (counted by the service).
TAG_LISTS = Query(sa.select(columns.tags).where(columns.user_id == OWNER, columns.tags != ""))
TAG_PATTERN = sa.bindparam("tag_pattern", type_=sa.Text)
# How many of the user's tasks have one tag.
COUNT_WITH_TAG = Query(
    sa.select(sa.func.count().label("total")).where(
        columns.user_id == OWNER, EscapedLike(columns.tag_keys, TAG_PATTERN)
    )
)
# The user's tasks with one tag, locked until the transaction that renames or removes it writes.
TASKS_WITH_TAG = Query(
    sa.select(columns.id, columns.tags)
    .where(
        columns.user_id == OWNER,
        EscapedLike(columns.tag_keys, TAG_PATTERN),
    )
    .order_by(columns.id)
    .with_for_update()
)


def retag_statement(count: int) -> WriteStatement:
    """Set new tags on `count` of the user's tasks at once: `id_<n>` gets `tags_<n>` and
    `tag_keys_<n>` (built per call: a rename touches any number of tasks)."""
    ids = [sa.bindparam(f"id_{index}", type_=sa.Integer) for index in range(count)]

    def per_task(prefix: str, current: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        whens = [
            (columns.id == task_id, sa.bindparam(f"{prefix}_{index}", type_=sa.Text))
            for index, task_id in enumerate(ids)
        ]
        return sa.case(*whens, else_=current)

    return (
        sa.update(task_table)
        .where(columns.user_id == OWNER, columns.id.in_(ids))
        .values(
            tags=per_task("tags", columns.tags),
            tag_keys=per_task("tag_keys", columns.tag_keys),
            updated_at=NOW,
        )
    )


def version_matches(if_match: Sequence[datetime]) -> sa.ColumnElement[bool]:
    if not if_match:
        return sa.false()
    return sa.or_(*(columns.updated_at == version for version in if_match))
