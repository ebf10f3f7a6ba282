"""What the assistants' tools take and return: the REST schemas' own types and limits, with
descriptions written for a language model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictStr

from todo_api.models import TaskStatus
from todo_api.tasks.listing import DUE_BOUND_RULE, SEARCH_RULE, SORT_RULE, TAGS_MATCH_RULE, SortKey
from todo_api.tasks.schemas import (
    DESCRIPTION_LIMITS,
    DUE_DATE_RULE,
    PRIORITY_RULE,
    RECURRENCE_USE,
    REMIND_AT_USE,
    REMIND_BEFORE_USE,
    RULE_USE,
    TAGS_RULE,
    TIMEZONE_USE,
    TITLE_LIMITS,
    Description,
    Priority,
    Recurrence,
    StatusFilter,
    TaskPublic,
    Title,
)

# Task ids and offsets are 32-bit integers in the database; REST bounds them the same way.
LARGEST_INTEGER = 2**31 - 1
# Strict: `true` or "7" is not a task id (the REST path is as strict about its spelling).
TaskIdArgument = Annotated[
    int,
    Field(strict=True, ge=1, le=LARGEST_INTEGER, description="The task's id, from add_task or list_tasks."),
]
TitleArgument = Annotated[Title, Field(description=f"A short title: {TITLE_LIMITS}.")]
NewTitleArgument = Annotated[
    Title | None, Field(description=f"A new title: {TITLE_LIMITS}; omit to keep it.")
]
DescriptionArgument = Annotated[
    Description | None, Field(description=f"Optional details, {DESCRIPTION_LIMITS}.")
]
NewDescriptionArgument = Annotated[
    Description | None,
    Field(description=f"New details, {DESCRIPTION_LIMITS}; an empty string clears them; omit to keep them."),
]
NewStatusArgument = Annotated[
    TaskStatus | None, Field(description="pending, in_progress or completed; omit to keep it.")
]
PriorityArgument = Annotated[
    Priority, Field(description=f"How important the task is: {PRIORITY_RULE}; medium if omitted.")
]
NewPriorityArgument = Annotated[
    Priority | None, Field(description=f"A new priority: {PRIORITY_RULE}; omit to keep it.")
]
RecurrencePatternArgument = Annotated[
    Recurrence | None, Field(description=f"How the task repeats: {RECURRENCE_USE}; omit to keep it.")
]
RecurrenceIntervalArgument = Annotated[
    int | None, Field(strict=True, ge=1, le=1000, description="Every how many days, weeks, months or years.")
]
RecurrenceRuleArgument = Annotated[StrictStr | None, Field(description=f"How the task repeats: {RULE_USE}.")]
RemindAtArgument = Annotated[StrictStr | None, Field(description=f"A reminder: {REMIND_AT_USE}.")]
RemindBeforeArgument = Annotated[
    int | StrictStr | None, Field(description=f"A reminder: {REMIND_BEFORE_USE}; needs a due date.")
]
# Names here; TaskCreate and TaskUpdate read them, with the REST routes' rules and messages.
TagsArgument = Annotated[
    list[StrictStr] | StrictStr | None, Field(description=f"Labels for the task: {TAGS_RULE}.")
]
NewTagsArgument = Annotated[
    list[StrictStr] | StrictStr | None,
    Field(
        description=(
            f"The task's tags, replacing its old ones: {TAGS_RULE}; [] removes them all; omit to keep them."
        )
    ),
]
TagFilterArgument = Annotated[
    list[StrictStr] | None,
    Field(description="Only tasks with one of these tags (all of them with tags_match=all)."),
]
TagsMatchArgument = Annotated[Literal["any", "all"], Field(description=f"How tags match: {TAGS_MATCH_RULE}.")]
# Plain text here: TaskCreate and TaskUpdate read it, with the REST routes' rules and messages.
DueDateArgument = Annotated[
    StrictStr | None, Field(description=f"When the task is due, if it is: {DUE_DATE_RULE}.")
]
NewDueDateArgument = Annotated[
    StrictStr | None,
    Field(description=f"A new due date: {DUE_DATE_RULE}; an empty string clears it; omit to keep it."),
]
TimezoneArgument = Annotated[
    StrictStr | None, Field(description=f"The task's time zone: {TIMEZONE_USE}; UTC if omitted.")
]
NewTimezoneArgument = Annotated[
    StrictStr | None, Field(description=f"A new time zone: {TIMEZONE_USE}; omit to keep it.")
]
CompletedArgument = Annotated[
    bool | None,
    Field(strict=True, description="true marks the task completed, false pending; omit to toggle."),
]
StatusFilterArgument = Annotated[
    StatusFilter, Field(description="Only tasks with this status: all, pending, in_progress or completed.")
]
SortArgument = Annotated[SortKey, Field(description=f"The order: {SORT_RULE}. Newest first if omitted.")]
PriorityFilterArgument = Annotated[
    list[Priority] | None,
    Field(description=f"Only tasks with one of these priorities, each {PRIORITY_RULE}; omit for all."),
]
DueFromArgument = Annotated[
    StrictStr | None, Field(description=f"Only tasks due on or after this: {DUE_BOUND_RULE}.")
]
DueToArgument = Annotated[
    StrictStr | None, Field(description=f"Only tasks due on or before this: {DUE_BOUND_RULE}.")
]
SearchArgument = Annotated[
    StrictStr | None, Field(description=f"Only tasks matching all these {SEARCH_RULE}.")
]
OverdueArgument = Annotated[
    bool | None,
    Field(
        strict=True, description="true: only overdue tasks (not completed, past due); false: no overdue ones."
    ),
]
# The REST query's bounds, so a page asked for here is one REST would serve.
LimitArgument = Annotated[int, Field(strict=True, ge=1, le=1000, description="Tasks per page, 1-1000.")]
OffsetArgument = Annotated[
    int,
    Field(strict=True, ge=0, le=LARGEST_INTEGER, description="How many matching tasks to skip, for paging."),
]


class TaskList(BaseModel):
    """One page of the caller's tasks, and how many match the filter in all."""

    tasks: list[TaskPublic]
    total: int = Field(description="Tasks matching the filter, across all pages.")


class DeletedTask(BaseModel):
    """The task that was deleted."""

    deleted_task_id: int


__all__ = ["DeletedTask", "TaskList", "TaskPublic"]
