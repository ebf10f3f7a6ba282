"""The table models."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

# Every constraint and index gets a predictable name, so migrations can refer to it.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class TaskStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class TaskPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


# Stored as a rank, so sorting by priority is a plain ORDER BY (and not alphabetical).
PRIORITY_RANKS = {priority: rank for rank, priority in enumerate(TaskPriority, start=1)}
PRIORITY_WORDS = {rank: priority.value for priority, rank in PRIORITY_RANKS.items()}
DEFAULT_PRIORITY = TaskPriority.MEDIUM


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on PostgreSQL (timestamptz) and SQLite (text) alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store naive UTC so text comparison orders correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


# The largest id: the id columns are 32-bit integers.
MAX_ID = 2**31 - 1
STATUS_VALUES = ", ".join(f"'{status.value}'" for status in TaskStatus)


class Task(SQLModel, table=True):
    """A user's task. `user_id` is the token's `sub`; every query filters on it."""

    __tablename__ = "task"
    __table_args__: Any = (
        sa.CheckConstraint(f"status IN ({STATUS_VALUES})", name="status"),
        sa.CheckConstraint(f"priority BETWEEN 1 AND {len(TaskPriority)}", name="priority"),
        # A reminder relative to the due date needs one.
        sa.CheckConstraint(
            "remind_before_minutes IS NULL OR due_at IS NOT NULL", name="reminder_needs_due_date"
        ),
        # A recurring task needs a due date to advance.
        sa.CheckConstraint(
            "recurrence_pattern IS NULL OR due_at IS NOT NULL", name="recurrence_needs_due_date"
        ),
        # The list query: one user's tasks, optionally by status, newest first, ties by id.
        sa.Index(None, "user_id", "created_at", "id"),
        sa.Index(None, "user_id", "status", "created_at", "id"),
        # Sorting by due date (tasks without one last) and by priority, ties by id.
        sa.Index(None, "user_id", "due_at", "id"),
        sa.Index(None, "user_id", "priority", "id"),
        # The reminders due by a moment.
        sa.Index(None, "user_id", "remind_at"),
        # The reminders still to fire, every user's, by when (migration 0014): the schedulers'
        # claim repeats this condition so that both planners use the index.
        sa.Index(
            "ix_task_reminder_to_fire",
            "remind_at",
            postgresql_where=sa.text(
                "remind_at IS NOT NULL AND remind_at IS DISTINCT FROM reminder_fired_for "
                "AND reminder_acknowledged_at IS NULL AND status <> 'completed'"
            ),
            sqlite_where=sa.text(
                "remind_at IS NOT NULL AND remind_at IS NOT reminder_fired_for "
                "AND reminder_acknowledged_at IS NULL AND status <> 'completed'"
            ),
        ),
        # On PostgreSQL, search and tag filters also have a trigram index (migration 0010), not
        # declared here: it needs extensions the database may refuse, and SQLite has none.
        # Ids are never reused on SQLite either, so a stale id cannot name a newer task.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, sa.Identity(), primary_key=True))
    user_id: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    title: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    description: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # Title and description case-folded by Python when written, so that search matches the same
    # tasks on both databases (SQLite's LIKE and lower() fold ASCII letters only).
    title_folded: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    description_folded: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    status: str = Field(
        default=TaskStatus.PENDING.value,
        sa_column=sa.Column(sa.String(16), nullable=False, server_default=TaskStatus.PENDING.value),
    )
    priority: int = Field(
        default=PRIORITY_RANKS[DEFAULT_PRIORITY],
        sa_column=sa.Column(
            sa.SmallInteger, nullable=False, server_default=str(PRIORITY_RANKS[DEFAULT_PRIORITY])
        ),
    )
    # Its tag names, and their case-folded keys for list filters (tasks/tags.py); "" for none.
    tags: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    tag_keys: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    # When it is due, as an instant; an all-day task's is midnight UTC of its date (tasks/due_dates.py).
    due_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))
    due_all_day: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    # The last instant it is on time (an all-day task's is the end of its day in its time zone), so
    # that `overdue` is one comparison in a list filter; NULL without a due date.
    overdue_after: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))
    # When to remind the owner (an instant, whichever way it was set), minutes before the due
    # date when set that way (then it moves with the due date), and when they acknowledged it.
    remind_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))
    remind_before_minutes: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, nullable=True))
    reminder_acknowledged_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime, nullable=True)
    )
    # The `remind_at` whose reminder last fired (a `reminder.due` event): a reminder fires once,
    # and again only when moved to another instant. Set without touching `updated_at`, so
    # firing is no change of the task (no `task.updated` event, no new ETag).
    reminder_fired_for: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))
    # How it repeats (tasks/recurrence.py): a pattern, every `interval` of it, or an RRULE (then
    # the pattern is its frequency); the day of the month a monthly or yearly one keeps; and the
    # occurrence completing it created, so that completing it again creates none.
    recurrence_pattern: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    recurrence_interval: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, nullable=True))
    recurrence_rule: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    recurrence_anchor_day: int | None = Field(
        default=None, sa_column=sa.Column(sa.SmallInteger, nullable=True)
    )
    next_task_id: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, nullable=True))
    # An IANA name; NULL is UTC.
    timezone: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    created_at: datetime = Field(default_factory=utc_now, sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=sa.Column(UTCDateTime, nullable=False))


task_table: sa.Table = Task.__table__  # type: ignore[attr-defined]


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


ROLE_VALUES = ", ".join(f"'{role.value}'" for role in MessageRole)


class Conversation(SQLModel, table=True):
    """A user's conversation with the assistant; `user_id` is the token's `sub`, as a task's."""

    __tablename__ = "conversation"
    __table_args__: Any = (
        # The list: one user's conversations, the most recently active first, ties by id.
        sa.Index(None, "user_id", "updated_at", "id"),
        # Ids are never reused on SQLite either, so a stale id cannot name a newer conversation.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, sa.Identity(), primary_key=True))
    user_id: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    # For a list of past conversations: the start of its first message, set when it starts.
    title: str | None = Field(default=None, sa_column=sa.Column(sa.String(200), nullable=True))
    # Kept by each message's insert, so a list shows it without counting every conversation's.
    message_count: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0"))
    created_at: datetime = Field(default_factory=utc_now, sa_column=sa.Column(UTCDateTime, nullable=False))
    # When its last message was added: what the list is ordered by.
    updated_at: datetime = Field(default_factory=utc_now, sa_column=sa.Column(UTCDateTime, nullable=False))


conversation_table: sa.Table = Conversation.__table__  # type: ignore[attr-defined]


class Message(SQLModel, table=True):
    """One message of a conversation, deleted with it. An assistant message keeps the tool calls
    it made with their results, so there is no separate `tool` role."""

    __tablename__ = "message"
    __table_args__: Any = (
        sa.CheckConstraint(f"role IN ({ROLE_VALUES})", name="role"),
        # A conversation's messages in order (ids grow with each message).
        sa.Index(None, "conversation_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, sa.Identity(), primary_key=True))
    conversation_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("conversation.id", ondelete="CASCADE"), nullable=False)
    )
    # The conversation's owner, as the issue's contract and other apps' tables have it.
    user_id: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    role: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    content: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # An assistant message's tool calls as JSON text, `[{"name", "arguments", "result"}, ...]`;
    # NULL for none. Text rather than a JSON type: written and read whole, never queried.
    tool_calls: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # A user message the model never answered (a provider timeout or error): kept, shown, and
    # left out of the history later turns send to the model.
    unanswered: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    created_at: datetime = Field(default_factory=utc_now, sa_column=sa.Column(UTCDateTime, nullable=False))


message_table: sa.Table = Message.__table__  # type: ignore[attr-defined]

EVENT_TYPES = ("task.created", "task.updated", "task.completed", "task.deleted", "reminder.due")
EVENT_TYPE_VALUES = ", ".join(f"'{kind}'" for kind in EVENT_TYPES)


class EventSequence(SQLModel, table=True):
    """The number of each user's latest event. Written by the triggers of migration 0012 (one
    row per user, locked by each write of theirs until it commits, so their events commit in
    the order of their numbers)."""

    __tablename__ = "event_sequence"

    user_id: str = Field(sa_column=sa.Column(sa.String(255), primary_key=True))
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


event_sequence_table: sa.Table = EventSequence.__table__  # type: ignore[attr-defined]


class TaskEvent(SQLModel, table=True):
    """The outbox: one row per change of a task, written by the change's own statement (the
    triggers of migration 0012), kept for EVENTS_RETENTION."""

    __tablename__ = "task_event"
    __table_args__: Any = (
        sa.CheckConstraint(f"type IN ({EVENT_TYPE_VALUES})", name="type"),
        # Pruned by age.
        sa.Index(None, "at"),
    )

    user_id: str = Field(sa_column=sa.Column(sa.String(255), primary_key=True))
    # The user's events are numbered 1, 2, 3, ... in the order they committed.
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True))
    # A UUID, for consumers that deduplicate.
    event_id: str = Field(sa_column=sa.Column(sa.String(36), nullable=False))
    type: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    task_id: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    # The task after the change as a JSON object of its columns; NULL for a deletion.
    task: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


task_event_table: sa.Table = TaskEvent.__table__  # type: ignore[attr-defined]


class EventTicket(SQLModel, table=True):
    """A single-use ticket that opens a user's events stream (`?ticket=`) for a browser's
    EventSource, which cannot send an Authorization header. Only its SHA-256 is kept."""

    __tablename__ = "event_ticket"
    __table_args__: Any = (sa.Index(None, "expires_at"),)

    digest: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    user_id: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    expires_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


event_ticket_table: sa.Table = EventTicket.__table__  # type: ignore[attr-defined]


class EventRelay(SQLModel, table=True):
    """How far the events relay has published each user's events (migration 0013): the number
    of the last one a broker acknowledged. Only the relay writes it."""

    __tablename__ = "event_relay"

    user_id: str = Field(sa_column=sa.Column(sa.String(255), primary_key=True))
    published_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


event_relay_table: sa.Table = EventRelay.__table__  # type: ignore[attr-defined]


# An idempotency record's status while its request runs: no HTTP status is 0.
PENDING_STATUS = 0


class IdempotencyKey(SQLModel, table=True):
    """The first successful answer to a write sent with an `Idempotency-Key`, per user: a retry
    with the same key is answered with it. Committed with the write it answers (migration
    0015); older than IDEMPOTENCY_TTL, it counts as absent and is pruned."""

    __tablename__ = "idempotency_key"
    __table_args__: Any = (
        # Pruned by age.
        sa.Index(None, "created_at"),
    )

    user_id: str = Field(sa_column=sa.Column(sa.String(255), primary_key=True))
    key: str = Field(sa_column=sa.Column(sa.String(255), primary_key=True))
    # sha256 (hex) of the request the key was first used for: method, path and body.
    fingerprint: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    # PENDING_STATUS while a long request with the key (a chat turn) is still running.
    status: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # The answer's headers that a replay repeats (ETag, Location...), as a JSON object.
    headers: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


idempotency_key_table: sa.Table = IdempotencyKey.__table__  # type: ignore[attr-defined]

# PostgreSQL only: each user's number of tasks, which a create locks and checks in the same
# statement as its insert. Migration 0004 creates it with the triggers that keep it equal to
# the task count. Kept off the models' metadata: SQLite has no such table (its one write lock
# makes the count itself exact), and `alembic check` leaves it to that migration.
task_quota_table = sa.Table(
    "task_quota",
    sa.MetaData(),
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("used", sa.Integer, nullable=False),
)


# Better Auth's tables, with its own names, camelCase columns, types and constraint names
# (as its Node migrations create them on PostgreSQL), so a database made by either side
# serves the other. Written with Core: the accounts service reads and writes them as rows.
def _created_at() -> sa.Column[datetime]:
    return sa.Column("createdAt", UTCDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))


def _user_id(table: str) -> sa.Column[str]:
    return sa.Column(
        "userId",
        sa.Text,
        sa.ForeignKey("user.id", ondelete="CASCADE", name=f"{table}_userId_fkey"),
        nullable=False,
    )


user_table = sa.Table(
    "user",
    SQLModel.metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("emailVerified", sa.Boolean, nullable=False),
    sa.Column("image", sa.Text, nullable=True),
    _created_at(),
    sa.Column("updatedAt", UTCDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
    sa.PrimaryKeyConstraint("id", name="user_pkey"),
    sa.UniqueConstraint("email", name="user_email_key"),
)

session_table = sa.Table(
    "session",
    SQLModel.metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("expiresAt", UTCDateTime, nullable=False),
    sa.Column("token", sa.Text, nullable=False),
    _created_at(),
    sa.Column("updatedAt", UTCDateTime, nullable=False),
    sa.Column("ipAddress", sa.Text, nullable=True),
    sa.Column("userAgent", sa.Text, nullable=True),
    _user_id("session"),
    sa.PrimaryKeyConstraint("id", name="session_pkey"),
    sa.UniqueConstraint("token", name="session_token_key"),
    sa.Index("session_userId_idx", "userId"),
)

account_table = sa.Table(
    "account",
    SQLModel.metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("accountId", sa.Text, nullable=False),
    # "credential" for e-mail and password, whose scrypt hash is in `password`.
    sa.Column("providerId", sa.Text, nullable=False),
    _user_id("account"),
    sa.Column("accessToken", sa.Text, nullable=True),
    sa.Column("refreshToken", sa.Text, nullable=True),
    sa.Column("idToken", sa.Text, nullable=True),
    sa.Column("accessTokenExpiresAt", UTCDateTime, nullable=True),
    sa.Column("refreshTokenExpiresAt", UTCDateTime, nullable=True),
    sa.Column("scope", sa.Text, nullable=True),
    sa.Column("password", sa.Text, nullable=True),
    _created_at(),
    sa.Column("updatedAt", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("id", name="account_pkey"),
    sa.Index("account_userId_idx", "userId"),
)

verification_table = sa.Table(
    "verification",
    SQLModel.metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("identifier", sa.Text, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("expiresAt", UTCDateTime, nullable=False),
    _created_at(),
    sa.Column("updatedAt", UTCDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
    sa.PrimaryKeyConstraint("id", name="verification_pkey"),
    sa.Index("verification_identifier_idx", "identifier"),
)

jwks_table = sa.Table(
    "jwks",
    SQLModel.metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("publicKey", sa.Text, nullable=False),
    sa.Column("privateKey", sa.Text, nullable=False),
    sa.Column("createdAt", UTCDateTime, nullable=False),
    sa.Column("expiresAt", UTCDateTime, nullable=True),
    sa.Column("alg", sa.Text, nullable=True),
    sa.Column("crv", sa.Text, nullable=True),
    sa.PrimaryKeyConstraint("id", name="jwks_pkey"),
)

BETTER_AUTH_TABLES = (user_table, session_table, account_table, verification_table, jwks_table)
