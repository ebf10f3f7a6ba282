"""Task routes: typed signatures and one service call each.

The same handlers serve two route families, `/api/tasks` and `/api/{user_id}/tasks`;
`build_router` registers them under one prefix, so each route knows its full path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response, status
from fastapi.params import Depends
from fastapi.routing import APIRoute

from todo_api.auth import CurrentUser
from todo_api.database import ConnectionDep
from todo_api.tasks import service
from todo_api.tasks.dependencies import IfMatch, TaskId, TaskQuota, etag_for, next_page_link
from todo_api.tasks.schemas import (
    CompletionChange,
    ErrorDetail,
    SortKey,
    StatusFilter,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorDetail, "description": description}


ETAG_HEADER = {"ETag": {"description": "The task's version, for If-Match.", "schema": {"type": "string"}}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: _error("No such task for this user (another user's task is reported the same way).")
}
WITH_BODY: dict[int | str, dict[str, Any]] = {
    400: _error("The body could not be read as JSON text (for example, not UTF-8)."),
    415: _error("The body is not JSON (Content-Type must be application/json)."),
    422: {"description": "The body failed validation; `detail` lists each problem."},
}
CONDITIONAL: dict[int | str, dict[str, Any]] = {
    412: _error("If-Match was sent and the task has changed since (nothing was written)."),
}


async def list_tasks(
    *,
    request: Request,
    response: Response,
    connection: ConnectionDep,
    user: CurrentUser,
    status: Annotated[
        StatusFilter, Query(description="One of: all, pending, in_progress, completed.")
    ] = "all",
    sort: Annotated[
        SortKey,
        Query(description="One of: created_at, updated_at, title, status; prefix '-' for descending."),
    ] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=1000, description="An integer from 1 to 1000.")] = 100,
    # Bounded so a huge offset is a 400, not an integer the database cannot take.
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="An integer from 0 to 2147483647.")] = 0,
) -> list[TaskPublic]:
    """The caller's tasks, filtered, sorted and paginated."""
    page = await service.list_tasks(
        connection, user_id=user.id, status=status, sort=sort, limit=limit, offset=offset
    )
    response.headers["X-Total-Count"] = str(page.total)
    if link := next_page_link(request.url, limit=limit, offset=offset, total=page.total):
        response.headers["Link"] = link
    return page.items


async def create_task(
    *,
    request: Request,
    response: Response,
    connection: ConnectionDep,
    user: CurrentUser,
    quota: TaskQuota,
    body: TaskCreate,
) -> TaskPublic:
    """Create a task owned by the caller."""
    task = await service.create_task(connection, user_id=user.id, data=body, max_tasks=quota)
    response.headers["Location"] = f"{request.url.path}/{task.id}"
    response.headers["ETag"] = etag_for(task)
    return task


async def get_task(
    task_id: TaskId, response: Response, connection: ConnectionDep, user: CurrentUser
) -> TaskPublic:
    """One of the caller's tasks."""
    task = await service.get_task(connection, user_id=user.id, task_id=task_id)
    response.headers["ETag"] = etag_for(task)
    return task


async def update_task(
    *,
    task_id: TaskId,
    response: Response,
    connection: ConnectionDep,
    user: CurrentUser,
    if_match: IfMatch,
    body: TaskUpdate,
) -> TaskPublic:
    """Apply the fields present in the body (PUT and PATCH alike)."""
    task = await service.update_task(
        connection, user_id=user.id, task_id=task_id, changes=body, if_match=if_match
    )
    response.headers["ETag"] = etag_for(task)
    return task


async def complete_task(
    *,
    task_id: TaskId,
    response: Response,
    connection: ConnectionDep,
    user: CurrentUser,
    if_match: IfMatch,
    body: Annotated[CompletionChange | None, Body()] = None,
) -> TaskPublic:
    """Toggle completion, or set it with `{"completed": true|false}`; atomic."""
    completed = body.completed if body is not None else None
    task = await service.set_completed(
        connection, user_id=user.id, task_id=task_id, completed=completed, if_match=if_match
    )
    response.headers["ETag"] = etag_for(task)
    return task


async def delete_task(
    task_id: TaskId, connection: ConnectionDep, user: CurrentUser, if_match: IfMatch
) -> None:
    """Delete one of the caller's tasks."""
    await service.delete_task(connection, user_id=user.id, task_id=task_id, if_match=if_match)


def build_router(
    prefix: str,
    *,
    operation_suffix: str = "",
    dependencies: Sequence[Depends] = (),
    responses: dict[int | str, dict[str, Any]] | None = None,
) -> APIRouter:
    """Register every task route under `prefix`."""

    def operation_id(route: APIRoute) -> str:
        return f"{route.name}{operation_suffix}"

    router = APIRouter(
        prefix=prefix,
        tags=["tasks"],
        dependencies=dependencies,
        responses=responses,
        generate_unique_id_function=operation_id,
    )
    router.add_api_route(
        "",
        list_tasks,
        methods=["GET"],
        summary="List your tasks",
        responses={
            200: {
                "headers": {
                    "X-Total-Count": {
                        "description": "Tasks matching the filter.",
                        "schema": {"type": "integer"},
                    },
                    "Link": {
                        "description": 'rel="next" link while more remain.',
                        "schema": {"type": "string"},
                    },
                }
            },
            400: _error("A query parameter is invalid; `detail` names the allowed values."),
        },
    )
    router.add_api_route(
        "",
        create_task,
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        summary="Create a task",
        responses={
            201: {
                "headers": {
                    "Location": {"description": "The new task's URL.", "schema": {"type": "string"}},
                    **ETAG_HEADER,
                }
            },
            409: _error("The user already has the maximum number of tasks."),
            **WITH_BODY,
        },
    )
    router.add_api_route(
        "/{task_id}",
        get_task,
        methods=["GET"],
        summary="Get a task",
        responses={200: {"headers": ETAG_HEADER}, **NOT_FOUND},
    )
    for method in ("PUT", "PATCH"):
        router.add_api_route(
            "/{task_id}",
            update_task,
            methods=[method],
            name=f"{method.lower()}_task",
            summary="Update a task",
            responses={200: {"headers": ETAG_HEADER}, **NOT_FOUND, **CONDITIONAL, **WITH_BODY},
        )
    router.add_api_route(
        "/{task_id}/complete",
        complete_task,
        methods=["PATCH"],
        summary="Toggle or set completion",
        responses={200: {"headers": ETAG_HEADER}, **NOT_FOUND, **CONDITIONAL, **WITH_BODY},
    )
    router.add_api_route(
        "/{task_id}",
        delete_task,
        methods=["DELETE"],
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Delete a task",
        responses={**NOT_FOUND, **CONDITIONAL},
    )
    return router
