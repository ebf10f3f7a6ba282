"""What clients send and receive; validated here, at the edge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
    computed_field,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from todo_api.json_bodies import whole_number
from todo_api.models import DEFAULT_PRIORITY, PRIORITY_WORDS, TaskPriority, TaskStatus
from todo_api.tasks.due_dates import (
    DUE_DATE_FORMS,
    TIMEZONE_RULE,
    due_date_text,
    is_overdue,
    parse_due_date,
    zone,
    zone_name,
)
from todo_api.tasks.recurrence import MAX_INTERVAL, RULE_FORM, RecurrencePattern, parse_rule
from todo_api.tasks.schedule import (
    MAX_REMIND_BEFORE_MINUTES,
    REMIND_AT_RULE,
    REMIND_BEFORE_RULE,
    parse_remind_before,
)
from todo_api.tasks.tags import MAX_TAGS, TAG_RULE, TAGS_FORMS, parse_tags, tag_name, tags_of

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


MAX_TITLE_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 10_000
# The rules in words, for the fields' descriptions (OpenAPI, the MCP tools' input schemas).
TITLE_LIMITS = f"1 to {MAX_TITLE_LENGTH} characters, not counting surrounding whitespace (which is trimmed)"
DESCRIPTION_LIMITS = f"up to {MAX_DESCRIPTION_LENGTH:,} characters"


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the driver.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _title_schema(schema: JsonDict) -> None:
    # The rules are enforced by the validators and stated in words in each field's description:
    # a `pattern` for "1-200 characters once trimmed" is a regex nobody can read, and Swagger UI
    # fills "Try it out" with random text matching it. minLength is true as sent (an empty title
    # is refused); maxLength is not (a title of 200 characters with spaces around it is taken).
    schema.pop("maxLength", None)


# Strict: a number is not a title and "yes" is not a boolean.
Title = Annotated[
    StrictStr,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE_LENGTH),
    AfterValidator(_no_nul),
    Field(json_schema_extra=_title_schema),
]
Description = Annotated[
    StrictStr, StringConstraints(max_length=MAX_DESCRIPTION_LENGTH), AfterValidator(_no_nul)
]
# Other names apps use for two of the levels; input only, answers always say the level's own word.
PRIORITY_ALIASES = {"normal": TaskPriority.MEDIUM, "critical": TaskPriority.URGENT}
PRIORITY_RULE = "low, medium, high or urgent, in any case; normal is taken as medium and critical as urgent"


def _no_default(schema: JsonDict) -> None:
    # The default is stated in the description; a schema `default` makes openapi-typescript
    # declare the field required in the typed client, though a request may leave it out.
    schema.pop("default", None)


def _priority_word(value: object) -> object:
    # Only text is a priority: a number (say a rank) is refused by the enum that follows.
    if isinstance(value, str):
        word = value.lower()
        return PRIORITY_ALIASES.get(word, word)
    return value


Priority = Annotated[
    TaskPriority,
    BeforeValidator(_priority_word),
    # What the schema can say without a pattern: the words it takes as they are usually written.
    WithJsonSchema({"type": "string", "enum": [*(level.value for level in TaskPriority), *PRIORITY_ALIASES]}),
]
# The words of the tags' fields, here and in the MCP tools (which read this module, not tags.py).
TAGS_RULE = TAGS_FORMS
# A list of names or a comma-separated string (see tags.py); the rules are in the description.
Tags = Annotated[
    list[str],
    BeforeValidator(parse_tags),
    WithJsonSchema(
        {"anyOf": [{"type": "array", "items": {"type": "string"}, "maxItems": MAX_TAGS}, {"type": "string"}]}
    ),
]
# A date, a local date-time or an instant (see due_dates.py); text in, text in the schema.
DueDate = Annotated[date | datetime, PlainValidator(parse_due_date), WithJsonSchema({"type": "string"})]
TimeZoneName = Annotated[StrictStr, StringConstraints(max_length=64), AfterValidator(zone_name)]


def _reminder_moment(value: object) -> datetime:
    moment = parse_due_date(value) if isinstance(value, str) else None
    if not isinstance(moment, datetime):  # a day alone has no time to remind at
        raise ValueError(f"must be {REMIND_AT_RULE}")
    return moment


RemindAt = Annotated[datetime, PlainValidator(_reminder_moment), WithJsonSchema({"type": "string"})]
RemindBefore = Annotated[
    int,
    PlainValidator(parse_remind_before),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": MAX_REMIND_BEFORE_MINUTES},
                {"type": "string"},
            ]
        }
    ),
]


def _interval(value: object) -> int:
    value = whole_number(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_INTERVAL:
        return value
    raise ValueError(f"must be a whole number from 1 to {MAX_INTERVAL}")


RecurrenceInterval = Annotated[
    int, PlainValidator(_interval), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_INTERVAL})
]
RecurrenceRule = Annotated[StrictStr, AfterValidator(parse_rule)]
# The pattern words, for the MCP tools too (which read this module, not recurrence.py).
Recurrence = RecurrencePattern
RECURRENCE_USE = (
    "how the task repeats: none, daily, weekly, monthly or yearly (every recurrence_interval of "
    "them); completing it adds the next occurrence; without a due date it is due today"
)
RULE_USE = f"how the task repeats, instead of a pattern: {RULE_FORM}; wins over recurrence_pattern"
IS_RECURRING_USE = (
    "whether the task repeats, as apps with a repeat switch send it: false means it does not, "
    "whatever recurrence_pattern or recurrence_rule say; true needs one of them"
)
REMIND_AT_USE = f"when to remind the owner: {REMIND_AT_RULE}; instead of remind_before_minutes"
REMIND_BEFORE_USE = f"remind the owner {REMIND_BEFORE_RULE}; moves with the due date; instead of remind_at"
DUE_DATE_RULE = f"{DUE_DATE_FORMS}; also accepted as due_at"
DUE_AT_RULE = "another name for due_date, as some apps call it; send one of the two, not both"
TIMEZONE_USE = (
    f"{TIMEZONE_RULE}, in which a local due date-time is read and due dates are shown; "
    "changing only the timezone keeps the due moment"
)

StatusFilter = Literal["all", "pending", "in_progress", "completed"]


# `status` and `completed` may both be sent only when they agree.
STATUS_AGREES_WITH_COMPLETED: JsonDict = {
    "not": {
        "anyOf": [
            {
                "required": ["status", "completed"],
                "properties": {
                    "status": {"const": TaskStatus.COMPLETED.value},
                    "completed": {"const": False},
                },
            },
            {
                "required": ["status", "completed"],
                "properties": {
                    "status": {"enum": [s.value for s in TaskStatus if s is not TaskStatus.COMPLETED]},
                    "completed": {"const": True},
                },
            },
        ]
    }
}
# `due_at` is only another name for `due_date`: one of them per request.
ONE_NAME_FOR_THE_DUE_DATE: JsonDict = {"not": {"required": ["due_date", "due_at"]}}
# A reminder is absolute or relative, not both.
ONE_KIND_OF_REMINDER: JsonDict = {
    "not": {
        "required": ["remind_at", "remind_before_minutes"],
        "properties": {
            "remind_at": {"not": {"type": "null"}},
            "remind_before_minutes": {"not": {"type": "null"}},
        },
    }
}
# A new task's relative reminder needs its due date (under either name).
RELATIVE_REMINDER_NEEDS_DUE_DATE: JsonDict = {
    "not": {
        "required": ["remind_before_minutes"],
        "properties": {
            "remind_before_minutes": {"not": {"type": "null"}},
            "due_date": {"type": "null"},
            "due_at": {"type": "null"},
        },
    }
}
# `is_recurring: true` says that a task repeats, not how: a pattern or a rule must say it.
IS_RECURRING_SAYS_HOW: JsonDict = {
    "not": {
        "required": ["is_recurring"],
        "properties": {
            "is_recurring": {"const": True},
            "recurrence_pattern": {"const": "none"},
            "recurrence_rule": {"type": "null"},
        },
    }
}
NOT_RECURRING = {"recurrence_pattern": "none", "recurrence_rule": None}
WRITE_RULES: list[JsonDict] = [
    STATUS_AGREES_WITH_COMPLETED,
    ONE_NAME_FOR_THE_DUE_DATE,
    ONE_KIND_OF_REMINDER,
    IS_RECURRING_SAYS_HOW,
]
INPUT_RULES: JsonDict = {"allOf": [*WRITE_RULES]}
# An update names at least one writable field.
HAS_A_CHANGE: JsonDict = {
    "anyOf": [
        {"required": [name]}
        for name in (
            "title",
            "description",
            "status",
            "completed",
            "priority",
            "tags",
            "due_date",
            "due_at",
            "timezone",
            "remind_at",
            "remind_before_minutes",
            "recurrence_pattern",
            "recurrence_interval",
            "recurrence_rule",
            "is_recurring",
        )
    ]
}


class TaskInput(BaseModel):
    """Shared rules for writes: strict types, unknown and server-owned fields ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=INPUT_RULES)

    @model_validator(mode="after")
    def _due_at_is_due_date(self) -> Self:
        # `due_at` is another name for `due_date`: from here on, only `due_date` is read.
        if "due_at" in self.model_fields_set:
            if "due_date" in self.model_fields_set:
                raise ValueError("'due_at' is another name for 'due_date': send one of them, not both")
            self.due_date = getattr(self, "due_at", None)
        return self

    @model_validator(mode="after")
    def _one_kind_of_reminder(self) -> Self:
        if (
            getattr(self, "remind_at", None) is not None
            and getattr(self, "remind_before_minutes", None) is not None
        ):
            raise ValueError("send remind_at or remind_before_minutes, not both")
        return self

    @model_validator(mode="after")
    def _status_agrees_with_completed(self) -> Self:
        completed: bool | None = getattr(self, "completed", None)
        status: TaskStatus | None = getattr(self, "status", None)
        if completed is not None and status is not None and completed != (status is TaskStatus.COMPLETED):
            raise ValueError("'completed' and 'status' disagree")
        return self

    @model_validator(mode="after")
    def _is_recurring_is_a_switch(self) -> Self:
        # Apps with a "repeat" checkbox beside the pattern send `is_recurring`: false means no
        # repetition, whatever pattern the form still holds; true needs one (IS_RECURRING_SAYS_HOW).
        if "is_recurring" not in self.model_fields_set:
            return self
        switch: bool | None = getattr(self, "is_recurring", None)
        if switch is None:
            raise ValueError("'is_recurring' cannot be null")
        if not switch:
            # Assigned, so that they count as sent: an update stops the repetition.
            for name, value in NOT_RECURRING.items():
                setattr(self, name, value)
            return self
        pattern = getattr(self, "recurrence_pattern", None)
        if getattr(self, "recurrence_rule", None) is None and pattern in (None, "none"):
            raise ValueError(
                "is_recurring: true needs a recurrence_pattern other than none, or a recurrence_rule, "
                "to say how the task repeats"
            )
        return self

    def status_from_completed(self) -> TaskStatus | None:
        """The status the body asks for, from either `status` or `completed`."""
        status: TaskStatus | None = getattr(self, "status", None)
        completed: bool | None = getattr(self, "completed", None)
        if status is not None:
            return status
        if completed:
            return TaskStatus.COMPLETED
        return None


class TaskCreate(TaskInput):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"allOf": [*WRITE_RULES, RELATIVE_REMINDER_NEEDS_DUE_DATE]},
    )

    title: Annotated[Title, Field(description=f"The task's title: {TITLE_LIMITS}; no NUL characters.")]
    description: Annotated[
        Description | None, Field(description=f"Optional details: {DESCRIPTION_LIMITS}; no NUL characters.")
    ] = None
    status: TaskStatus | None = None
    completed: StrictBool | None = None
    priority: Annotated[
        Priority,
        Field(
            description=f"How important the task is: {PRIORITY_RULE}; medium when left out.",
            json_schema_extra=_no_default,
        ),
    ] = DEFAULT_PRIORITY
    tags: Annotated[
        Tags,
        Field(
            description=f"Labels for the task: {TAGS_RULE}; none when left out.",
            json_schema_extra=_no_default,
        ),
    ] = []
    due_date: Annotated[DueDate | None, Field(description=f"When the task is due: {DUE_DATE_RULE}.")] = None
    due_at: Annotated[DueDate | None, Field(description=f"The due date: {DUE_AT_RULE}.")] = None
    timezone: Annotated[
        TimeZoneName | None, Field(description=f"The task's time zone: {TIMEZONE_USE}; UTC when left out.")
    ] = None
    remind_at: Annotated[RemindAt | None, Field(description=f"A reminder: {REMIND_AT_USE}.")] = None
    remind_before_minutes: Annotated[
        RemindBefore | None, Field(description=f"A reminder: {REMIND_BEFORE_USE}; needs a due date.")
    ] = None

    recurrence_pattern: Annotated[
        RecurrencePattern,
        Field(
            description=f"How the task repeats: {RECURRENCE_USE}; none when left out.",
            json_schema_extra=_no_default,
        ),
    ] = "none"
    recurrence_interval: Annotated[
        RecurrenceInterval,
        Field(
            description="Every how many days, weeks, months or years; 1 when left out.",
            json_schema_extra=_no_default,
        ),
    ] = 1
    recurrence_rule: Annotated[
        RecurrenceRule | None, Field(description=f"How the task repeats: {RULE_USE}.")
    ] = None
    is_recurring: Annotated[StrictBool | SkipJsonSchema[None], Field(description=IS_RECURRING_USE)] = None

    @model_validator(mode="after")
    def _a_relative_reminder_has_a_due_date(self) -> Self:
        if self.remind_before_minutes is not None and self.due_date is None:
            raise ValueError(
                "remind_before_minutes needs a due date: send due_date too, or remind_at instead"
            )
        return self


class TaskUpdate(TaskInput):
    """Any subset of the writable fields; at least one must be present."""

    # The schema says what the validators below enforce: one known field at least, and only
    # `description` may be null (SkipJsonSchema keeps None out of the schema, not out of validation).
    # The rule is one more member of allOf, not an anyOf beside the properties: the same for a
    # validator, but openapi-typescript turns a top-level anyOf of `required` lists into a union
    # with `unknown`, and the typed client's TaskUpdate would accept anything.
    model_config = ConfigDict(extra="ignore", json_schema_extra={"allOf": [*WRITE_RULES, HAS_A_CHANGE]})

    title: Annotated[
        Title | SkipJsonSchema[None], Field(description=f"A new title: {TITLE_LIMITS}; no NUL characters.")
    ] = None
    description: Annotated[
        Description | None,
        Field(description=f"New details: {DESCRIPTION_LIMITS}; no NUL characters; null clears them."),
    ] = None
    status: TaskStatus | SkipJsonSchema[None] = None
    completed: StrictBool | SkipJsonSchema[None] = None
    priority: Annotated[
        Priority | SkipJsonSchema[None], Field(description=f"A new priority: {PRIORITY_RULE}.")
    ] = None
    tags: Annotated[
        Tags | None,
        Field(description=f"The task's tags, replacing its old ones: {TAGS_RULE}; [] or null clears them."),
    ] = None
    due_date: Annotated[
        DueDate | None, Field(description=f"A new due date: {DUE_DATE_RULE}; null clears it.")
    ] = None
    due_at: Annotated[DueDate | None, Field(description=f"The new due date: {DUE_AT_RULE}.")] = None
    timezone: Annotated[
        TimeZoneName | None, Field(description=f"A new time zone: {TIMEZONE_USE}; null makes it UTC.")
    ] = None
    remind_at: Annotated[
        RemindAt | None, Field(description=f"A new reminder: {REMIND_AT_USE}; null removes the reminder.")
    ] = None
    remind_before_minutes: Annotated[
        RemindBefore | None,
        Field(description=f"A new reminder: {REMIND_BEFORE_USE}; null removes the reminder."),
    ] = None
    recurrence_pattern: Annotated[
        RecurrencePattern | SkipJsonSchema[None],
        Field(description=f"A new repetition: {RECURRENCE_USE}; none stops it."),
    ] = None
    recurrence_interval: Annotated[
        RecurrenceInterval | SkipJsonSchema[None],
        Field(description="Every how many days, weeks, months or years, for the task's recurrence_pattern."),
    ] = None
    recurrence_rule: Annotated[
        RecurrenceRule | None, Field(description=f"A new repetition: {RULE_USE}; null removes the rule.")
    ] = None
    is_recurring: Annotated[
        StrictBool | SkipJsonSchema[None], Field(description=f"{IS_RECURRING_USE}; false stops it")
    ] = None

    @model_validator(mode="after")
    def _has_a_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError(
                "at least one of title, description, status, completed, priority, tags, due_date, "
                "timezone, a reminder or a recurrence is required"
            )
        for name in (
            "title",
            "status",
            "completed",
            "priority",
            "recurrence_pattern",
            "recurrence_interval",
        ):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"'{name}' cannot be null")
        return self


TagName = Annotated[StrictStr, AfterValidator(tag_name)]


class TagPublic(BaseModel):
    """One of the user's tags and how many of their tasks have it."""

    name: Annotated[
        str,
        Field(
            description="The tag: in a list, as most of the tasks that have it write it; renamed, as sent."
        ),
    ]
    task_count: Annotated[int, Field(description="How many of the user's tasks have it.")]


class TagRename(BaseModel):
    """Body of PATCH /api/tags/{name}: the tag's new name."""

    model_config = ConfigDict(extra="ignore")

    name: Annotated[
        TagName,
        Field(
            description=(
                f"The new name: {TAG_RULE}. A task that already has a tag of that name keeps it, "
                "and loses the old one."
            )
        ),
    ]


class CompletionChange(BaseModel):
    """Body of PATCH …/complete: set `completed`, or send nothing to toggle."""

    model_config = ConfigDict(extra="ignore")

    completed: StrictBool | None = None


class TaskPublic(BaseModel):
    """A task as every response shows it."""

    id: int
    user_id: str
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    tags: Annotated[list[str], Field(description="The task's tag names, in the order first given.")]
    due_date: Annotated[
        str | None,
        Field(
            description=(
                "A date (2026-12-31) for an all-day task, else an RFC 3339 date-time in the task's "
                "timezone (2026-12-31T17:00:00+01:00; Z for UTC), whose first 16 characters suit "
                '<input type="datetime-local">; null when it has none.'
            )
        ),
    ]
    timezone: Annotated[str, Field(description="The task's IANA time zone name; UTC unless set.")]
    remind_at: Annotated[
        str | None,
        Field(
            description="When to remind the owner, RFC 3339 in the task's timezone; null without a reminder."
        ),
    ]
    remind_before_minutes: Annotated[
        int | None, Field(description="Minutes before the due date, when the reminder was set that way.")
    ]
    reminder_acknowledged: Annotated[
        bool, Field(description="Whether the owner acknowledged the reminder (POST …/reminders/ack).")
    ]
    recurrence_pattern: Annotated[
        RecurrencePattern,
        Field(description="How the task repeats (a rule's frequency, with a rule); none if it does not."),
    ]
    recurrence_interval: Annotated[
        int | None, Field(description="Every how many of the pattern; null if it does not repeat.")
    ]
    recurrence_rule: Annotated[str | None, Field(description="The RRULE it repeats by, if it was given one.")]
    is_recurring: Annotated[bool, Field(description="Whether completing it adds its next occurrence.")]
    next_task_id: Annotated[
        int | None, Field(description="The occurrence completing this task added; null until then.")
    ]
    overdue: Annotated[
        bool,
        Field(
            description=(
                "Not completed and past its due date-time; an all-day task once its day has ended "
                "in the task's timezone."
            )
        ),
    ]
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def completed(self) -> bool:
        return self.status is TaskStatus.COMPLETED


def public_fields(row: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    """A task row as `TaskPublic` shows it at `now`: its fields in its order, the derived ones
    (`due_date`, `overdue`, `completed`) computed."""
    done = row["status"] == TaskStatus.COMPLETED
    due_at, all_day, task_zone = row["due_at"], row["due_all_day"], zone(row["timezone"])
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "priority": PRIORITY_WORDS[row["priority"]],
        "tags": tags_of(row["tags"]),
        "due_date": due_date_text(due_at, all_day=all_day, zone=task_zone),
        "timezone": row["timezone"] or "UTC",
        "remind_at": due_date_text(row["remind_at"], all_day=False, zone=task_zone),
        "remind_before_minutes": row["remind_before_minutes"],
        "reminder_acknowledged": row["reminder_acknowledged_at"] is not None,
        "recurrence_pattern": row["recurrence_pattern"] or "none",
        "recurrence_interval": row["recurrence_interval"],
        "recurrence_rule": row["recurrence_rule"],
        "is_recurring": row["recurrence_pattern"] is not None,
        "next_task_id": row["next_task_id"],
        "overdue": is_overdue(row["overdue_after"], done=done, now=now),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "completed": done,
    }


def dump_task(row: Mapping[str, Any], *, now: datetime) -> bytes:
    """The JSON of `TaskPublic` for a row of our own table, written without a model in between.

    Rows come from our typed columns, so there is nothing to validate; building and dumping
    a model per row was most of a list request's cost. Same bytes as pydantic writes (tested).
    """
    return orjson.dumps(public_fields(row, now=now), option=orjson.OPT_UTC_Z)


def dump_tasks(rows: Iterable[Mapping[str, Any]], *, now: datetime) -> bytes:
    """The JSON of `list[TaskPublic]` for rows of our own table (see `dump_task`)."""
    return orjson.dumps([public_fields(row, now=now) for row in rows], option=orjson.OPT_UTC_Z)


def etag_for(task: Mapping[str, Any]) -> str:
    """A strong validator: the task id and the exact time of its last change."""
    return f'"{task["id"]}-{(task["updated_at"] - _EPOCH) // _MICROSECOND}"'


def versions_in(if_match: str, *, task_id: int) -> list[datetime] | None:
    """The versions of this task an If-Match header names (`etag_for` read back): None for
    no condition (`*`), [] for none at all."""
    if if_match.strip() == "*":
        return None
    versions = []
    for tag in if_match.split(","):
        # If-Match uses strong comparison, so weak (W/) tags never match.
        task_part, _, micros = tag.strip().removeprefix('"').removesuffix('"').partition("-")
        if task_part == str(task_id) and micros.isdigit():
            versions.append(_EPOCH + int(micros) * _MICROSECOND)
    return versions
