"""Task routes: a typed signature and one service call each; the service owns the unit of work.

The same handlers serve two route families, `/api/tasks` and `/api/{user_id}/tasks`;
`families.route_families` registers them under each prefix, so each route knows its full path.

A write's service call is wrapped in a function of the database it runs on, which the route
hands to `idempotency.answer`: with an Idempotency-Key the call runs on the transaction that
stores its answer with the key (or is not run at all, and the stored answer replayed); without
one, on the app's database as it is.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request, Response, status
from fastapi.openapi.models import Example

from todo_api.auth import CurrentUser
from todo_api.db.connection import Database
from todo_api.db.query import Row
from todo_api.families import route_families
from todo_api.http_errors import documented
from todo_api.idempotency.dependencies import REPLAYED_HEADER, IdempotencyKey, idempotent_responses
from todo_api.models import utc_now
from todo_api.paging import PageLimit, PageOffset, page_headers, page_headers_openapi
from todo_api.state import DatabaseDep
from todo_api.tasks import service, tag_router
from todo_api.tasks.dependencies import (
    LIST_PARAMETERS_OPENAPI,
    UNFILTERED,
    IfMatch,
    SyncSince,
    TaskFilterDep,
    TaskId,
    TaskQuota,
)
from todo_api.tasks.errors import InvalidListParameter
from todo_api.tasks.listing import reminder_horizon
from todo_api.tasks.schemas import (
    CompletionChange,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
    dump_task,
    dump_tasks,
    etag_for,
    public_fields,
)

JSON = "application/json"
# A task deleted since a sync token, in the changes since it.
TOMBSTONE = {"deleted": True}
# Where the user's changes stood when a list was read: `since` (and the events stream's
# `last_event_id`) take it back, to get every change after that list.
SYNC_TOKEN_HEADER = "X-Sync-Token"  # noqa: S105 (a header name, not a secret)
# The first path segment of both families, /api/tasks and /api/{user_id}/tasks, which the
# edge guards.
COLLECTION = "tasks"
# Every collection of the feature, for the edge.
COLLECTIONS = (COLLECTION, tag_router.COLLECTION)

ETAG_HEADER = {"ETag": {"description": "The task's version, for If-Match.", "schema": {"type": "string"}}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: documented("No such task for this user (another user's task is reported the same way).")
}
WITH_BODY: dict[int | str, dict[str, Any]] = {
    400: documented("The body could not be read as JSON text (for example, not UTF-8)."),
    415: documented("The body is not JSON (Content-Type must be application/json)."),
    422: {"description": "The body failed validation; `detail` lists each problem."},
}
CONDITIONAL: dict[int | str, dict[str, Any]] = {
    412: documented("If-Match was sent and the task has changed since (nothing was written)."),
}


# What Swagger UI's "Try it out" fills in (the first of each) and ReDoc shows: bodies a person
# would type, each of which succeeds as shown (tests/test_docs.py sends every one). Without
# them, Swagger UI makes one up from the schema, with a `status` and a `completed` that disagree.
CREATE_EXAMPLES: dict[str, Example] = {
    "with_details": {
        "summary": "A task with details",
        "value": {"title": "Buy milk", "description": "2 litres, semi-skimmed"},
    },
    "title_only": {"summary": "Just a title", "value": {"title": "Call the dentist"}},
    "in_progress": {
        "summary": "A task already started",
        "value": {"title": "Write the quarterly report", "status": "in_progress"},
    },
    "high_priority": {
        "summary": "An important task (priority: low, medium, high or urgent)",
        "value": {"title": "Renew the passport", "priority": "high"},
    },
    "all_day": {
        "summary": "Due on a day (an all-day task)",
        "value": {"title": "Pay the rent", "due_date": "2026-12-31"},
    },
    "local_time": {
        "summary": "Due at a local time, read in the task's time zone (what datetime-local sends)",
        "value": {"title": "Call the bank", "due_date": "2026-12-31T17:00", "timezone": "Europe/Berlin"},
    },
    "instant": {
        "summary": "Due at an instant (RFC 3339 with an offset), shown in the task's time zone",
        "value": {
            "title": "Submit the tax return",
            "due_at": "2026-12-31T23:59:00Z",
            "priority": "urgent",
            "timezone": "America/New_York",
        },
    },
    "priority_alias": {
        "summary": "Priority in another app's words (critical = urgent, normal = medium)",
        "value": {"title": "Fix the leaking tap", "priority": "critical"},
    },
}
UPDATE_EXAMPLES: dict[str, Example] = {
    "rename": {"summary": "Rename it", "value": {"title": "Buy oat milk"}},
    "start": {"summary": "Start working on it", "value": {"status": "in_progress"}},
    "complete": {"summary": "Mark it done", "value": {"completed": True}},
    "prioritise": {"summary": "Make it urgent", "value": {"priority": "urgent"}},
    "due": {"summary": "Set its due date (a day)", "value": {"due_date": "2026-12-24"}},
    "due_local": {
        "summary": "Set a due time in its time zone",
        "value": {"due_date": "2026-12-24T09:30", "timezone": "Europe/Paris"},
    },
    # No null in an example: FastAPI writes the document without None values, so
    # {"description": null} would be shown (and sent) as {}.
    "describe": {"summary": "Change its details", "value": {"description": "1 litre, from the corner shop"}},
}
COMPLETION_EXAMPLES: dict[str, Example] = {
    "complete": {"summary": "Mark it done", "value": {"completed": True}},
    "reopen": {"summary": "Mark it not done", "value": {"completed": False}},
    "toggle": {"summary": "Toggle it", "value": {}},
}


def _task_response(row: Row, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Written straight from the row; the routes declare TaskPublic as their response model.
    headers = {"ETag": etag_for(row)} | (headers or {})
    return Response(dump_task(row, now=utc_now()), status_code, headers, media_type=JSON)


async def list_tasks(
    *,
    request: Request,
    database: DatabaseDep,
    user: CurrentUser,
    listing: TaskFilterDep,
    since: SyncSince = None,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
) -> Response:
    """The caller's tasks, filtered, sorted and paginated; with `since`, what changed since then."""
    if since is not None:
        if listing is not UNFILTERED or offset:
            raise InvalidListParameter("since", SINCE_ALONE)
        return await _changes(request, database, user.id, since=since, limit=limit)
    page = await service.list_tasks(database, user_id=user.id, listing=listing, limit=limit, offset=offset)
    headers = page_headers(request.url, total=page.total, limit=limit, offset=offset)
    headers[SYNC_TOKEN_HEADER] = str(page.sync_token)
    return Response(dump_tasks(page.items, now=utc_now()), headers=headers, media_type=JSON)


SINCE_ALONE = "a sync returns every change, so it takes no filter, sort or offset (only limit)"


async def _changes(request: Request, database: Database, user_id: str, *, since: int, limit: int) -> Response:
    found = await service.changes_since(database, user_id=user_id, since=since, limit=limit)
    now = utc_now()
    body = [
        TOMBSTONE | {"id": task_id} if row is None else public_fields(row, now=now)
        for task_id, row in found.changes
    ]
    headers = {SYNC_TOKEN_HEADER: str(found.sync_token)}
    if found.more:
        following = request.url.include_query_params(since=found.sync_token)
        headers["Link"] = f'<{following}>; rel="next"'
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), headers=headers, media_type=JSON)


async def create_task(
    *,
    request: Request,
    database: DatabaseDep,
    user: CurrentUser,
    quota: TaskQuota,
    idempotency: IdempotencyKey,
    body: Annotated[TaskCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> Response:
    """Create a task owned by the caller."""

    async def create(database: Database) -> Response:
        task = await service.create_task(database, user_id=user.id, data=body, max_tasks=quota)
        location = {"Location": f"{request.url.path}/{task['id']}"}
        return _task_response(task, status.HTTP_201_CREATED, location)

    return await idempotency.answer(database, create)


async def get_task(task_id: TaskId, database: DatabaseDep, user: CurrentUser) -> Response:
    """One of the caller's tasks."""
    task = await service.get_task(database, user_id=user.id, task_id=task_id)
    return _task_response(task)


async def update_task(
    *,
    task_id: TaskId,
    database: DatabaseDep,
    user: CurrentUser,
    if_match: IfMatch,
    quota: TaskQuota,
    idempotency: IdempotencyKey,
    body: Annotated[TaskUpdate, Body(openapi_examples=UPDATE_EXAMPLES)],
) -> Response:
    """Apply the fields present in the body (PUT and PATCH alike)."""

    async def update(database: Database) -> Response:
        task = await service.update_task(
            database, user_id=user.id, task_id=task_id, changes=body, max_tasks=quota, if_match=if_match
        )
        return _task_response(task)

    return await idempotency.answer(database, update)


async def due_reminders(
    *,
    database: DatabaseDep,
    user: CurrentUser,
    until: Annotated[
        str | None,
        Query(
            description=(
                "An RFC 3339 date-time (2026-12-31T09:00:00Z; one without an offset is read in "
                "UTC); now when left out or empty."
            )
        ),
    ] = None,
    limit: PageLimit = 100,
) -> Response:
    """Your tasks whose reminder is due by `until` and not acknowledged (nor the task completed),
    the earliest first: for a frontend that polls to show notifications."""
    moment = reminder_horizon("until", until) if until else utc_now()
    rows = await service.due_reminders(database, user_id=user.id, until=moment, limit=limit)
    return Response(dump_tasks(rows, now=utc_now()), media_type=JSON)


async def acknowledge_reminder(
    task_id: TaskId, database: DatabaseDep, user: CurrentUser, idempotency: IdempotencyKey
) -> Response:
    """Acknowledge the task's reminder: it is no longer listed as due (a new reminder is)."""

    async def acknowledge(database: Database) -> Response:
        return _task_response(await service.acknowledge_reminder(database, user_id=user.id, task_id=task_id))

    return await idempotency.answer(database, acknowledge)


async def complete_task(
    *,
    task_id: TaskId,
    database: DatabaseDep,
    user: CurrentUser,
    if_match: IfMatch,
    quota: TaskQuota,
    idempotency: IdempotencyKey,
    body: Annotated[CompletionChange | None, Body(openapi_examples=COMPLETION_EXAMPLES)] = None,
) -> Response:
    """Toggle completion, or set it with `{"completed": true|false}`; atomic. Completing a
    recurring task adds its next occurrence (`next_task_id`)."""
    completed = body.completed if body is not None else None

    async def complete(database: Database) -> Response:
        task = await service.set_completed(
            database,
            user_id=user.id,
            task_id=task_id,
            completed=completed,
            max_tasks=quota,
            if_match=if_match,
        )
        return _task_response(task)

    return await idempotency.answer(database, complete)


async def delete_task(
    task_id: TaskId, database: DatabaseDep, user: CurrentUser, if_match: IfMatch, idempotency: IdempotencyKey
) -> Response:
    """Delete one of the caller's tasks."""

    async def delete(database: Database) -> Response:
        await service.delete_task(database, user_id=user.id, task_id=task_id, if_match=if_match)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return await idempotency.answer(database, delete)


def add_task_routes(router: APIRouter) -> None:
    """Register every task route on `router` (one family's)."""
    router.add_api_route(
        "",
        list_tasks,
        methods=["GET"],
        response_model=list[TaskPublic],
        summary="List your tasks",
        responses={
            **page_headers_openapi("Tasks matching the filter."),
            400: documented("A query parameter is invalid; `detail` names the allowed values."),
        },
        openapi_extra=LIST_PARAMETERS_OPENAPI,
    )
    router.add_api_route(
        "",
        create_task,
        methods=["POST"],
        response_model=TaskPublic,
        status_code=status.HTTP_201_CREATED,
        summary="Create a task",
        responses=idempotent_responses(
            {
                201: {
                    "headers": {
                        "Location": {"description": "The new task's URL.", "schema": {"type": "string"}},
                        **ETAG_HEADER,
                        **REPLAYED_HEADER,
                    }
                },
                409: documented("The user already has the maximum number of tasks."),
                **WITH_BODY,
            }
        ),
    )
    router.add_api_route(
        "/reminders",
        due_reminders,
        methods=["GET"],
        response_model=list[TaskPublic],
        summary="List your due reminders",
        responses={400: documented("A query parameter is invalid; `detail` says what it takes.")},
    )
    router.add_api_route(
        "/{task_id:digits}/reminders/ack",
        acknowledge_reminder,
        methods=["POST"],
        response_model=TaskPublic,
        summary="Acknowledge a task's reminder",
        responses=idempotent_responses({200: {"headers": ETAG_HEADER | REPLAYED_HEADER}, **NOT_FOUND}),
    )
    router.add_api_route(
        "/{task_id:digits}",
        get_task,
        methods=["GET"],
        response_model=TaskPublic,
        summary="Get a task",
        responses={200: {"headers": ETAG_HEADER}, **NOT_FOUND},
    )
    for method in ("PUT", "PATCH"):
        router.add_api_route(
            "/{task_id:digits}",
            update_task,
            methods=[method],
            response_model=TaskPublic,
            name=f"{method.lower()}_task",
            summary="Update a task",
            responses=idempotent_responses(
                {
                    200: {"headers": ETAG_HEADER | REPLAYED_HEADER},
                    **NOT_FOUND,
                    409: documented(
                        "remind_before_minutes for a task that has no due date (nothing was written)."
                    ),
                    **CONDITIONAL,
                    **WITH_BODY,
                }
            ),
        )
    router.add_api_route(
        "/{task_id:digits}/complete",
        complete_task,
        methods=["PATCH"],
        response_model=TaskPublic,
        summary="Toggle or set completion",
        responses=idempotent_responses(
            {200: {"headers": ETAG_HEADER | REPLAYED_HEADER}, **NOT_FOUND, **CONDITIONAL, **WITH_BODY}
        ),
    )
    router.add_api_route(
        "/{task_id:digits}",
        delete_task,
        methods=["DELETE"],
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Delete a task",
        responses=idempotent_responses({204: {"headers": REPLAYED_HEADER}, **NOT_FOUND, **CONDITIONAL}),
    )


def build_routers() -> list[APIRouter]:
    """Both families of the task and the tag routes."""
    return [
        *route_families(COLLECTION, add_task_routes),
        *route_families(tag_router.COLLECTION, tag_router.add_tag_routes),
    ]
