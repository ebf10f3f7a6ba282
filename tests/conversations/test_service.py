"""What the chat endpoint will call for each turn: starting a conversation, adding its messages,
marking a failed turn, and the bounded history it sends the model."""

from __future__ import annotations

import pytest

from tests.conversations.conftest import ADD_MILK, ConversationApi
from todo_api.conversations import service
from todo_api.conversations.errors import ConversationNotFound
from todo_api.conversations.service import TITLE_LENGTH, title_of


@pytest.fixture(params=["token-form"])
def one_family(api: ConversationApi) -> ConversationApi:
    """The service is the same whichever family reads it: one is enough here."""
    return api


async def test_starting_a_conversation_stores_the_first_message_and_a_title(
    one_family: ConversationApi,
) -> None:
    api = one_family
    started = await service.start_conversation(api.database, user_id="alice", content="  Plan\nmy   week ")

    body = (await api.get("alice", started["conversation_id"])).json()

    assert (started["role"], started["content"], started["unanswered"]) == (
        "user",
        "  Plan\nmy   week ",
        False,
    )
    assert body["title"] == "Plan my week"
    assert [m["id"] for m in body["messages"]] == [started["message_id"]]
    assert body["message_count"] == 1


def test_a_long_first_message_is_shortened_for_the_title() -> None:
    title = title_of("word " * 100)

    assert title is not None
    assert len(title) == TITLE_LENGTH
    assert title.endswith("…")
    assert title_of(" \n ") is None
    assert title_of("x" * TITLE_LENGTH) == "x" * TITLE_LENGTH


def test_a_title_cut_after_a_space_ends_with_the_word_before_it() -> None:
    # The cut falls just after a space: the title is the words before it, then the ellipsis.
    first = "x" * (TITLE_LENGTH - 2)

    assert title_of(f"{first} and more words") == first + "…"


async def test_an_answer_keeps_its_tool_calls(one_family: ConversationApi) -> None:
    api = one_family
    conversation_id = await api.start("alice")

    answer = await service.add_assistant_message(
        api.database,
        user_id="alice",
        conversation_id=conversation_id,
        content="Added.",
        tool_calls=[ADD_MILK],
    )

    assert answer["role"] == "assistant"
    assert answer["conversation_id"] == conversation_id
    last = (await api.get("alice", conversation_id)).json()["messages"][-1]
    assert last["tool_calls"] == [ADD_MILK.model_dump(mode="json")]


async def test_a_message_to_a_deleted_conversation_is_not_found(one_family: ConversationApi) -> None:
    api = one_family
    conversation_id = await api.start("alice")
    await service.delete_conversation(api.database, user_id="alice", conversation_id=conversation_id)

    with pytest.raises(ConversationNotFound):
        await service.add_assistant_message(
            api.database, user_id="alice", conversation_id=conversation_id, content="too late"
        )


async def test_marking_an_answer_unanswered_is_refused(one_family: ConversationApi) -> None:
    api = one_family
    conversation_id = await api.start("alice")
    answer_id = (await api.get("alice", conversation_id)).json()["messages"][1]["id"]

    with pytest.raises(ConversationNotFound):
        await service.mark_unanswered(api.database, user_id="alice", message_id=answer_id)


async def _history(
    api: ConversationApi, conversation_id: int, *, turns: int = 10, characters: int = 10_000
) -> list[str]:
    history = await service.recent_history(
        api.database,
        user_id="alice",
        conversation_id=conversation_id,
        max_turns=turns,
        max_characters=characters,
    )
    return [row["content"] for row in history]


async def test_the_history_is_the_latest_turns_oldest_first(one_family: ConversationApi) -> None:
    api = one_family
    conversation_id = await api.start("alice", *[(f"q{n}", f"a{n}") for n in range(4)])

    assert await _history(api, conversation_id) == ["q0", "a0", "q1", "a1", "q2", "a2", "q3", "a3"]
    assert await _history(api, conversation_id, turns=2) == ["q2", "a2", "q3", "a3"]


async def test_the_history_includes_the_question_being_answered(one_family: ConversationApi) -> None:
    api = one_family
    conversation_id = await api.start("alice", ("q0", "a0"))
    await service.add_user_message(
        api.database, user_id="alice", conversation_id=conversation_id, content="q1"
    )

    assert await _history(api, conversation_id, turns=1) == ["q1"]
    assert await _history(api, conversation_id, turns=2) == ["q0", "a0", "q1"]


async def test_the_history_is_bounded_by_characters_and_starts_with_a_question(
    one_family: ConversationApi,
) -> None:
    api = one_family
    conversation_id = await api.start("alice", ("q" * 10, "a" * 10), ("Q" * 10, "A" * 10))

    # 30 characters hold the last answer and question, and the answer before them, which
    # alone would start the history without its question: it is left out.
    assert await _history(api, conversation_id, characters=30) == ["Q" * 10, "A" * 10]
    assert await _history(api, conversation_id, characters=40) == ["q" * 10, "a" * 10, "Q" * 10, "A" * 10]
    assert await _history(api, conversation_id, characters=9) == []


async def test_the_history_counts_tool_calls_as_characters(one_family: ConversationApi) -> None:
    api = one_family
    conversation_id = await api.start("alice", ("q0", "a0"))
    await api.turn("alice", conversation_id, "q1", "a1", tool_calls=[ADD_MILK])

    stored = len(ADD_MILK.model_dump_json()) + 2  # in a JSON list
    last_turn = len("q1") + len("a1") + stored

    # Without the tool calls counted, one character less would still hold every message.
    assert await _history(api, conversation_id, characters=last_turn) == ["q1", "a1"]
    assert await _history(api, conversation_id, characters=last_turn - 1) == []


async def test_questions_still_being_answered_count_as_turns(one_family: ConversationApi) -> None:
    # Tabs sending at once: questions stored, not answered yet. The latest messages read (twice
    # the turns) can then hold more questions than turns; only the latest questions are sent.
    api = one_family
    conversation_id = await api.start("alice", ("q0", "a0"))
    for content in ("q1", "q2", "q3"):
        await service.add_user_message(
            api.database, user_id="alice", conversation_id=conversation_id, content=content
        )

    assert await _history(api, conversation_id, turns=2) == ["q2", "q3"]
    assert await _history(api, conversation_id, turns=3) == ["q1", "q2", "q3"]
