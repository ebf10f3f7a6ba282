"""Conversation routes: a typed signature and one service call each; the service owns the unit of
work. Conversations are started and continued by the chat endpoint; these routes read and
delete them, in the same two route families as tasks (`todo_api.families`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from todo_api.auth import CurrentUser
from todo_api.conversations import service
from todo_api.conversations.dependencies import ConversationId, MessageCursor
from todo_api.conversations.schemas import (
    ConversationDetail,
    ConversationPublic,
    dump_conversation,
    dump_conversations,
)
from todo_api.families import route_families
from todo_api.http_errors import documented
from todo_api.paging import PageLimit, PageOffset, link_to, page_headers, page_headers_openapi
from todo_api.state import DatabaseDep

JSON = "application/json"
# The first path segment of both families, which the edge guards.
COLLECTION = "conversations"
COLLECTIONS = (COLLECTION,)

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: documented(
        "No such conversation for this user (another user's conversation is reported the same way)."
    )
}
BAD_QUERY: dict[int | str, dict[str, Any]] = {
    400: documented("A query parameter is invalid; `detail` says what it takes.")
}


async def list_conversations(
    *,
    request: Request,
    database: DatabaseDep,
    user: CurrentUser,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
) -> Response:
    """Your conversations, the most recently active first, paginated as the task list is."""
    page = await service.list_conversations(database, user_id=user.id, limit=limit, offset=offset)
    headers = page_headers(request.url, total=page.total, limit=limit, offset=offset)
    return Response(dump_conversations(page.items), headers=headers, media_type=JSON)


async def get_conversation(
    *,
    request: Request,
    conversation_id: ConversationId,
    database: DatabaseDep,
    user: CurrentUser,
    limit: PageLimit = 100,
    before: MessageCursor = None,
) -> Response:
    """One of your conversations with its latest `limit` messages, oldest first; while older
    ones remain, `Link: <…?before=…>; rel="next"` names the page before them."""
    found = await service.get_conversation(
        database, user_id=user.id, conversation_id=conversation_id, limit=limit, before=before
    )
    headers = {}
    if found.older:
        headers["Link"] = link_to(request.url, "next", limit=limit, before=found.messages[0]["message_id"])
    return Response(dump_conversation(found.conversation, found.messages), headers=headers, media_type=JSON)


async def delete_conversation(
    conversation_id: ConversationId, database: DatabaseDep, user: CurrentUser
) -> Response:
    """Delete one of your conversations and all its messages."""
    await service.delete_conversation(database, user_id=user.id, conversation_id=conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def add_conversation_routes(router: APIRouter) -> None:
    """Register every conversation route on `router` (one family's)."""
    router.add_api_route(
        "",
        list_conversations,
        methods=["GET"],
        response_model=list[ConversationPublic],
        summary="List your conversations",
        responses={**page_headers_openapi("All your conversations."), **BAD_QUERY},
    )
    router.add_api_route(
        "/{conversation_id:digits}",
        get_conversation,
        methods=["GET"],
        response_model=ConversationDetail,
        summary="Get a conversation with its messages",
        responses={
            200: {
                "headers": {
                    "Link": {
                        "description": 'rel="next" link to the older messages while some remain.',
                        "schema": {"type": "string"},
                    }
                }
            },
            **BAD_QUERY,
            **NOT_FOUND,
        },
    )
    router.add_api_route(
        "/{conversation_id:digits}",
        delete_conversation,
        methods=["DELETE"],
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Delete a conversation",
        responses=NOT_FOUND,
    )


def build_routers() -> list[APIRouter]:
    """Both families of the conversation routes."""
    return route_families(COLLECTION, add_conversation_routes)
