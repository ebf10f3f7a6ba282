"""Answering a write once per `Idempotency-Key`, however often it is retried.

The first successful (2xx) answer is stored with the key, per user, in the same transaction as
the write itself: the write's own service function runs unchanged on that transaction (an
`OpenTransaction`), and the key's record is inserted before COMMIT. So a crash never leaves an
answer stored without its write, nor a write without its answer. A retry with the key and the
same request is answered with the stored answer; with another request, refused (KeyReused).

An answer that is not 2xx is not stored: the services raise a domain error for a refusal (and
any error rolls the transaction back), so nothing was written, the key is not used up, and a
retry runs again.

While the first request with a key runs, a second one:
- on PostgreSQL, finds the key's advisory lock taken and is refused (KeyInUse, a 409 with
  Retry-After), rather than waiting for an answer that may take long;
- on SQLite, waits: the first holds the database's one write lock until it commits, after which
  the second finds the stored answer and replays it.

A long request (a chat turn, which waits seconds on a model) cannot hold a transaction open
while it runs. It `claim`s the key first instead, with a pending record committed at once; a
second request with the key then finds it pending (KeyInUse, a 409, on both databases). The
claim then `keep`s the answer when it is 2xx, or is `release`d (the record deleted: a retry runs
again). A pending record older than the longest such request can run is taken for lost (its
process stopped mid-request) and counts as absent.

Records older than the time to live count as absent (a key may then be used again) and are
pruned by `prune`, which the app runs periodically (see `pruning`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from todo_api.db.connection import Database, OpenTransaction
from todo_api.db.query import Row
from todo_api.idempotency.errors import InvalidKey, KeyInUse, KeyReused
from todo_api.idempotency.statements import CLAIM, FIND, KEEP, LOOKUP, PRUNE, RELEASE, STORE
from todo_api.models import PENDING_STATUS, utc_now

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255
# A request that found its key's record stored while it ran (a retry that had started just
# before the first committed) is rolled back and looked up again; after that many, a 409.
ATTEMPTS = 3
# The first pruning comes a while after start-up, then one an hour.
FIRST_PRUNE_AFTER = 60.0
PRUNE_EVERY = 3600.0


@dataclass(frozen=True, slots=True)
class Answer:
    """What a write answered: its status, body and the headers a replay repeats."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    # True when this is the stored answer of an earlier request with the key.
    replayed: bool = False


class _NotStored(Exception):
    """The write answered something other than 2xx: roll back, keep no record."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer


class _StoredMeanwhile(Exception):
    """Another request with the key committed its record after this one looked."""


def checked_key(value: str) -> str:
    """The key as sent, if it is 1 to MAX_KEY_LENGTH visible ASCII characters; else InvalidKey."""
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all("!" <= character <= "~" for character in value):
        raise InvalidKey()
    return value


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same: the method, the path (of the `/api/…` family, whichever
    family was called) and the body as JSON, whatever its spacing or the order of its keys."""
    if body.strip():
        try:
            document: Any = json.loads(body)
            canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, RecursionError):
            # The edge refuses a body that is not JSON before it gets here; as it came, otherwise.
            canonical = body
    else:
        canonical = b""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        # Each part's length first, so that no two different requests run together the same.
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def lock_name(user_id: str, key: str) -> str:
    """The name of the key's advisory lock; the user's id is prefixed by its length, so that no
    other user and key give the same name."""
    return f"idempotency:{len(user_id)}:{user_id}:{key}"


async def answer_once(
    database: Database,
    *,
    user_id: str,
    key: str,
    fingerprint: str,
    ttl: timedelta,
    write: Callable[[Database], Awaitable[Answer]],
) -> Answer:
    """The answer of `write` run once for the user's `key`: the stored one when a request with
    the key already succeeded (KeyReused if that request was another), else `write`'s own, run
    on a transaction that stores it with the key when it is 2xx. KeyInUse while the first
    request with the key still runs (PostgreSQL)."""
    for _ in range(ATTEMPTS):
        now = utc_now()
        values = {
            "owner": user_id,
            "key": key,
            "lock": lock_name(user_id, key),
            "since": now - ttl,
            "now": now,
            "fingerprint": fingerprint,
        }
        try:
            async with database.transaction() as connection:
                found = await connection.fetch_one(LOOKUP, values)
                if found is not None and found["fingerprint"] is not None:
                    return _replayed(found, fingerprint)
                if found is None or not found["acquired"]:
                    raise KeyInUse()
                answer = await write(OpenTransaction(connection))
                if not 200 <= answer.status < 300:
                    raise _NotStored(answer)
                if await connection.fetch_one(STORE, values | _record(answer)) is None:
                    raise _StoredMeanwhile()
                return answer
        except _NotStored as refused:
            return refused.answer
        except _StoredMeanwhile:
            # Rolled back, this request's write with it: the next lookup finds the record.
            continue
    raise KeyInUse()


@dataclass(frozen=True, slots=True)
class Claim:
    """A long request's hold on its key: its pending record, which only this claim may fill
    (`keep`) or delete (`release`)."""

    database: Database
    user_id: str
    key: str
    claimed_at: datetime

    async def keep(self, answer: Answer) -> None:
        """Store the request's successful (2xx) `answer` for retries with the key."""
        async with self.database.autocommit() as connection:
            await connection.fetch(KEEP, self._values() | _record(answer))

    async def release(self) -> None:
        """Delete the pending record: the request failed, and a retry with the key runs again."""
        async with self.database.autocommit() as connection:
            await connection.fetch(RELEASE, self._values())

    def _values(self) -> dict[str, Any]:
        return {"owner": self.user_id, "key": self.key, "claimed": self.claimed_at}


async def claim(
    database: Database,
    *,
    user_id: str,
    key: str,
    fingerprint: str,
    ttl: timedelta,
    lost_after: timedelta,
) -> Claim | Answer:
    """The user's `key` claimed for a long request (a Claim, committed before this returns), or
    the stored answer of an earlier request with the key (KeyReused if it was another request);
    KeyInUse while that request still runs. A pending record older than `lost_after` is taken
    over."""
    for _ in range(ATTEMPTS):
        now = utc_now()
        values = {
            "owner": user_id,
            "key": key,
            "since": now - ttl,
            "stale": now - lost_after,
            "now": now,
            "fingerprint": fingerprint,
        }
        async with database.transaction() as connection:
            claimed = await connection.fetch_one(CLAIM, values)
            found = None if claimed is not None else await connection.fetch_one(FIND, values)
        if claimed is not None:
            return Claim(database, user_id=user_id, key=key, claimed_at=claimed["created_at"])
        if found is not None:
            return _replayed(found, fingerprint)
        # Released or expired between the two statements: claim again.
    raise KeyInUse()


def _record(answer: Answer) -> dict[str, Any]:
    """An answer's values as its record stores them."""
    return {
        "status": answer.status,
        "body": answer.body.decode(),
        "headers": json.dumps(dict(answer.headers), sort_keys=True),
    }


def _replayed(found: Row, fingerprint: str) -> Answer:
    if found["fingerprint"] != fingerprint:
        raise KeyReused()
    if found["status"] == PENDING_STATUS:
        raise KeyInUse()
    headers: dict[str, str] = json.loads(found["headers"])
    return Answer(status=found["status"], body=found["body"].encode(), headers=headers, replayed=True)


async def prune(database: Database, *, before: datetime) -> None:
    """Delete the records created before `before` (every user's)."""
    async with database.autocommit() as connection:
        await connection.fetch(PRUNE, {"before": before})


@asynccontextmanager
async def pruning(
    database: Database, *, ttl: timedelta, first_after: float = FIRST_PRUNE_AFTER, every: float = PRUNE_EVERY
) -> AsyncIterator[None]:
    """Prune expired records `first_after` seconds after entering, then every `every` seconds,
    until the block ends. Every instance prunes; a delete of rows already gone costs nothing."""
    task = asyncio.create_task(_prune_periodically(database, ttl=ttl, first_after=first_after, every=every))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _prune_periodically(
    database: Database, *, ttl: timedelta, first_after: float, every: float
) -> None:
    await asyncio.sleep(first_after)
    while True:
        try:
            await prune(database, before=utc_now() - ttl)
        except Exception as error:  # the next run retries; the service goes on
            logger.warning(
                "idempotency keys not pruned",
                extra={"event": "idempotency_prune_failed", "error": type(error).__name__},
            )
        await asyncio.sleep(every)
