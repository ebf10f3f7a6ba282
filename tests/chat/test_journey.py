"""The chat endpoint's whole journey, as issue 28 states it: a user asks for a task due tomorrow,
asks what is due this week, then marks it done, and the service restarts between the turns.

The scripted model answers as a real one would: it reads today's date and the user's time zone
from its instructions, the task's id from the tool results in the conversation it is sent, and
words its answers from those results.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.chat.conftest import chat_app
from tests.chat.model_server import Call, Received, Say, ScriptedModel, Think

# Fourteen hours ahead of UTC: for most of the day its "tomorrow" is not UTC's.
ZONE = "Pacific/Kiritimati"
NOW = re.compile(r"It is now \w+ (\d{4}-\d{2}-\d{2}) \d{2}:\d{2} in the user's time zone, ([\w/+-]+):")


def today_and_zone(received: Received) -> tuple[date, str]:
    """The date and time zone the model's instructions give."""
    found = NOW.search(received.instructions)
    assert found is not None, "the instructions name today's date and the user's time zone"
    return date.fromisoformat(found[1]), found[2]


def add_tomorrow(received: Received) -> Call:
    today, zone = today_and_zone(received)
    tomorrow = (today + timedelta(days=1)).isoformat()
    arguments = {"title": "Buy milk", "priority": "high", "due_date": tomorrow, "timezone": zone}
    return Call(("add_task", arguments))


def say_added(received: Received) -> Say:
    task = received.tool_results()[-1]
    return Say(f'Added "{task["title"]}", due {task["due_date"]}, {task["priority"]} priority.')


def list_this_week(received: Received) -> Call:
    # "This week" read as the seven days from today, so tomorrow is in it on a Sunday too.
    today, _ = today_and_zone(received)
    week = {"due_date_from": today.isoformat(), "due_date_to": (today + timedelta(days=6)).isoformat()}
    return Call(("list_tasks", week))


def say_listed(received: Received) -> Say:
    tasks = received.tool_results()[-1]["tasks"]
    return Say("Due this week: " + "; ".join(f"{t['title']} on {t['due_date']}" for t in tasks) + ".")


def complete_the_added_one(received: Received) -> Call:
    # "It" is the task added earlier in this conversation: its id is in the first tool result.
    added = received.tool_results()[0]
    return Call(("complete_task", {"task_id": added["id"], "completed": True}))


def say_completed(received: Received) -> Say:
    task = received.tool_results()[-1]
    return Say(f'Marked "{task["title"]}" done.')


def local_today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()


async def test_add_ask_and_complete_across_restarts(
    database_url: str, model: ScriptedModel, auth: Callable[[str], dict[str, str]]
) -> None:
    model.answer(
        Think(add_tomorrow),
        Think(say_added),
        Think(list_this_week),
        Think(say_listed),
        Think(complete_the_added_one),
        Think(say_completed),
    )
    answers: list[dict[str, Any]] = []
    conversation_id: int | None = None
    before = local_today()
    for message in ("add buy milk tomorrow with high priority", "what's due this week?", "mark it done"):
        # A new instance of the service for each turn, on the same database: nothing of the
        # conversation is in memory.
        async with chat_app(database_url, model, auth) as (_, chat):
            answer = await chat.ok("alice", message, conversation_id, timezone=ZONE)
        conversation_id = answer["conversation_id"]
        answers.append(answer)
    after = local_today()
    async with chat_app(database_url, model, auth) as (_, chat):
        [task] = await chat.tasks("alice")
        stored = (await chat.conversation("alice", answers[0]["conversation_id"])).json()
        assert await chat.tasks("bob") == []

    # The model was told today's date where the user is, and the task is due the day after.
    today, zone = today_and_zone(model.received[0])
    assert (zone, today in {before, after}) == (ZONE, True)
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert (task["title"], task["priority"], task["due_date"]) == ("Buy milk", "high", tomorrow)
    assert (task["completed"], task["status"]) == (True, "completed")

    added, listed, completed = answers
    assert {answer["conversation_id"] for answer in answers} == {added["conversation_id"]}
    assert added["response"] == f'Added "Buy milk", due {tomorrow}, high priority.'
    assert listed["response"] == f"Due this week: Buy milk on {tomorrow}."
    assert completed["response"] == 'Marked "Buy milk" done.'
    assert [call["name"] for answer in answers for call in answer["tool_calls"]] == [
        "add_task",
        "list_tasks",
        "complete_task",
    ]
    assert added["tool_calls"][0]["arguments"] == {
        "title": "Buy milk",
        "priority": "high",
        "due_date": tomorrow,
        "timezone": ZONE,
    }
    assert added["tool_calls"][0]["result"]["id"] == task["id"]
    week = listed["tool_calls"][0]
    assert week["arguments"]["due_date_from"] == today.isoformat()
    assert [(t["id"], t["due_date"]) for t in week["result"]["tasks"]] == [(task["id"], tomorrow)]
    assert completed["tool_calls"][0]["arguments"] == {"task_id": task["id"], "completed": True}
    assert completed["tool_calls"][0]["result"]["status"] == "completed"

    # The stored conversation: each message and each answer with its tool calls, none unanswered.
    messages = stored["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "add buy milk tomorrow with high priority"),
        ("assistant", added["response"]),
        ("user", "what's due this week?"),
        ("assistant", listed["response"]),
        ("user", "mark it done"),
        ("assistant", completed["response"]),
    ]
    assert [m["tool_calls"] for m in messages[1::2]] == [a["tool_calls"] for a in answers]
    assert [m["id"] for m in messages[1::2]] == [a["message"]["id"] for a in answers]
    assert not any(m["unanswered"] for m in messages)

    # After each restart the model was sent the conversation so far, tool results included: the
    # last turn found the task's id there, and the instructions kept the user's time zone.
    assert len(model.received) == 6
    last_turn = model.received[4]
    assert [m["role"] for m in last_turn.messages[1:]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert all(today_and_zone(request)[1] == ZONE for request in model.received)
