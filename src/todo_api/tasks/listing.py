"""What a list of tasks asks for, read from the names apps send: filters and an order.

REST and MCP read their parameters into one `TaskFilter`; its `shape` (which filters are set and
the order, not their values) picks the statement (statements.py compiles one per shape), and its
`values` fill it. Plain values and parsing: no framework, no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, get_args

from todo_api.db.query import like_escaped
from todo_api.models import PRIORITY_RANKS, TaskPriority
from todo_api.tasks.due_dates import parse_due_date
from todo_api.tasks.errors import InvalidListParameter
from todo_api.tasks.schemas import PRIORITY_ALIASES, StatusFilter
from todo_api.tasks.tags import MAX_TAGS, key_pattern, tag_key

SortField = Literal["created_at", "updated_at", "title", "status", "priority", "due_date"]
SORT_FIELDS: tuple[str, ...] = get_args(SortField)
# Every field, ascending or (prefixed with '-') descending: what `sort` takes, as OpenAPI lists it.
SortKey = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "title",
    "-title",
    "status",
    "-status",
    "priority",
    "-priority",
    "due_date",
    "-due_date",
]
SortOrder = Literal["asc", "desc"]
SORT_RULE = (
    "one of: created_at, updated_at, title, status, priority (by rank: low first), due_date "
    "(tasks without one last, in both directions); prefix '-' for descending"
)
ORDER_RULE = "asc or desc; when given, it sets the direction, whatever sort's prefix says"
PRIORITY_FILTER_RULE = (
    "low, medium, high or urgent (normal and critical also taken), in any case; several may be "
    "given, repeated or comma-separated, and a task with any of them is listed"
)
DUE_BOUND_RULE = (
    "a date (2026-12-31: the whole day, in UTC, where all-day tasks keep their date), an RFC 3339 "
    "date-time with an offset (2026-12-31T17:00:00+01:00), or one without (read in UTC); inclusive; "
    "empty for no bound"
)
MAX_SEARCH_TERMS = 8
MAX_SEARCH_LENGTH = 200
SEARCH_RULE = (
    "words, each found in the title or the description, in any case, as a word or part of one "
    f"(gro finds Buy groceries); at most {MAX_SEARCH_TERMS} words and {MAX_SEARCH_LENGTH} "
    "characters; empty for all"
)
TAG_FILTER_RULE = f"tag names, repeated or comma-separated, in any case; at most {MAX_TAGS}; empty for any"
TAGS_MATCH_RULE = "any (a task with one of the tags, the default) or all (a task with every one)"
TAG_SLOTS = tuple(f"tag_{index}" for index in range(MAX_TAGS))
SEARCH_SLOTS = tuple(f"term_{index}" for index in range(MAX_SEARCH_TERMS))
# As many priorities as there are: a filter fills every slot (repeating one it has), so one
# statement serves any set of them.
PRIORITY_SLOTS = tuple(f"rank_{index}" for index in range(len(TaskPriority)))


@dataclass(frozen=True, slots=True)
class ListShape:
    """Which filters a list has and its order: what its statement depends on."""

    sort: SortField = "created_at"
    descending: bool = True
    status: bool = False
    completed: bool | None = None
    priorities: bool = False
    due_from: bool = False
    due_before: bool = False
    search_terms: int = 0
    tags: int = 0
    all_tags: bool = False
    has_due_date: bool | None = None
    overdue: bool | None = None

    @property
    def filtered(self) -> bool:
        """Whether only some of the user's tasks pass: any filter at all."""
        return (
            self.status
            or self.completed is not None
            or self.priorities
            or self.due_from
            or self.due_before
            or self.search_terms > 0
            or self.tags > 0
            or self.has_due_date is not None
            or self.overdue is not None
        )


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """A list's filters and order. Unset filters (None, empty, "all") match every task."""

    status: StatusFilter = "all"
    completed: bool | None = None
    priorities: frozenset[int] = frozenset()
    due_from: datetime | None = None  # inclusive
    due_before: datetime | None = None  # exclusive
    search: tuple[str, ...] = ()  # LIKE patterns, from search_patterns
    tags: tuple[str, ...] = ()  # LIKE patterns, from tag_patterns
    all_tags: bool = False
    has_due_date: bool | None = None
    overdue: bool | None = None
    sort: SortField = "created_at"
    descending: bool = True

    @property
    def shape(self) -> ListShape:
        return ListShape(
            sort=self.sort,
            descending=self.descending,
            status=self.status != "all",
            completed=self.completed,
            priorities=bool(self.priorities),
            due_from=self.due_from is not None,
            due_before=self.due_before is not None,
            search_terms=len(self.search),
            tags=len(self.tags),
            all_tags=self.all_tags and bool(self.tags),
            has_due_date=self.has_due_date,
            overdue=self.overdue,
        )

    @property
    def values(self) -> dict[str, Any]:
        """The statement's parameters for these filters (besides the owner, the page and `now`)."""
        values: dict[str, Any] = {}
        if self.status != "all":
            values["wanted"] = self.status
        if self.priorities:
            ranks = sorted(self.priorities)
            values |= {slot: ranks[index % len(ranks)] for index, slot in enumerate(PRIORITY_SLOTS)}
        if self.due_from is not None:
            values["due_from"] = self.due_from
        if self.due_before is not None:
            values["due_before"] = self.due_before
        values |= dict(zip(SEARCH_SLOTS, self.search, strict=False))
        values |= dict(zip(TAG_SLOTS, self.tags, strict=False))
        return values


def sort_order(sort: tuple[str, str | None], direction: SortOrder | None) -> tuple[SortField, bool]:
    """The field and direction from `sort` (given as the name it was sent under and its value: a
    field, '-' for descending; None for newest first) and a direction that, when given, wins."""
    sort_name, key = sort
    if key is None:
        return "created_at", direction != "asc"
    field = key.removeprefix("-")
    if field not in SORT_FIELDS:
        raise InvalidListParameter(sort_name, SORT_RULE)
    descending = key.startswith("-") if direction is None else direction == "desc"
    return field, descending  # type: ignore[return-value]  # checked against SORT_FIELDS above


def one_of(name: str, value: Any, alias: str, alias_value: Any) -> tuple[str, Any]:
    """A parameter that has another name: (the name it was sent under, its value); both names
    at once only when they agree."""
    if alias_value is None:
        return name, value
    if value is not None and value != alias_value:
        raise InvalidListParameter(name, f"{alias} is another name for {name}: send one of them")
    return alias, alias_value


def priority_ranks(name: str, values: Iterable[str]) -> frozenset[int]:
    """The ranks of the priorities named, each value one word or several comma-separated; empty
    ones name none (a form's "any priority" sends `priority=`)."""
    ranks = set()
    for value in values:
        for part in value.split(","):
            word = part.strip().lower()
            if not word:
                continue
            try:
                priority = PRIORITY_ALIASES.get(word) or TaskPriority(word)
            except ValueError:
                raise InvalidListParameter(name, PRIORITY_FILTER_RULE) from None
            ranks.add(PRIORITY_RANKS[priority])
    return frozenset(ranks)


def search_patterns(name: str, text: str) -> tuple[str, ...]:
    """A LIKE pattern for each distinct word of `text`, case-folded as titles and descriptions
    are (the service keeps them folded)."""
    if len(text) > MAX_SEARCH_LENGTH:
        raise InvalidListParameter(name, SEARCH_RULE)
    words = dict.fromkeys(text.casefold().split())
    if len(words) > MAX_SEARCH_TERMS:
        raise InvalidListParameter(name, SEARCH_RULE)
    return tuple(f"%{like_escaped(word)}%" for word in words)


def tag_patterns(name: str, values: Iterable[str]) -> tuple[str, ...]:
    """A LIKE pattern for each distinct tag named, each value one name or several comma-separated;
    a name no task can have (too long, say) matches none, so it needs no error."""
    names = dict.fromkeys(
        tag_key(piece.strip()) for value in values for piece in value.split(",") if piece.strip()
    )
    if len(names) > MAX_TAGS:
        raise InvalidListParameter(name, TAG_FILTER_RULE)
    return tuple(key_pattern(key) for key in names)


def due_from(name: str, value: str) -> datetime:
    """The first instant a lower bound on due dates takes in."""
    bound = _due_bound(name, value)
    return datetime.combine(bound, time(), UTC) if not isinstance(bound, datetime) else bound


def due_before(name: str, value: str) -> datetime:
    """The first instant past an (inclusive) upper bound on due dates."""
    bound = _due_bound(name, value)
    if not isinstance(bound, datetime):
        return datetime.combine(bound + timedelta(days=1), time(), UTC)
    return bound + timedelta(microseconds=1)


def reminder_horizon(name: str, value: str) -> datetime:
    """The instant reminders are listed up to: an RFC 3339 date-time (one without an offset is
    read in UTC)."""
    moment = _due_bound(name, value)
    if not isinstance(moment, datetime):
        raise InvalidListParameter(name, "an RFC 3339 date-time such as 2026-12-31T09:00:00Z")
    return moment


def _due_bound(name: str, value: str) -> date | datetime:
    try:
        bound = parse_due_date(value)
    except ValueError:
        raise InvalidListParameter(name, DUE_BOUND_RULE) from None
    if isinstance(bound, datetime) and bound.tzinfo is None:
        return bound.replace(tzinfo=UTC)
    return bound
