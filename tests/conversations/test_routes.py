"""Listing, reading and deleting conversations, in both route families."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.conversations.conftest import ADD_MILK, ConversationApi
from todo_api.conversations import service
from todo_api.models import conversation_table, message_table, utc_now


async def test_a_new_user_has_no_conversations(api: ConversationApi) -> None:
    response = await api.list("alice")

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["x-total-count"] == "0"
    assert "link" not in response.headers


async def test_the_list_is_the_most_recently_active_first(api: ConversationApi) -> None:
    older = await api.start("alice", ("plan my week", "Here is your week."))
    newer = await api.start("alice", ("what is due today?", "Nothing."))
    # A new message makes the older conversation the most recent one.
    await api.turn("alice", older, "and tomorrow?", "The dentist.")

    listed = (await api.list("alice")).json()

    assert [conversation["id"] for conversation in listed] == [older, newer]
    assert listed[0]["title"] == "plan my week"
    assert listed[0]["message_count"] == 4
    assert listed[1]["message_count"] == 2
    assert set(listed[0]) == {"id", "title", "message_count", "created_at", "updated_at"}
    assert datetime.fromisoformat(listed[0]["updated_at"]) > datetime.fromisoformat(listed[0]["created_at"])


async def test_the_list_is_paginated_like_the_task_list(api: ConversationApi) -> None:
    ids = [await api.start("alice", (f"question {n}", "answer")) for n in range(5)]

    first = await api.list("alice", limit=2)
    second = await api.list("alice", limit=2, offset=2)
    last = await api.list("alice", limit=2, offset=4)
    beyond = await api.list("alice", limit=2, offset=10)

    newest_first = ids[::-1]
    assert [c["id"] for c in first.json()] == newest_first[:2]
    assert [c["id"] for c in second.json()] == newest_first[2:4]
    assert [c["id"] for c in last.json()] == newest_first[4:]
    assert beyond.json() == []
    assert {r.headers["x-total-count"] for r in (first, second, last, beyond)} == {"5"}
    assert first.headers["link"] == f'<http://testserver{api.url("alice")}?limit=2&offset=2>; rel="next"'
    assert second.headers["link"].endswith('?limit=2&offset=4>; rel="next"')
    assert "link" not in last.headers


async def test_a_page_just_past_the_end_still_counts_the_total(api: ConversationApi) -> None:
    await api.start("alice")

    past = await api.list("alice", limit=1, offset=1)

    assert past.json() == []
    assert past.headers["x-total-count"] == "1"


async def test_ties_in_activity_are_broken_by_id(api: ConversationApi) -> None:
    ids = [await api.start("alice") for _ in range(3)]
    # The same moment for all three: the order must still be total, so pages never overlap.
    async with api.database.autocommit() as connection:
        await connection.fetch(
            sa.update(conversation_table).values(updated_at=datetime(2026, 1, 1, tzinfo=UTC))
        )

    pages = [(await api.list("alice", limit=1, offset=n)).json() for n in range(3)]
    whole = (await api.list("alice", limit=3)).json()

    assert [page[0]["id"] for page in pages] == ids[::-1]
    assert [conversation["id"] for conversation in whole] == ids[::-1]


async def test_a_conversation_comes_with_its_messages_in_order(api: ConversationApi) -> None:
    conversation_id = await api.start("alice", ("hello", "Hi! How can I help?"))
    await api.turn(
        "alice", conversation_id, "add buy milk, high priority", "Added it.", tool_calls=[ADD_MILK]
    )

    response = await api.get("alice", conversation_id)

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("id", "title", "message_count")} == {
        "id": conversation_id,
        "title": "hello",
        "message_count": 4,
    }
    messages = body["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "hello"),
        ("assistant", "Hi! How can I help?"),
        ("user", "add buy milk, high priority"),
        ("assistant", "Added it."),
    ]
    assert [m["tool_calls"] for m in messages] == [[], [], [], [ADD_MILK.model_dump(mode="json")]]
    assert [m["unanswered"] for m in messages] == [False] * 4
    assert messages == sorted(messages, key=lambda m: m["id"])
    assert set(messages[0]) == {"id", "role", "content", "tool_calls", "unanswered", "created_at"}
    assert "link" not in response.headers


async def test_a_conversations_messages_are_paged_from_the_latest_back(api: ConversationApi) -> None:
    conversation_id = await api.start("alice", *[(f"q{n}", f"a{n}") for n in range(3)])

    latest = await api.get("alice", conversation_id, limit=4)
    link = latest.headers["link"]
    before = latest.json()["messages"][0]["id"]
    older = await api.get("alice", conversation_id, limit=4, before=before)

    assert [m["content"] for m in latest.json()["messages"]] == ["q1", "a1", "q2", "a2"]
    assert link == (
        f'<http://testserver{api.url("alice", conversation_id)}?limit=4&before={before}>; rel="next"'
    )
    assert [m["content"] for m in older.json()["messages"]] == ["q0", "a0"]
    assert "link" not in older.headers
    assert older.json()["message_count"] == 6


async def test_a_page_of_exactly_the_remaining_messages_has_no_next_link(api: ConversationApi) -> None:
    conversation_id = await api.start("alice", ("q0", "a0"), ("q1", "a1"))

    response = await api.get("alice", conversation_id, limit=4)

    assert len(response.json()["messages"]) == 4
    assert "link" not in response.headers


async def test_an_unanswered_message_is_shown_as_such(api: ConversationApi) -> None:
    conversation_id = await api.start("alice")
    asked = await service.add_user_message(
        api.database, user_id="alice", conversation_id=conversation_id, content="are you there?"
    )
    await service.mark_unanswered(api.database, user_id="alice", message_id=asked["message_id"])

    messages = (await api.get("alice", conversation_id)).json()["messages"]

    assert [(m["content"], m["unanswered"]) for m in messages] == [
        ("hello", False),
        ("hi", False),
        ("are you there?", True),
    ]


async def test_deleting_a_conversation_deletes_its_messages(api: ConversationApi) -> None:
    kept = await api.start("alice", ("keep me", "kept"))
    deleted = await api.start("alice", ("forget me", "forgotten"), ("and this", "gone"))

    response = await api.call("DELETE", "alice", deleted)
    again = await api.call("DELETE", "alice", deleted)
    after = await api.get("alice", deleted)

    assert (response.status_code, response.content) == (204, b"")
    assert (again.status_code, again.json()) == (404, {"detail": "Conversation not found"})
    assert after.status_code == 404
    assert [c["id"] for c in (await api.list("alice")).json()] == [kept]
    async with api.database.autocommit() as connection:
        left = await connection.fetch(sa.select(message_table.c.conversation_id, message_table.c.content))
    assert sorted((row["conversation_id"], row["content"]) for row in left) == [
        (kept, "keep me"),
        (kept, "kept"),
    ]


async def test_a_conversation_without_messages_has_an_empty_list(api: ConversationApi) -> None:
    # Not something the chat endpoint leaves behind, but a conversation's read must not need one.
    async with api.database.autocommit() as connection:
        [row] = await connection.fetch(
            sa.insert(conversation_table)
            .values(user_id="alice", created_at=utc_now(), updated_at=utc_now())
            .returning(conversation_table.c.id)
        )

    body = (await api.get("alice", row["id"])).json()

    assert (body["title"], body["message_count"], body["messages"]) == (None, 0, [])


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"before": 0}, "before"),
        ({"before": 2**31}, "before"),
    ],
)
async def test_invalid_message_paging_is_a_400_naming_the_parameter(
    api: ConversationApi, params: dict[str, object], named: str
) -> None:
    conversation_id = await api.start("alice")

    response = await api.get("alice", conversation_id, **params)

    assert response.status_code == 400
    assert named in response.json()["detail"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"offset": -1}, {"offset": 2**31}])
async def test_invalid_list_paging_is_a_400(api: ConversationApi, params: dict[str, object]) -> None:
    response = await api.list("alice", **params)

    assert response.status_code == 400


@pytest.mark.parametrize("conversation_id", ["0", "01", "+1", "2147483648", "99999999999"])
async def test_a_conversation_id_that_names_no_row_is_a_404(
    api: ConversationApi, conversation_id: str
) -> None:
    await api.start("alice")

    response = await api.call("GET", "alice", conversation_id)

    assert response.status_code == 404
