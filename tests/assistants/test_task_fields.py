"""The MCP tools take and show priority (and, below, due dates) as the REST routes do."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.assistants.test_endpoint import MCP_HEADERS, call_tool
from tests.conftest import TokenFactory, serving


def result_of(response: httpx.Response) -> dict[str, Any]:
    result: dict[str, Any] = response.json()["result"]
    assert not result.get("isError"), result
    structured: dict[str, Any] = result["structuredContent"]
    return structured


def error_of(response: httpx.Response) -> str:
    result = response.json()["result"]
    assert result["isError"] is True, result
    text: str = result["content"][0]["text"]
    return text


async def tool_schemas(client: httpx.AsyncClient, token: str) -> dict[str, dict[str, Any]]:
    response = await client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers=MCP_HEADERS | {"Authorization": f"Bearer {token}"},
    )
    return {tool["name"]: tool["inputSchema"] for tool in response.json()["result"]["tools"]}


async def test_add_and_update_take_a_priority_in_any_of_its_words(
    database_url: str, make_token: TokenFactory
) -> None:
    token = make_token("alice")
    async with serving(database_url) as client:
        plain = result_of(await call_tool(client, token, "add_task", {"title": "plain"}))
        critical = result_of(
            await call_tool(client, token, "add_task", {"title": "x", "priority": "Critical"})
        )
        lowered = result_of(
            await call_tool(client, token, "update_task", {"task_id": critical["id"], "priority": "low"})
        )
        fetched = (await client.get(f"/api/tasks/{critical['id']}", headers=_bearer(token))).json()

    assert plain["priority"] == "medium"
    assert critical["priority"] == "urgent"
    assert lowered["priority"] == "low"
    assert fetched == lowered


async def test_a_priority_that_is_no_level_is_one_sentence(
    database_url: str, make_token: TokenFactory
) -> None:
    async with serving(database_url) as client:
        response = await call_tool(client, make_token("alice"), "add_task", {"title": "x", "priority": 3})

    assert error_of(response) == (
        "Invalid arguments: priority: Input should be 'low', 'medium', 'high' or 'urgent'"
    )


async def test_the_priority_argument_lists_its_words(database_url: str, make_token: TokenFactory) -> None:
    async with serving(database_url) as client:
        schemas = await tool_schemas(client, make_token("alice"))

    for tool in ("add_task", "update_task"):
        priority = schemas[tool]["properties"]["priority"]
        words = priority["anyOf"][0] if "anyOf" in priority else priority
        assert words["enum"] == ["low", "medium", "high", "urgent", "normal", "critical"]
        assert "critical as urgent" in priority["description"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_add_and_update_take_a_due_date_in_a_zone_and_clear_it(
    database_url: str, make_token: TokenFactory
) -> None:
    token = make_token("alice")
    async with serving(database_url) as client:
        added = result_of(
            await call_tool(
                client,
                token,
                "add_task",
                {"title": "call", "due_date": "2026-12-31T17:00", "timezone": "Europe/Berlin"},
            )
        )
        moved = result_of(
            await call_tool(
                client, token, "update_task", {"task_id": added["id"], "due_date": "2027-01-02T09:00"}
            )
        )
        rezoned = result_of(
            await call_tool(client, token, "update_task", {"task_id": added["id"], "timezone": "UTC"})
        )
        cleared = result_of(
            await call_tool(client, token, "update_task", {"task_id": added["id"], "due_date": ""})
        )
        fetched = (await client.get(f"/api/tasks/{added['id']}", headers=_bearer(token))).json()

    assert (added["due_date"], added["timezone"], added["overdue"]) == (
        "2026-12-31T17:00:00+01:00",
        "Europe/Berlin",
        False,
    )
    assert moved["due_date"] == "2027-01-02T09:00:00+01:00"
    assert (rezoned["due_date"], rezoned["timezone"]) == ("2027-01-02T08:00:00Z", "UTC")
    assert cleared["due_date"] is None
    assert fetched == cleared


async def test_an_overdue_task_says_so_over_mcp(database_url: str, make_token: TokenFactory) -> None:
    async with serving(database_url) as client:
        added = result_of(
            await call_tool(
                client, make_token("alice"), "add_task", {"title": "late", "due_date": "2001-01-01"}
            )
        )

    assert (added["due_date"], added["overdue"]) == ("2001-01-01", True)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"due_date": "next friday"}, "due_date"), ({"timezone": "Berlin"}, "timezone")],
)
async def test_a_bad_due_date_or_zone_is_one_sentence_naming_it(
    database_url: str, make_token: TokenFactory, arguments: dict[str, Any], field: str
) -> None:
    async with serving(database_url) as client:
        response = await call_tool(client, make_token("alice"), "add_task", {"title": "x", **arguments})

    text = error_of(response)
    assert text.startswith(f"Invalid arguments: {field}: must be ")
    assert "\n" not in text
    assert "errors.pydantic.dev" not in text


async def test_the_due_date_arguments_say_their_forms_in_words(
    database_url: str, make_token: TokenFactory
) -> None:
    async with serving(database_url) as client:
        schemas = await tool_schemas(client, make_token("alice"))

    for tool in ("add_task", "update_task"):
        for name in ("due_date", "timezone"):
            assert name in schemas[tool]["properties"], (tool, name)
        assert "2026-12-31T17:00" in schemas[tool]["properties"]["due_date"]["description"]
        assert "Europe/Berlin" in schemas[tool]["properties"]["timezone"]["description"]
    assert "empty string clears it" in schemas["update_task"]["properties"]["due_date"]["description"]


async def test_list_tasks_filters_and_sorts_as_the_rest_list_does(
    database_url: str, make_token: TokenFactory
) -> None:
    token = make_token("alice")
    bodies: list[dict[str, Any]] = [
        {"title": "urgent, long overdue", "priority": "urgent", "due_date": "2001-01-01"},
        {"title": "high, in December", "priority": "high", "due_date": "2999-12-15"},
        {"title": "high, undated", "priority": "high"},
        {"title": "low, in December", "priority": "low", "due_date": "2999-12-01"},
    ]
    async with serving(database_url) as client:
        for body in bodies:
            result_of(await call_tool(client, token, "add_task", body))
        await client.post(
            "/api/tasks", json={"title": "bob's", "priority": "high"}, headers=_bearer(make_token("bob"))
        )

        async def listed(**arguments: Any) -> list[str]:
            result = result_of(await call_tool(client, token, "list_tasks", arguments))
            assert result["total"] == len(result["tasks"])
            return [task["title"] for task in result["tasks"]]

        by_priority = await listed(priority=["high", "critical"], sort="-priority")
        in_december = await listed(due_date_from="2999-12-01", due_date_to="2999-12-31", sort="due_date")
        overdue = await listed(overdue=True)
        by_due_date = await listed(sort="-due_date")
        searched = await listed(search="DECEMBER hi")
        bad_bound = error_of(await call_tool(client, token, "list_tasks", {"due_date_from": "next week"}))
        bad_sort = error_of(await call_tool(client, token, "list_tasks", {"sort": "urgency"}))

    assert by_priority == ["urgent, long overdue", "high, undated", "high, in December"]
    assert in_december == ["low, in December", "high, in December"]
    assert overdue == ["urgent, long overdue"]
    assert searched == ["high, in December"]
    assert by_due_date == ["high, in December", "low, in December", "urgent, long overdue", "high, undated"]
    assert "'due_date_from'" in bad_bound
    assert "2026-12-31" in bad_bound
    assert "sort" in bad_sort
    assert "priority" in bad_sort


async def test_tags_are_added_changed_and_filtered_through_the_tools(
    database_url: str, make_token: TokenFactory
) -> None:
    token = make_token("alice")
    async with serving(database_url) as client:
        listed_one = result_of(
            await call_tool(client, token, "add_task", {"title": "report", "tags": ["Work", "work", "q1"]})
        )
        as_text = result_of(
            await call_tool(client, token, "add_task", {"title": "gym", "tags": "health, Q1"})
        )
        changed = result_of(
            await call_tool(client, token, "update_task", {"task_id": as_text["id"], "tags": ["health"]})
        )
        untouched = result_of(
            await call_tool(client, token, "update_task", {"task_id": listed_one["id"], "title": "Report"})
        )

        async def listed(**arguments: Any) -> list[str]:
            return [
                task["title"]
                for task in result_of(await call_tool(client, token, "list_tasks", arguments))["tasks"]
            ]

        by_any = await listed(tags=["WORK", "health"])
        by_all = await listed(tags=["work", "health"], tags_match="all")
        too_long = error_of(await call_tool(client, token, "add_task", {"title": "x", "tags": ["x" * 51]}))

    assert listed_one["tags"] == ["Work", "q1"]
    assert as_text["tags"] == ["health", "Q1"]
    assert changed["tags"] == ["health"]
    assert untouched["tags"] == ["Work", "q1"]
    assert by_any == ["gym", "Report"]
    assert by_all == []
    assert "tags" in too_long
    assert "50 characters" in too_long


async def test_reminders_are_set_through_the_tools(database_url: str, make_token: TokenFactory) -> None:
    token = make_token("alice")
    async with serving(database_url) as client:
        relative = result_of(
            await call_tool(
                client,
                token,
                "add_task",
                {"title": "call", "due_date": "2026-12-31T17:00Z", "remind_before_minutes": "1h"},
            )
        )
        absolute = result_of(
            await call_tool(
                client, token, "update_task", {"task_id": relative["id"], "remind_at": "2026-12-31T09:00Z"}
            )
        )
        no_due_date = error_of(
            await call_tool(client, token, "add_task", {"title": "x", "remind_before_minutes": 30})
        )

    assert (relative["remind_at"], relative["remind_before_minutes"]) == ("2026-12-31T16:00:00Z", 60)
    assert (absolute["remind_at"], absolute["remind_before_minutes"]) == ("2026-12-31T09:00:00Z", None)
    assert "remind_before_minutes needs a due date" in no_due_date


async def test_a_recurring_task_added_and_completed_through_the_tools_has_its_next_occurrence(
    database_url: str, make_token: TokenFactory
) -> None:
    token = make_token("alice")
    async with serving(database_url) as client:
        added = result_of(
            await call_tool(
                client,
                token,
                "add_task",
                {
                    "title": "stand-up",
                    "due_date": "2026-12-07T09:30",
                    "timezone": "Europe/Berlin",
                    "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO,WE",
                },
            )
        )
        done = result_of(await call_tool(client, token, "complete_task", {"task_id": added["id"]}))
        following = (await client.get(f"/api/tasks/{done['next_task_id']}", headers=_bearer(token))).json()
        monthly = result_of(
            await call_tool(
                client, token, "update_task", {"task_id": following["id"], "recurrence_pattern": "monthly"}
            )
        )

    assert (added["is_recurring"], added["recurrence_pattern"]) == (True, "weekly")
    assert following["due_date"] == "2026-12-09T09:30:00+01:00"
    assert (monthly["recurrence_pattern"], monthly["recurrence_rule"]) == ("monthly", None)


async def test_update_task_passes_on_every_field_it_takes(
    database_url: str, make_token: TokenFactory
) -> None:
    token = make_token("alice")
    async with serving(database_url) as client:
        added = result_of(
            await call_tool(
                client, token, "add_task", {"title": "water plants", "due_date": "2026-12-31T17:00Z"}
            )
        )
        changed = result_of(
            await call_tool(
                client,
                token,
                "update_task",
                {
                    "task_id": added["id"],
                    "description": "the ones on the balcony",
                    "status": "completed",
                    "remind_before_minutes": 30,
                    "recurrence_pattern": "daily",
                    "recurrence_interval": 3,
                },
            )
        )
        ruled = result_of(
            await call_tool(
                client,
                token,
                "update_task",
                {"task_id": added["id"], "recurrence_rule": "FREQ=WEEKLY;BYDAY=FR"},
            )
        )

    assert (changed["description"], changed["completed"]) == ("the ones on the balcony", True)
    assert (changed["remind_before_minutes"], changed["remind_at"]) == (30, "2026-12-31T16:30:00Z")
    assert (changed["recurrence_pattern"], changed["recurrence_interval"]) == ("daily", 3)
    assert (ruled["recurrence_pattern"], ruled["recurrence_rule"]) == ("weekly", "FREQ=WEEKLY;BYDAY=FR")


async def test_get_task_and_reopening_with_complete_task(database_url: str, make_token: TokenFactory) -> None:
    token = make_token("alice")
    async with serving(database_url) as client:
        added = result_of(await call_tool(client, token, "add_task", {"title": "call mum"}))
        done = result_of(await call_tool(client, token, "complete_task", {"task_id": added["id"]}))
        reopened = result_of(
            await call_tool(client, token, "complete_task", {"task_id": added["id"], "completed": False})
        )
        still_open = result_of(
            await call_tool(client, token, "complete_task", {"task_id": added["id"], "completed": False})
        )
        got = result_of(await call_tool(client, token, "get_task", {"task_id": added["id"]}))

    assert (done["completed"], reopened["completed"], still_open["completed"]) == (True, False, False)
    assert got == still_open


async def test_list_tasks_without_arguments_lists_every_task_newest_first(
    database_url: str, make_token: TokenFactory
) -> None:
    token = make_token("alice")
    async with serving(database_url) as client:
        for title in ("first", "second", "third"):
            added = result_of(await call_tool(client, token, "add_task", {"title": title}))
        await call_tool(client, token, "complete_task", {"task_id": added["id"]})
        listed = result_of(await call_tool(client, token, "list_tasks", {}))
        schema = (await tool_schemas(client, token))["list_tasks"]["properties"]

    assert [task["title"] for task in listed["tasks"]] == ["third", "second", "first"]
    assert listed["total"] == 3
    defaults = {name: schema[name]["default"] for name in ("status", "sort", "tags_match", "limit", "offset")}
    assert defaults == {
        "status": "all",
        "sort": "-created_at",
        "tags_match": "any",
        "limit": 100,
        "offset": 0,
    }


async def test_list_tasks_passes_on_its_limit_and_due_date_bound(
    database_url: str, make_token: TokenFactory
) -> None:
    token = make_token("alice")
    async with serving(database_url) as client:
        for title, due in (("soon", "2026-12-10T09:00Z"), ("later", "2027-03-01T09:00Z")):
            await call_tool(client, token, "add_task", {"title": title, "due_date": due})
        one = result_of(await call_tool(client, token, "list_tasks", {"limit": 1}))
        before = result_of(await call_tool(client, token, "list_tasks", {"due_date_to": "2027-01-01"}))

    assert (len(one["tasks"]), one["total"]) == (1, 2)
    assert [task["title"] for task in before["tasks"]] == ["soon"]


async def test_add_task_passes_on_every_field_it_takes(database_url: str, make_token: TokenFactory) -> None:
    token = make_token("alice")
    async with serving(database_url) as client:
        added = result_of(
            await call_tool(
                client,
                token,
                "add_task",
                {
                    "title": "water plants",
                    "description": "the ones on the balcony",
                    "due_date": "2026-12-31T17:00Z",
                    "remind_at": "2026-12-31T08:00Z",
                    "recurrence_pattern": "daily",
                    "recurrence_interval": 2,
                },
            )
        )

    assert added["description"] == "the ones on the balcony"
    assert added["remind_at"] == "2026-12-31T08:00:00Z"
    assert (added["recurrence_pattern"], added["recurrence_interval"]) == ("daily", 2)
