"""The ceiling: the task API on bare Starlette + asyncpg + PyJWT + orjson, same contract as the service.

It keeps every check that matters to a client (HS256 with `exp` and `sub` required, owner-scoped
statements, 404 for another user's task, title/description validation, the per-user task quota,
X-Total-Count, Location) and the service's framework-free choices: verified tokens cached until
they expire, no reset query when a connection goes back to the pool, searches planned with their
values on a pool of their own, and the same statements and round trips per request (one each,
create included: its statement checks the quota too).
What it drops is the framework and the service's own layers (FastAPI, dependencies, schemas,
middleware, request logs), so the gap between it and the service is what those cost.
Run: `python -m bench.ceiling --port 8001` with DATABASE_URL and BETTER_AUTH_SECRET set.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import jwt
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = (
    "id, user_id, title, description, status, priority, tags, due_at, due_all_day, overdue_after,"
    " timezone, remind_at, remind_before_minutes, reminder_acknowledged_at, recurrence_pattern,"
    " recurrence_interval, recurrence_rule, next_task_id, created_at, updated_at"
)
STATUSES = ("pending", "in_progress", "completed")
PRIORITIES = ("low", "medium", "high", "urgent")  # ranks 1-4
SORT_COLUMNS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "title": "title",
    "status": "status",
    "priority": "priority",
    "due_date": "due_at",
}
TAG_SEPARATOR = "\x1f"
MAX_SEARCH_TERMS = 8
MAX_FILTER_TAGS = 20
PARAMETER = re.compile(r"\$(\d+)")
MAX_BODY_BYTES = 1024 * 1024
MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_ID = 2**31 - 1
LEEWAY_SECONDS = 30
# The service's defaults for TOKEN_CACHE_SIZE and MAX_TASKS_PER_USER.
TOKEN_CACHE_SIZE = 10_000
DEFAULT_MAX_TASKS = 10_000
TOGGLE = "CASE WHEN status = 'completed' THEN 'pending' ELSE 'completed' END"
UNCOMPLETE = "CASE WHEN status = 'completed' THEN 'pending' ELSE status END"


class ApiError(Exception):
    """An error response: status, `detail` and extra headers."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.detail = detail
        self.headers = headers


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """orjson with `Z` for UTC, matching what pydantic writes for the service."""
    return Response(orjson.dumps(content, option=orjson.OPT_UTC_Z), status, headers, "application/json")


def task_json(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    """A task row in the service's JSON shape (field order included), derived fields computed."""
    zone = ZoneInfo(row["timezone"] or "UTC")
    done = row["status"] == "completed"
    overdue_after = row["overdue_after"]
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "priority": PRIORITIES[row["priority"] - 1],
        "tags": row["tags"].split(TAG_SEPARATOR) if row["tags"] else [],
        "due_date": moment_text(row["due_at"], zone, all_day=row["due_all_day"]),
        "timezone": row["timezone"] or "UTC",
        "remind_at": moment_text(row["remind_at"], zone, all_day=False),
        "remind_before_minutes": row["remind_before_minutes"],
        "reminder_acknowledged": row["reminder_acknowledged_at"] is not None,
        "recurrence_pattern": row["recurrence_pattern"] or "none",
        "recurrence_interval": row["recurrence_interval"],
        "recurrence_rule": row["recurrence_rule"],
        "is_recurring": row["recurrence_pattern"] is not None,
        "next_task_id": row["next_task_id"],
        "overdue": not done and overdue_after is not None and overdue_after < now,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "completed": done,
    }


def moment_text(moment: datetime | None, zone: ZoneInfo, *, all_day: bool) -> str | None:
    """A date for an all-day task, else RFC 3339 in the task's zone (`Z` for UTC)."""
    if moment is None:
        return None
    if all_day:
        return moment.astimezone(UTC).date().isoformat()
    local = moment.astimezone(zone)
    offset = local.utcoffset()
    if offset is None or offset % timedelta(minutes=1):
        local = moment.astimezone(UTC)
    text = local.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def unauthorized(detail: str, *, token_sent: bool = True) -> ApiError:
    challenge = 'Bearer error="invalid_token"' if token_sent else "Bearer"
    return ApiError(401, detail, {"WWW-Authenticate": challenge})


class TokenCache:
    """Verified tokens until they expire, as the service keeps them: keyed by a digest, bounded,
    expiry re-checked on every hit."""

    def __init__(self, max_entries: int = TOKEN_CACHE_SIZE) -> None:
        self._max_entries = max_entries
        self._entries: dict[bytes, tuple[str, float]] = {}

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.blake2b(token.encode(), digest_size=16).digest()

    def subject(self, key: bytes) -> str | None:
        """The cached subject; an entry past its expiry is dropped and the token refused."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        subject, expires_at = entry
        if time.time() > expires_at + LEEWAY_SECONDS:
            del self._entries[key]
            raise unauthorized("Invalid token: token expired")
        return subject

    def put(self, key: bytes, subject: str, expires_at: float) -> None:
        if len(self._entries) >= self._max_entries:
            for stale in list(self._entries)[: max(1, self._max_entries // 10)]:
                del self._entries[stale]
        self._entries[key] = (subject, expires_at)


def caller(request: Request) -> str:
    """The verified `sub` of the bearer token (HS256, `exp` and `sub` required), cached."""
    header = request.headers.get("authorization")
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        reason = "Not authenticated" if not header else "Authorization must be 'Bearer <token>'"
        raise unauthorized(reason, token_sent=False)
    if len(token) > 8 * 1024:
        raise unauthorized("Invalid token: token too large")
    cache: TokenCache = request.app.state.tokens
    key = cache.key(token)
    cached = cache.subject(key)
    if cached is not None:
        return cached
    try:
        claims = jwt.decode(
            token,
            request.app.state.secret,
            algorithms=["HS256"],
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError:
        raise unauthorized("Invalid token") from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject or len(subject) > 255 or "\x00" in subject:
        raise unauthorized("Invalid token: invalid subject")
    cache.put(key, subject, float(claims["exp"]))
    return subject


def task_id(request: Request) -> int:
    """The path's task id; one outside the 32-bit id range names no task."""
    value: int = request.path_params["task_id"]
    if not 1 <= value <= MAX_ID:
        raise ApiError(404, "Task not found")
    return value


def query_int(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        raise ApiError(400, f"invalid '{name}': an integer from {low}" + (f" to {high}" if high else " up"))
    return value


def like_pattern(text: str) -> str:
    """`text` anywhere, with LIKE's wildcards (and its default escape, a backslash) matched as typed."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_filters(request: Request) -> tuple[list[str], list[Any]]:
    """The WHERE conditions after the owner's (`$1`; `$2` and `$3` are the page) and their
    arguments: status, completed, priorities, tags (any of them) and search words, with the
    service's rules."""
    query = request.query_params
    conditions: list[str] = []
    args: list[Any] = []

    def add(condition: str, value: Any) -> None:
        args.append(value)
        conditions.append(condition.replace("$?", f"${len(args) + 3}"))

    status = query.get("status", "all")
    if status not in ("all", *STATUSES):
        raise ApiError(400, "invalid 'status'")
    if status != "all":
        add("status = $?", status)
    completed = query.get("completed")
    if completed not in (None, "true", "false"):
        raise ApiError(400, "invalid 'completed'")
    if completed is not None:
        conditions.append("status = 'completed'" if completed == "true" else "status <> 'completed'")
    words = [word.strip().lower() for value in query.getlist("priority") for word in value.split(",")]
    if any(word and word not in PRIORITIES for word in words):
        raise ApiError(400, "invalid 'priority'")
    ranks = sorted({PRIORITIES.index(word) + 1 for word in words if word})
    if ranks:
        add("priority = ANY($?::smallint[])", ranks)
    names = (name.strip().casefold() for value in query.getlist("tags") for name in value.split(","))
    tags = [tag for tag in dict.fromkeys(names) if tag]
    if len(tags) > MAX_FILTER_TAGS:
        raise ApiError(400, "invalid 'tags'")
    if tags:
        matches = []
        for tag in tags:
            args.append(like_pattern(f"{TAG_SEPARATOR}{tag}{TAG_SEPARATOR}"))
            matches.append(f"tag_keys LIKE ${len(args) + 3}")
        conditions.append(f"({' OR '.join(matches)})")
    terms = list(dict.fromkeys(query.get("search", "").casefold().split()))
    if len(terms) > MAX_SEARCH_TERMS:
        raise ApiError(400, "invalid 'search'")
    for term in terms:
        add("(title_folded LIKE $? OR description_folded LIKE $?)", like_pattern(term))
    return conditions, args


def list_order(request: Request) -> str:
    """The ORDER BY: only whitelisted names ever reach the SQL text; undated tasks last."""
    sort = request.query_params.get("sort", "-created_at")
    column = SORT_COLUMNS.get(sort.removeprefix("-"))
    if column is None:
        raise ApiError(400, "invalid 'sort'")
    direction = " DESC" if sort.startswith("-") else ""
    nulls = " NULLS LAST" if column == "due_at" else ""
    return f"{column}{direction}{nulls}, id{direction}"


async def list_tasks(request: Request) -> Response:
    user = caller(request)
    conditions, filter_args = list_filters(request)
    order = list_order(request)
    limit = query_int(request, "limit", 100, 1, 1000)
    offset = query_int(request, "offset", 0, 0, None)
    where = " AND ".join(["user_id = $1", *conditions])
    # As the service does: a search runs on connections that plan each run with its values.
    pool: asyncpg.Pool = (
        request.app.state.search_pool if "search" in request.query_params else request.app.state.pool
    )
    # As the service does: a filtered list counts its matches as it sorts them, in one statement.
    counted = ", count(*) OVER () AS total" if conditions else ""
    rows = await pool.fetch(
        f"SELECT {COLUMNS}{counted} FROM task WHERE {where} ORDER BY {order} LIMIT $2 OFFSET $3",
        user,
        limit,
        offset,
        *filter_args,
    )
    if conditions and rows:
        total = rows[0]["total"]
    elif len(rows) < limit and (rows or offset == 0):
        # A short page is the last one, so the total is known without counting (as the service does).
        total = offset + len(rows)
    else:
        # The same conditions, renumbered for a statement without the page's two parameters.
        renumbered = PARAMETER.sub(
            lambda found: f"${int(found[1]) - 2}" if int(found[1]) > 3 else found[0], where
        )
        total = await pool.fetchval(f"SELECT count(*) FROM task WHERE {renumbered}", user, *filter_args)
    headers = {"X-Total-Count": str(total)}
    if offset + limit < total:
        headers["Link"] = (
            f'<{request.url.include_query_params(limit=limit, offset=offset + limit)}>; rel="next"'
        )
    now = datetime.now(UTC)
    return json_response([task_json(row, now) for row in rows], headers=headers)


async def json_body(request: Request) -> Any:
    if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "Request body too large (limit 1 MiB)")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "Request body too large (limit 1 MiB)")
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise ApiError(422, [{"loc": ["body"], "msg": "invalid JSON", "type": "json_invalid"}]) from None


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, [{"loc": ["body", field], "msg": message, "type": "value_error"}])


def text_field(data: dict[str, Any], name: str, *, limit: int, strip: bool) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, "Input should be a valid string")
    value = value.strip() if strip else value
    if len(value) > limit:
        raise invalid(name, f"String should have at most {limit} characters")
    if "\x00" in value:
        raise invalid(name, "must not contain NUL characters")
    return value


def creation(data: Any) -> tuple[str, str | None, str]:
    """Title, description and status of a create body, with the service's rules."""
    if not isinstance(data, dict):
        raise invalid("", "Input should be a valid dictionary")
    title = text_field(data, "title", limit=MAX_TITLE, strip=True)
    if not title:
        raise invalid(
            "title", "Field required" if title is None else "String should have at least 1 character"
        )
    description = text_field(data, "description", limit=MAX_DESCRIPTION, strip=False)
    status, completed = data.get("status"), data.get("completed")
    if status is not None and status not in STATUSES:
        raise invalid("status", f"Input should be {', '.join(map(repr, STATUSES))}")
    if completed is not None and not isinstance(completed, bool):
        raise invalid("completed", "Input should be a valid boolean")
    if status is not None and completed is not None and completed != (status == "completed"):
        raise invalid("", "'completed' and 'status' disagree")
    return title, description, status or ("completed" if completed else "pending")


async def create_task(request: Request) -> Response:
    user = caller(request)
    title, description, status = creation(await json_body(request))
    now = datetime.now(UTC)
    pool: asyncpg.Pool = request.app.state.pool
    # The service's quota, in its one statement: the user's task_quota row is locked and
    # checked, and the task inserted only while they are under the limit.
    row = await pool.fetchrow(
        "WITH slot AS (INSERT INTO task_quota (user_id, used) VALUES ($1::varchar, 0)"
        " ON CONFLICT (user_id) DO UPDATE SET used = task_quota.used WHERE task_quota.used < $6"
        " RETURNING user_id)"
        " INSERT INTO task (user_id, title, description, status, created_at, updated_at,"
        " title_folded, description_folded)"
        " SELECT slot.user_id, $2, $3, $4, $5, $5, $7, $8 FROM slot"
        f" RETURNING {COLUMNS}",
        user,
        title,
        description,
        status,
        now,
        request.app.state.max_tasks,
        title.casefold(),
        None if description is None else description.casefold(),
    )
    if row is None:
        limit = request.app.state.max_tasks
        raise ApiError(409, f"Task limit reached: a user may keep at most {limit} tasks")
    return json_response(task_json(row, now), 201, {"Location": f"{request.url.path}/{row['id']}"})


async def get_task(request: Request) -> Response:
    user = caller(request)
    row = await request.app.state.pool.fetchrow(
        f"SELECT {COLUMNS} FROM task WHERE id = $1 AND user_id = $2", task_id(request), user
    )
    if row is None:
        raise ApiError(404, "Task not found")
    return json_response(task_json(row, datetime.now(UTC)))


async def complete_task(request: Request) -> Response:
    user = caller(request)
    body = await json_body(request)
    completed = body.get("completed") if isinstance(body, dict) else None
    if body is not None and (not isinstance(body, dict) or not isinstance(completed, bool | None)):
        raise invalid("completed", "Input should be a valid boolean")
    # No body toggles; one UPDATE ... RETURNING, so concurrent toggles all count.
    status = TOGGLE if completed is None else ("'completed'" if completed else UNCOMPLETE)
    row = await request.app.state.pool.fetchrow(
        f"UPDATE task SET status = {status}, updated_at = $3 WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}",
        task_id(request),
        user,
        datetime.now(UTC),
    )
    if row is None:
        await missed_write(request, user)
    return json_response(task_json(row, datetime.now(UTC)))


async def delete_task(request: Request) -> Response:
    user = caller(request)
    deleted = await request.app.state.pool.fetchval(
        "DELETE FROM task WHERE id = $1 AND user_id = $2 RETURNING id", task_id(request), user
    )
    if deleted is None:
        await missed_write(request, user)
    return Response(status_code=204)


async def missed_write(request: Request, user: str) -> None:
    """A write matched nothing. The service then asks whether the task exists (to tell 404 from
    412); the ceiling asks too, so a miss costs both the same round trips."""
    await request.app.state.pool.fetchval(
        "SELECT id FROM task WHERE id = $1 AND user_id = $2", task_id(request), user
    )
    raise ApiError(404, "Task not found")


async def health(_request: Request) -> Response:
    return json_response({"status": "ok"})


async def api_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return json_response({"detail": error.detail}, error.status, error.headers)


async def keep_session(_connection: asyncpg.Connection) -> None:
    """No reset query on release, as in the service: requests leave no session state behind
    (asyncpg still rolls back an interrupted transaction first)."""


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    # As many connections as the service's pool may open (pool size + overflow).
    size = int(os.environ.get("DB_POOL_SIZE", "10")) + int(os.environ.get("DB_MAX_OVERFLOW", "10"))
    app.state.secret = os.environ["BETTER_AUTH_SECRET"]
    app.state.max_tasks = int(os.environ.get("MAX_TASKS_PER_USER", DEFAULT_MAX_TASKS))
    app.state.tokens = TokenCache()
    async with (
        asyncpg.create_pool(
            os.environ["DATABASE_URL"], min_size=1, max_size=size, command_timeout=10, reset=keep_session
        ) as pool,
        asyncpg.create_pool(
            os.environ["DATABASE_URL"],
            min_size=0,
            max_size=max(2, size // 4),
            command_timeout=10,
            reset=keep_session,
            init=plan_per_call,
        ) as search_pool,
    ):
        app.state.pool = pool
        app.state.search_pool = search_pool
        yield


async def plan_per_call(connection: asyncpg.Connection) -> None:
    """The service's search pool: each run of a statement planned with its values."""
    await connection.execute("SET plan_cache_mode = force_custom_plan")


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/api/tasks", list_tasks, methods=["GET"]),
        Route("/api/tasks", create_task, methods=["POST"]),
        Route("/api/tasks/{task_id:int}", get_task, methods=["GET"]),
        Route("/api/tasks/{task_id:int}", delete_task, methods=["DELETE"]),
        Route("/api/tasks/{task_id:int}/complete", complete_task, methods=["PATCH"]),
    ],
    exception_handlers={ApiError: api_error},
    lifespan=lifespan,
)


def main() -> None:
    """Serve the ceiling as the service is served: uvicorn, one worker, no access log."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        app, host=args.host, port=args.port, log_level="warning", access_log=False, server_header=False
    )


if __name__ == "__main__":
    main()
