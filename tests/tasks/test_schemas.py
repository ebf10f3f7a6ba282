"""Responses are written straight from rows; they must be the bytes pydantic writes for TaskPublic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from todo_api.models import PRIORITY_WORDS, TaskStatus
from todo_api.tasks.schemas import TaskPublic, dump_task, dump_tasks, public_fields
from todo_api.tasks.tags import tags_column

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
# Rows as either driver returns them: aware UTC datetimes, any text PostgreSQL can hold.
text = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters=["\x00"]))
task_rows = st.fixed_dictionaries(
    {
        "id": st.integers(min_value=1, max_value=2**31 - 1),
        "user_id": text.filter(bool),
        "title": text,
        "description": st.none() | text,
        "status": st.sampled_from([status.value for status in TaskStatus]),
        "priority": st.sampled_from(sorted(PRIORITY_WORDS)),
        "tags": st.lists(
            st.text(
                st.characters(exclude_categories=["Cc", "Cs"], exclude_characters=","),
                min_size=1,
                max_size=50,
            ),
            max_size=20,
        ).map(tags_column),
        "due_at": st.none() | st.datetimes(timezones=st.just(UTC)),
        "due_all_day": st.booleans(),
        "overdue_after": st.none() | st.datetimes(timezones=st.just(UTC)),
        "remind_at": st.none() | st.datetimes(timezones=st.just(UTC)),
        "remind_before_minutes": st.none() | st.integers(0, 527040),
        "reminder_acknowledged_at": st.none() | st.datetimes(timezones=st.just(UTC)),
        "recurrence_pattern": st.none() | st.sampled_from(["daily", "weekly", "monthly", "yearly"]),
        "recurrence_interval": st.none() | st.integers(1, 1000),
        "recurrence_rule": st.none() | st.just("FREQ=WEEKLY;BYDAY=MO,WE"),
        "recurrence_anchor_day": st.none() | st.integers(1, 31),
        "next_task_id": st.none() | st.integers(1, 2**31 - 1),
        "timezone": st.none() | st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns"]),
        "created_at": st.datetimes(timezones=st.just(UTC)),
        "updated_at": st.datetimes(timezones=st.just(UTC)),
    }
)


@given(task_rows)
def test_a_task_is_written_as_pydantic_writes_task_public(row: dict[str, Any]) -> None:
    expected = TypeAdapter(TaskPublic).dump_json(TaskPublic.model_validate(public_fields(row, now=NOW)))

    assert dump_task(row, now=NOW) == expected


@given(st.lists(task_rows, max_size=5))
def test_a_page_is_written_as_pydantic_writes_a_list_of_task_public(rows: list[dict[str, Any]]) -> None:
    expected = TypeAdapter(list[TaskPublic]).dump_json(
        [TaskPublic.model_validate(public_fields(row, now=NOW)) for row in rows]
    )

    assert dump_tasks(rows, now=NOW) == expected
