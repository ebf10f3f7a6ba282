"""Idempotency's statements: find a key's record (taking the key's lock, on PostgreSQL, in the
same statement), store one, prune old ones; and for a long request (a chat turn), claim a key
with a pending record, then keep the answer in it or release it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from todo_api.db.query import Query
from todo_api.models import PENDING_STATUS, UTCDateTime, idempotency_key_table

keys = idempotency_key_table.c
OWNER = sa.bindparam("owner", type_=sa.String)
KEY = sa.bindparam("key", type_=sa.String)
# Records created before it have expired: they count as absent.
SINCE = sa.bindparam("since", type_=UTCDateTime())
LOCK = sa.bindparam("lock", type_=sa.String)


def _lookup(acquired: sa.ColumnElement[Any]) -> sa.Select[Any]:
    # One row always: whether the key's lock was taken, and its fresh record's columns or NULLs.
    attempt = sa.select(acquired.label("acquired")).subquery("attempt")
    fresh = sa.and_(keys.user_id == OWNER, keys.key == KEY, keys.created_at >= SINCE)
    return sa.select(attempt.c.acquired, keys.fingerprint, keys.status, keys.body, keys.headers).select_from(
        attempt.outerjoin(idempotency_key_table, fresh)
    )


# On PostgreSQL the key's lock is tried (never waited for) and held until the transaction ends,
# so a second request with the key while the first runs knows it at once. SQLite needs none: a
# write transaction there holds the database's one write lock from BEGIN IMMEDIATE to COMMIT.
LOOKUP = Query(
    _lookup(sa.true()),
    postgres=_lookup(sa.func.pg_try_advisory_xact_lock(sa.func.hashtextextended(LOCK, 0))),
)


# An answer's columns, as STORE and KEEP write them.
ANSWER = {
    "status": sa.bindparam("status", type_=sa.SmallInteger),
    "body": sa.bindparam("body", type_=sa.Text),
    "headers": sa.bindparam("headers", type_=sa.Text),
}


def _upsert(
    insert: postgresql.Insert | sqlite.Insert, answer: dict[str, Any], *, replacing: sa.ColumnElement[bool]
) -> sa.Insert:
    """The key's record with `answer`'s columns, over an existing record only where `replacing`
    holds; the record's created_at comes back, or no row when it was left as it is."""
    written = insert.values(
        user_id=OWNER,
        key=KEY,
        fingerprint=sa.bindparam("fingerprint", type_=sa.String),
        created_at=sa.bindparam("now", type_=UTCDateTime()),
        **answer,
    )
    replaced = ("fingerprint", "status", "body", "headers", "created_at")
    return written.on_conflict_do_update(
        index_elements=[keys.user_id, keys.key],
        set_={name: written.excluded[name] for name in replaced},
        where=replacing,
    ).returning(keys.created_at)


def _upsert_query(answer: dict[str, Any], replacing: sa.ColumnElement[bool]) -> Query:
    """`_upsert` in each database's dialect (both have ON CONFLICT)."""
    return Query(
        _upsert(sqlite.insert(idempotency_key_table), answer, replacing=replacing),
        postgres=_upsert(postgresql.insert(idempotency_key_table), answer, replacing=replacing),
    )


# An expired record is replaced; a fresh one (stored meanwhile by another request with the key)
# is left as it is, and no row comes back.
STORE = _upsert_query(ANSWER, keys.created_at < SINCE)
BEFORE = sa.bindparam("before", type_=UTCDateTime())
PRUNE = Query(sa.delete(idempotency_key_table).where(keys.created_at < BEFORE))


# A long request's claim: a pending record (status PENDING_STATUS, no answer yet), inserted where
# no fresh record is, or over an expired record or a pending one whose request is taken for lost
# (created before STALE). No row comes back when the key is taken; PostgreSQL waits for a claim
# still uncommitted, so two claims never both succeed.
STALE = sa.bindparam("stale", type_=UTCDateTime())
CLAIMED = sa.bindparam("claimed", type_=UTCDateTime())
_lost = sa.and_(keys.status == PENDING_STATUS, keys.created_at < STALE)
_PENDING = {"status": PENDING_STATUS, "body": "", "headers": "{}"}
CLAIM = _upsert_query(_PENDING, sa.or_(keys.created_at < SINCE, _lost))
# The key's fresh record, pending or answered, without taking its lock.
FIND = Query(
    sa.select(keys.fingerprint, keys.status, keys.body, keys.headers).where(
        keys.user_id == OWNER, keys.key == KEY, keys.created_at >= SINCE
    )
)
# This claim's own pending record (another claim that took over a lost one is not touched).
_this_claim = (
    keys.user_id == OWNER,
    keys.key == KEY,
    keys.status == PENDING_STATUS,
    keys.created_at == CLAIMED,
)
KEEP = Query(sa.update(idempotency_key_table).where(*_this_claim).values(**ANSWER))
RELEASE = Query(sa.delete(idempotency_key_table).where(*_this_claim))
