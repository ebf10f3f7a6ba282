"""What clients send and receive; validated here, at the edge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    StringConstraints,
    computed_field,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from todo_api.models import TaskStatus

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
StatusFilter = Literal["all", "pending", "in_progress", "completed"]
SortKey = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "title", "-title", "status", "-status"
]


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
# An update names at least one writable field.
HAS_A_CHANGE: JsonDict = {
    "anyOf": [{"required": [name]} for name in ("title", "description", "status", "completed")]
}


class TaskInput(BaseModel):
    """Shared rules for writes: strict types, unknown and server-owned fields ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=STATUS_AGREES_WITH_COMPLETED)

    @model_validator(mode="after")
    def _status_agrees_with_completed(self) -> Self:
        completed: bool | None = getattr(self, "completed", None)
        status: TaskStatus | None = getattr(self, "status", None)
        if completed is not None and status is not None and completed != (status is TaskStatus.COMPLETED):
            raise ValueError("'completed' and 'status' disagree")
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
    title: Annotated[Title, Field(description=f"The task's title: {TITLE_LIMITS}; no NUL characters.")]
    description: Annotated[
        Description | None, Field(description=f"Optional details: {DESCRIPTION_LIMITS}; no NUL characters.")
    ] = None
    status: TaskStatus | None = None
    completed: StrictBool | None = None


class TaskUpdate(TaskInput):
    """Any subset of the writable fields; at least one must be present."""

    # The schema says what the validators below enforce: one known field at least, and only
    # `description` may be null (SkipJsonSchema keeps None out of the schema, not out of validation).
    model_config = ConfigDict(extra="ignore", json_schema_extra=STATUS_AGREES_WITH_COMPLETED | HAS_A_CHANGE)

    title: Annotated[
        Title | SkipJsonSchema[None], Field(description=f"A new title: {TITLE_LIMITS}; no NUL characters.")
    ] = None
    description: Annotated[
        Description | None,
        Field(description=f"New details: {DESCRIPTION_LIMITS}; no NUL characters; null clears them."),
    ] = None
    status: TaskStatus | SkipJsonSchema[None] = None
    completed: StrictBool | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _has_a_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("at least one of title, description, status, completed is required")
        for name in ("title", "status", "completed"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"'{name}' cannot be null")
        return self


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
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def completed(self) -> bool:
        return self.status is TaskStatus.COMPLETED


def public_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """A task row as `TaskPublic` shows it: its fields in its order, `completed` derived."""
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "completed": row["status"] == TaskStatus.COMPLETED,
    }


def dump_task(row: Mapping[str, Any]) -> bytes:
    """The JSON of `TaskPublic` for a row of our own table, written without a model in between.

    Rows come from our typed columns, so there is nothing to validate; building and dumping
    a model per row was most of a list request's cost. Same bytes as pydantic writes (tested).
    """
    return orjson.dumps(public_fields(row), option=orjson.OPT_UTC_Z)


def dump_tasks(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The JSON of `list[TaskPublic]` for rows of our own table (see `dump_task`)."""
    return orjson.dumps([public_fields(row) for row in rows], option=orjson.OPT_UTC_Z)


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
