"""What clients send and receive; validated here, at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictStr,
    StringConstraints,
    computed_field,
    model_validator,
)

from todo_api.models import TaskStatus


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the driver.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Strict: a number is not a title and "yes" is not a boolean.
Title = Annotated[
    StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)
]
Description = Annotated[StrictStr, StringConstraints(max_length=10_000), AfterValidator(_no_nul)]
StatusFilter = Literal["all", "pending", "in_progress", "completed"]
SortKey = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "title", "-title", "status", "-status"
]


class TaskInput(BaseModel):
    """Shared rules for writes: strict types, unknown and server-owned fields ignored."""

    model_config = ConfigDict(extra="ignore")

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
    title: Title
    description: Description | None = None
    status: TaskStatus | None = None
    completed: StrictBool | None = None


class TaskUpdate(TaskInput):
    """Any subset of the writable fields; at least one must be present."""

    title: Title | None = None
    description: Description | None = None
    status: TaskStatus | None = None
    completed: StrictBool | None = None

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

    model_config = ConfigDict(from_attributes=True)

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


class ErrorDetail(BaseModel):
    """The error shape for every status but 422."""

    detail: str
