"""Tag routes: the caller's tags with their task counts, and renaming or removing one across
all of the caller's tasks in one request. Like the task routes, under `/api/tags` and
`/api/{user_id}/tags`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response, status
from fastapi.openapi.models import Example

from todo_api.auth import CurrentUser
from todo_api.db.connection import Database
from todo_api.http_errors import documented
from todo_api.idempotency.dependencies import REPLAYED_HEADER, IdempotencyKey, idempotent_responses
from todo_api.state import DatabaseDep
from todo_api.tasks import service
from todo_api.tasks.schemas import TagPublic, TagRename

# The first path segment of both families, which the edge guards.
COLLECTION = "tags"

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: documented("None of your tasks has this tag.")}
WITH_BODY: dict[int | str, dict[str, Any]] = {
    400: documented("The body could not be read as JSON text (for example, not UTF-8)."),
    415: documented("The body is not JSON (Content-Type must be application/json)."),
    422: {"description": "The new name breaks the rules of tag names; `detail` says which."},
}
TagInPath = Annotated[str, Path(description="The tag's name, in any case.")]
RENAME_EXAMPLES: dict[str, Example] = {
    "rename": {"summary": "Rename it", "value": {"name": "errands"}},
}


async def list_tags(database: DatabaseDep, user: CurrentUser) -> list[TagPublic]:
    """Your tags, by name, each with how many of your tasks have it."""
    counted = await service.list_tags(database, user_id=user.id)
    return [TagPublic(name=name, task_count=count) for name, count in counted]


async def rename_tag(
    *,
    name: TagInPath,
    database: DatabaseDep,
    user: CurrentUser,
    idempotency: IdempotencyKey,
    body: Annotated[TagRename, Body(openapi_examples=RENAME_EXAMPLES)],
) -> Response:
    """Rename a tag on every one of your tasks that has it, at once."""

    async def rename(database: Database) -> Response:
        count = await service.rename_tag(database, user_id=user.id, name=name, new_name=body.name)
        tag = TagPublic(name=body.name, task_count=count)
        return Response(tag.model_dump_json(), media_type="application/json")

    return await idempotency.answer(database, rename)


async def delete_tag(
    name: TagInPath, database: DatabaseDep, user: CurrentUser, idempotency: IdempotencyKey
) -> Response:
    """Remove a tag from every one of your tasks that has it, at once (the tasks stay)."""

    async def remove(database: Database) -> Response:
        await service.remove_tag(database, user_id=user.id, name=name)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return await idempotency.answer(database, remove)


def add_tag_routes(router: APIRouter) -> None:
    """Register every tag route on `router` (one family's)."""
    router.add_api_route(
        "", list_tags, methods=["GET"], response_model=list[TagPublic], summary="List your tags"
    )
    router.add_api_route(
        "/{name:path}",
        rename_tag,
        methods=["PATCH"],
        response_model=TagPublic,
        summary="Rename a tag on all your tasks",
        responses=idempotent_responses({200: {"headers": REPLAYED_HEADER}, **NOT_FOUND, **WITH_BODY}),
    )
    router.add_api_route(
        "/{name:path}",
        delete_tag,
        methods=["DELETE"],
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Remove a tag from all your tasks",
        responses=idempotent_responses({204: {"headers": REPLAYED_HEADER}, **NOT_FOUND}),
    )
