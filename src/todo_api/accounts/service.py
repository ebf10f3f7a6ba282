"""Accounts: sign-up, sign-in, sessions and sign-out, on Better Auth's own tables.

Each operation opens its own unit of work: sign-up writes the user, their credential account
and the first session in one transaction; everything else is one statement. Password work
(scrypt) happens before any connection is taken, so a slow hash never holds one.
"""

from __future__ import annotations

import logging
import secrets
import string
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from todo_api.accounts import signing_keys
from todo_api.accounts.errors import AuthError
from todo_api.accounts.passwords import hash_password, spend_a_verification, verify_password
from todo_api.accounts.schemas import SignInEmail, SignUpEmail, user_fields
from todo_api.db.connection import Database, UniqueViolation
from todo_api.db.query import Query, Row
from todo_api.models import account_table, session_table, user_table, utc_now

logger = logging.getLogger(__name__)

ID_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 32
SESSION_LIFETIME = timedelta(days=7)
# A session used after this long is extended (Better Auth's `updateAge`).
SESSION_UPDATE_AGE = timedelta(days=1)
# rememberMe: false: the session lasts a day, and its cookie only as long as the browser's.
UNREMEMBERED_LIFETIME = timedelta(days=1)
CREDENTIAL = "credential"
# The jwt() plugin's default expirationTime ("15m").
JWT_LIFETIME_SECONDS = 15 * 60

USER, SESSION, ACCOUNT = user_table.c, session_table.c, account_table.c
USER_COLUMNS = tuple(USER)
SESSION_COLUMNS = tuple(SESSION)


def _insert(table: sa.Table, names: tuple[str, ...] | None = None) -> Query:
    # Parameter names differ from column names: SQLAlchemy reserves those for the VALUES.
    columns = [table.c[name] for name in names] if names else list(table.c)
    values = {column.name: sa.bindparam(f"new_{column.name}", type_=column.type) for column in columns}
    return Query(sa.insert(table).values(values))


INSERT_USER = _insert(user_table)
INSERT_SESSION = _insert(session_table)
INSERT_ACCOUNT = _insert(
    account_table, ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt")
)
EMAIL = sa.bindparam("email", type_=sa.Text)
# Not "token": SQLAlchemy reserves column names for the VALUES and SET of a write.
TOKEN = sa.bindparam("session_token", type_=sa.Text)
EMAIL_TAKEN = Query(sa.select(USER.id).where(USER.email == EMAIL))
# The user and the hash of their own credential account (Better Auth's sign-in looks for
# providerId "credential" with accountId = the user's id).
FIND_CREDENTIALS = Query(
    sa.select(*USER_COLUMNS, ACCOUNT.password.label("password_hash"))
    .select_from(
        user_table.outerjoin(
            account_table,
            sa.and_(
                ACCOUNT.userId == USER.id, ACCOUNT.providerId == CREDENTIAL, ACCOUNT.accountId == USER.id
            ),
        )
    )
    .where(USER.email == EMAIL)
    .limit(1)
)
# User columns are labelled, as both tables have id, createdAt and updatedAt.
FIND_SESSION = Query(
    sa.select(*SESSION_COLUMNS, *(column.label(f"user.{column.name}") for column in USER_COLUMNS))
    .select_from(session_table.join(user_table, SESSION.userId == USER.id))
    .where(SESSION.token == TOKEN)
)
EXTEND_SESSION = Query(
    sa.update(session_table)
    .where(SESSION.token == TOKEN)
    .values(
        {
            "expiresAt": sa.bindparam("expires_at", type_=SESSION.expiresAt.type),
            "updatedAt": sa.bindparam("now", type_=SESSION.updatedAt.type),
        }
    )
    .returning(*SESSION_COLUMNS)
)
DELETE_SESSION = Query(sa.delete(session_table).where(SESSION.token == TOKEN))


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from, as Better Auth records it on the session."""

    ip_address: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A user and one of their sessions (`refreshed`: its expiry was just extended)."""

    user: Row
    session: Row
    refreshed: bool = False


def new_id() -> str:
    """32 random characters from [A-Za-z0-9], as Better Auth's generateId(32) makes them."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def _now() -> datetime:
    # JavaScript dates hold milliseconds; storing more would show a time Node never wrote.
    now = utc_now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _prefixed(values: dict[str, Any]) -> dict[str, Any]:
    return {f"new_{name}": value for name, value in values.items()}


def _new_session(user_id: str, *, remember: bool, client: Client, now: datetime) -> dict[str, Any]:
    lifetime = SESSION_LIFETIME if remember else UNREMEMBERED_LIFETIME
    return {
        "id": new_id(),
        "expiresAt": now + lifetime,
        "token": new_id(),
        "createdAt": now,
        "updatedAt": now,
        "ipAddress": client.ip_address,
        "userAgent": client.user_agent,
        "userId": user_id,
    }


async def sign_up(database: Database, *, data: SignUpEmail, client: Client) -> SignedIn:
    """Create the user, their credential account (the password's hash) and a first session."""
    async with database.autocommit() as connection:
        taken = await connection.fetch_one(EMAIL_TAKEN, {"email": data.email})
    if taken is not None:
        raise AuthError("UNPROCESSABLE_ENTITY", "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL")
    password_hash = await hash_password(data.password)
    now = _now()
    user_id = new_id()
    user: dict[str, Any] = {
        "id": user_id,
        "name": data.name,
        "email": data.email,
        "emailVerified": False,
        "image": data.image,
        "createdAt": now,
        "updatedAt": now,
    }
    account = {
        "id": new_id(),
        "accountId": user_id,
        "providerId": CREDENTIAL,
        "userId": user_id,
        "password": password_hash,
        "createdAt": now,
        "updatedAt": now,
    }
    session = _new_session(user_id, remember=data.remember_me, client=client, now=now)
    try:
        async with database.transaction() as connection:
            await connection.fetch(INSERT_USER, _prefixed(user))
            await connection.fetch(INSERT_ACCOUNT, _prefixed(account))
            await connection.fetch(INSERT_SESSION, _prefixed(session))
    except UniqueViolation:
        # Another sign-up with the same e-mail committed first.
        raise AuthError("UNPROCESSABLE_ENTITY", "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL") from None
    return SignedIn(user=user, session=session)


async def sign_in(database: Database, *, data: SignInEmail, client: Client) -> SignedIn:
    """A new session for the e-mail and password; an unknown e-mail and a wrong password
    are the same error, after the same work."""
    async with database.autocommit() as connection:
        found = await connection.fetch_one(FIND_CREDENTIALS, {"email": data.email})
    if found is None or not found["password_hash"]:
        await spend_a_verification(data.password)
        raise _refused("no such account")
    if not await verify_password(found["password_hash"], data.password):
        raise _refused("wrong password")
    user = {column.name: found[column.name] for column in USER_COLUMNS}
    session = _new_session(user["id"], remember=data.remember_me, client=client, now=_now())
    async with database.autocommit() as connection:
        await connection.fetch(INSERT_SESSION, _prefixed(session))
    return SignedIn(user=user, session=session)


def _refused(reason: str) -> AuthError:
    # The reason stays in the log; the answer is the same either way. No e-mail or password.
    logger.info("sign-in refused", extra={"event": "sign_in_refused", "reason": reason})
    return AuthError("UNAUTHORIZED", "INVALID_EMAIL_OR_PASSWORD")


async def get_session(database: Database, *, token: str, extend: bool = True) -> SignedIn | None:
    """The session with this token and its user; None if there is none or it expired (an
    expired one is deleted). Used for a day or more, it is extended to 7 days from now."""
    async with database.autocommit() as connection:
        row = await connection.fetch_one(FIND_SESSION, {"session_token": token})
        if row is None:
            return None
        now = _now()
        if row["expiresAt"] <= now:
            await connection.fetch(DELETE_SESSION, {"session_token": token})
            return None
        user = {column.name: row[f"user.{column.name}"] for column in USER_COLUMNS}
        session: Row = {column.name: row[column.name] for column in SESSION_COLUMNS}
        if not extend or row["expiresAt"] - SESSION_LIFETIME + SESSION_UPDATE_AGE > now:
            return SignedIn(user=user, session=session)
        values = {"session_token": token, "expires_at": now + SESSION_LIFETIME, "now": now}
        extended = await connection.fetch_one(EXTEND_SESSION, values)
    if extended is None:
        return None
    return SignedIn(user=user, session=extended, refreshed=True)


async def sign_out(database: Database, *, token: str) -> None:
    """End the session with this token (nothing happens if there is none)."""
    async with database.autocommit() as connection:
        await connection.fetch(DELETE_SESSION, {"session_token": token})


async def issue_jwt(database: Database, *, user: Row, secret: str, issuer: str) -> str:
    """The jwt() plugin's token for this user: their fields (its default definePayload), `sub`,
    `iat`, `exp` 15 minutes on, and `iss` = `aud` = the service's own URL."""
    now = int(time.time())
    claims = {"iat": now, **user_fields(user), "sub": user["id"]}
    claims |= {"exp": now + JWT_LIFETIME_SECONDS, "iss": issuer, "aud": issuer}
    return signing_keys.sign(claims, await signing_keys.signing_key(database, secret=secret))


async def jwt_for_session(database: Database, *, token: str | None, secret: str, issuer: str) -> str:
    """/token: a JWT for the user of this live session, or Better Auth's 401."""
    signed_in = await get_session(database, token=token, extend=False) if token is not None else None
    if signed_in is None:
        raise AuthError("UNAUTHORIZED", "UNAUTHORIZED")
    return await issue_jwt(database, user=signed_in.user, secret=secret, issuer=issuer)
