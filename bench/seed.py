"""A realistic, reproducible data set, loaded with COPY, and the token file the load reads."""

from __future__ import annotations

import random
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from todo_api.tasks.due_dates import overdue_after
from todo_api.tasks.tags import tag_keys_column, tags_column
from todo_api.tokens import create_token

# Long enough for any run, and within the service's TOKEN_MAX_LIFETIME (24 h by default).
TOKEN_TTL_SECONDS = 12 * 3600
YEAR_SECONDS = 365 * 24 * 3600
STATUSES = ("pending", "in_progress", "completed")
STATUS_WEIGHTS = (50, 20, 30)
# Ranks 1-4 (low, medium, high, urgent): mostly medium, as in the apps we read.
PRIORITY_WEIGHTS = (25, 45, 22, 8)
TAGS = ("work", "home", "errands", "finance", "health", "family", "reading", "travel", "car", "garden")
# How many tags a task has: most none or one.
TAG_COUNT_WEIGHTS = (40, 35, 20, 5)
# Every column a seeded task has a value in; the rest keep their defaults (no reminder, no
# recurrence, UTC). Timestamps come last, for seed_sqlite's conversion.
COPY_COLUMNS = (
    "user_id",
    "title",
    "description",
    "status",
    "title_folded",
    "description_folded",
    "priority",
    "tags",
    "tag_keys",
    "due_all_day",
    "created_at",
    "updated_at",
    "due_at",
    "overdue_after",
)
FIRST_TIMESTAMP = COPY_COLUMNS.index("created_at")

VERBS = (
    "Call",
    "Email",
    "Review",
    "Buy",
    "Schedule",
    "Fix",
    "Write",
    "Prepare",
    "Book",
    "Renew",
    "Clean",
    "Pay",
    "Update",
    "Plan",
    "Read",
    "Submit",
    "Organize",
    "Follow up on",
    "Cancel",
    "Return",
)
OBJECTS = (
    "the dentist",
    "quarterly report",
    "groceries for the week",
    "flight to Lisbon",
    "car insurance",
    "team offsite",
    "PR #482",
    "library books",
    "electricity bill",
    "passport application",
    "onboarding checklist",
    "garage door",
    "birthday gift for Mia",
    "tax documents",
    "gym membership",
    "design review notes",
    "kitchen sink",
    "conference talk slides",
    "backup of the laptop",
    "parents' anniversary dinner",
    "API rate-limit ticket",
    "winter tyres",
    "budget spreadsheet",
)
SUFFIXES = ("", "", "", " before Friday", " tomorrow", " (urgent)", " with Sam", " this weekend", " again")
SENTENCES = (
    "Check the confirmation email first.",
    "Ask Priya whether the numbers from last month are final.",
    "Needs the receipt from the shared drive.",
    "Blocked until the vendor replies.",
    "Bring the blue folder and the signed form.",
    "Second attempt; the first one bounced.",
    "Compare at least three offers before deciding.",
    "Leave 15 minutes early, there is roadwork on the bridge.",
    "Split the work into two sessions if it takes too long.",
    "Remember to cc the finance team.",
    "Low priority, but it keeps coming back.",
    "Use the template from the last quarter and update the charts.",
)


@dataclass(frozen=True)
class Dataset:
    """How many users own how many tasks; `heavy_tasks` > 0 adds one user owning that many."""

    users: int
    tasks_per_user: int
    heavy_tasks: int = 0

    @property
    def total_tasks(self) -> int:
        return self.users * self.tasks_per_user + self.heavy_tasks


DEFAULT = Dataset(users=1000, tasks_per_user=20)
# 1,000,000 rows: 99,000 ordinary users with 10 tasks each plus one user with 10,000.
SCALE = Dataset(users=99_000, tasks_per_user=10, heavy_tasks=10_000)


@dataclass(frozen=True)
class SeededUser:
    """A user of the data set with the ids of the tasks it owns (as seeded)."""

    user_id: str
    task_ids: tuple[int, ...]


@dataclass(frozen=True)
class Seeded:
    """What the load needs from the seed: sampled ordinary users and the heavy user, if any."""

    users: list[SeededUser]
    heavy: SeededUser | None
    rows: int
    seconds: float


def user_ids(dataset: Dataset, rng: random.Random) -> list[str]:
    """Opaque 32-character ids, like Better Auth's."""
    alphabet = string.ascii_letters + string.digits
    count = dataset.users + (1 if dataset.heavy_tasks else 0)
    return ["".join(rng.choices(alphabet, k=32)) for _ in range(count)]


def _titles(rng: random.Random, count: int) -> list[str]:
    return [f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(SUFFIXES)}" for _ in range(count)]


def _descriptions(rng: random.Random, count: int) -> list[str | None]:
    # About a third of real tasks have no description; the rest have one to three sentences.
    pool: list[str | None] = [" ".join(rng.sample(SENTENCES, rng.randint(1, 3))) for _ in range(count)]
    return pool + [None] * (count // 2)


def task_records(dataset: Dataset, users: list[str], rng: random.Random) -> Iterator[tuple[object, ...]]:
    """One COPY record per task: statuses, priorities and tags mixed, timestamps spread over the
    past year, half of the tasks due within a quarter of their creation (some of them all-day)."""
    titles = _titles(rng, 2000)
    descriptions = _descriptions(rng, 1000)
    now = time.time()
    owners = [(user, dataset.tasks_per_user) for user in users[: dataset.users]]
    if dataset.heavy_tasks:
        owners.append((users[-1], dataset.heavy_tasks))
    for user, count in owners:
        for _ in range(count):
            created = now - rng.random() * YEAR_SECONDS
            updated = min(now, created + rng.random() * 30 * 24 * 3600)
            title = rng.choice(titles)
            description = rng.choice(descriptions)
            tags = rng.sample(TAGS, rng.choices(range(len(TAG_COUNT_WEIGHTS)), TAG_COUNT_WEIGHTS)[0])
            due_at, all_day = _due(rng, created)
            yield (
                user,
                title,
                description,
                rng.choices(STATUSES, STATUS_WEIGHTS)[0],
                title.casefold(),
                None if description is None else description.casefold(),
                rng.choices(range(1, len(PRIORITY_WEIGHTS) + 1), PRIORITY_WEIGHTS)[0],
                tags_column(tags),
                tag_keys_column(tags),
                all_day,
                datetime.fromtimestamp(created, UTC),
                datetime.fromtimestamp(updated, UTC),
                due_at,
                overdue_after(due_at, all_day=all_day, zone=UTC),
            )


def _due(rng: random.Random, created: float) -> tuple[datetime | None, bool]:
    """No due date for half of the tasks; else one within 90 days of creation, a third all-day
    (stored at midnight UTC of its date, as the service stores them)."""
    if rng.random() < 0.5:
        return None, False
    due = datetime.fromtimestamp(created, UTC) + timedelta(seconds=rng.random() * 90 * 24 * 3600)
    if rng.random() < 1 / 3:
        return datetime.combine(due.date(), datetime.min.time(), UTC), True
    return due.replace(second=0, microsecond=0), False


def generate(dataset: Dataset, seed_value: int = 1) -> tuple[list[str], list[tuple[object, ...]]]:
    """The user ids and task records `seed` loads, for the embedded servers' seeds."""
    rng = random.Random(seed_value)
    users = user_ids(dataset, rng)
    return users, list(task_records(dataset, users, rng))


async def seed(url: str, dataset: Dataset, *, load_users: int, seed_value: int = 1) -> Seeded:
    """COPY the data set into the migrated database at `url`, VACUUM ANALYZE it, and sample users."""
    started = time.perf_counter()
    rng = random.Random(seed_value)
    users = user_ids(dataset, rng)
    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table(
            "task", records=task_records(dataset, users, rng), columns=COPY_COLUMNS
        )
        # Statistics for the planner and a visibility map, so index-only scans are possible.
        await connection.execute("VACUUM (ANALYZE) task")
        ordinary = users[: dataset.users]
        sampled = ordinary if load_users >= len(ordinary) else rng.sample(ordinary, load_users)
        wanted = sampled + ([users[-1]] if dataset.heavy_tasks else [])
        rows = await connection.fetch(
            "SELECT user_id, array_agg(id ORDER BY id) AS ids FROM task"
            " WHERE user_id = ANY($1::varchar[]) GROUP BY user_id",
            wanted,
        )
    finally:
        await connection.close()
    ids = {row["user_id"]: tuple(row["ids"]) for row in rows}
    heavy = SeededUser(users[-1], ids[users[-1]]) if dataset.heavy_tasks else None
    return Seeded(
        users=[SeededUser(user, ids[user]) for user in sampled],
        heavy=heavy,
        rows=dataset.total_tasks,
        seconds=time.perf_counter() - started,
    )


def write_load_file(path: Path, users: list[SeededUser], secret: str) -> None:
    """One line per user, `token<TAB>id,id,...`, read by the wrk script and the open-loop load."""
    with path.open("w", encoding="ascii") as file:
        for user in users:
            token = create_token(user.user_id, secret, ttl_seconds=TOKEN_TTL_SECONDS)
            file.write(f"{token}\t{','.join(map(str, user.task_ids))}\n")


def seed_sqlite(path: Path, dataset: Dataset) -> list[SeededUser]:
    """The same rows as `seed`, into the migrated SQLite database at `path`, in one transaction."""
    import sqlite3

    users, records = generate(dataset)
    # The text format SQLAlchemy (and so the service) writes timestamps in, naive UTC.
    as_text = "%Y-%m-%d %H:%M:%S.%f"
    with sqlite3.connect(path) as connection:
        connection.executemany(
            f"INSERT INTO task ({', '.join(COPY_COLUMNS)}) VALUES ({', '.join('?' * len(COPY_COLUMNS))})",
            (
                (
                    *record[:FIRST_TIMESTAMP],
                    *(
                        None if moment is None else moment.strftime(as_text)  # type: ignore[attr-defined]
                        for moment in record[FIRST_TIMESTAMP:]
                    ),
                )
                for record in records
            ),
        )
        connection.execute("ANALYZE")
        ids: dict[str, list[int]] = {user: [] for user in users}
        for user, task_id in connection.execute("SELECT user_id, id FROM task ORDER BY id"):
            ids[user].append(task_id)
    connection.close()
    return [SeededUser(user, tuple(ids[user])) for user in users[: dataset.users]]
