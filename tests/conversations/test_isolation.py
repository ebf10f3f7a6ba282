"""Two users never see, read, extend or delete each other's conversations, through any route of
either family or any service function the chat endpoint will call; another user's conversation
is a 404 identical to a missing one, as a task is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.conversations.conftest import ConversationApi
from todo_api.conversations import service
from todo_api.conversations.errors import ConversationNotFound

ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("GET", {}),
    ("GET", {"params": {"limit": 1}}),
    ("GET", {"params": {"before": 2**31 - 1}}),
    ("DELETE", {}),
]


@pytest.mark.parametrize(("method", "kwargs"), ROUTES)
async def test_other_users_conversation_is_not_found_and_unchanged(
    api: ConversationApi, method: str, kwargs: dict[str, Any]
) -> None:
    victim = await api.start("alice", ("my secret plans", "noted"))
    before = await api.get("alice", victim)

    response = await api.call(method, "bob", victim, **kwargs)

    assert response.status_code == 404
    assert response.json() == {"detail": "Conversation not found"}
    assert "secret" not in response.text
    after = await api.get("alice", victim)
    assert after.status_code == 200
    assert after.json() == before.json()


async def test_other_users_conversation_looks_exactly_like_a_missing_one(api: ConversationApi) -> None:
    victim = await api.start("alice")

    existing = await api.get("bob", victim)
    missing = await api.get("bob", victim + 1000)

    assert (existing.status_code, existing.headers.get("content-type"), existing.json()) == (
        missing.status_code,
        missing.headers.get("content-type"),
        missing.json(),
    )


async def test_lists_show_only_the_callers_conversations(api: ConversationApi) -> None:
    alices = [await api.start("alice"), await api.start("alice")]
    bobs = [await api.start("bob")]

    alice = await api.list("alice")
    bob = await api.list("bob")

    assert [c["id"] for c in alice.json()] == alices[::-1]
    assert alice.headers["x-total-count"] == "2"
    assert [c["id"] for c in bob.json()] == bobs
    assert bob.headers["x-total-count"] == "1"


ServiceCall = Callable[[ConversationApi, int], Awaitable[object]]
# What the chat endpoint will do with a conversation id it is sent: each as bob, on alice's.
SERVICE_CALLS: dict[str, ServiceCall] = {
    "add a user message": lambda api, victim: service.add_user_message(
        api.database, user_id="bob", conversation_id=victim, content="injected"
    ),
    "add an answer": lambda api, victim: service.add_assistant_message(
        api.database, user_id="bob", conversation_id=victim, content="injected"
    ),
    "read the history": lambda api, victim: service.recent_history(
        api.database, user_id="bob", conversation_id=victim, max_turns=10, max_characters=10_000
    ),
    "read it": lambda api, victim: service.get_conversation(
        api.database, user_id="bob", conversation_id=victim, limit=10
    ),
    "delete it": lambda api, victim: service.delete_conversation(
        api.database, user_id="bob", conversation_id=victim
    ),
}


@pytest.mark.parametrize("call", SERVICE_CALLS.values(), ids=SERVICE_CALLS.keys())
async def test_the_service_refuses_another_users_conversation(
    api: ConversationApi, call: ServiceCall
) -> None:
    victim = await api.start("alice", ("mine", "yours"))
    before = await api.get("alice", victim)

    with pytest.raises(ConversationNotFound):
        await call(api, victim)

    assert (await api.get("alice", victim)).json() == before.json()


async def test_another_users_message_cannot_be_marked_unanswered(api: ConversationApi) -> None:
    victim = await api.start("alice")
    message_id = (await api.get("alice", victim)).json()["messages"][0]["id"]

    with pytest.raises(ConversationNotFound):
        await service.mark_unanswered(api.database, user_id="bob", message_id=message_id)

    assert (await api.get("alice", victim)).json()["messages"][0]["unanswered"] is False


async def test_the_path_user_must_be_the_tokens(
    client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], api: ConversationApi
) -> None:
    victim = await api.start("alice")

    responses = [
        await client.get("/api/alice/conversations", headers=auth("bob")),
        await client.get(f"/api/alice/conversations/{victim}", headers=auth("bob")),
        await client.delete(f"/api/alice/conversations/{victim}", headers=auth("bob")),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [
        (403, {"detail": "The user id in the path does not match the token"})
    ] * 3
    assert (await api.get("alice", victim)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/conversations"),
        ("GET", "/api/conversations/1"),
        ("DELETE", "/api/conversations/1"),
        ("GET", "/api/alice/conversations"),
        ("GET", "/api/alice/conversations/1"),
        ("DELETE", "/api/alice/conversations/1"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
async def test_without_a_valid_token_every_route_is_a_401(
    api: ConversationApi, client: httpx.AsyncClient, method: str, path: str, authorization: str | None
) -> None:
    conversation_id = await api.start("alice")
    assert conversation_id == 1  # the id the paths name: a conversation that exists
    headers = {"Authorization": authorization} if authorization else {}

    response = await client.request(method, path, headers=headers)

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert (await api.get("alice", conversation_id)).status_code == 200
