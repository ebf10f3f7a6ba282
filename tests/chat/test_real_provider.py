"""One turn against a real provider, only when OPENAI_API_KEY and CHAT_MODEL are set in the
environment (OPENAI_BASE_URL too for a provider other than OpenAI); skipped otherwise."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.conftest import serving

pytestmark = pytest.mark.skipif(
    not (os.environ.get("OPENAI_API_KEY") and os.environ.get("CHAT_MODEL")),
    reason="set OPENAI_API_KEY and CHAT_MODEL (and OPENAI_BASE_URL) to chat with a real provider",
)


async def test_a_real_model_adds_a_task_through_the_tools(
    database_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    settings = {
        "chat_model": os.environ["CHAT_MODEL"],
        "openai_api_key": os.environ["OPENAI_API_KEY"],
        "openai_base_url": os.environ.get("OPENAI_BASE_URL") or None,
        "chat_timeout": 60,
    }
    async with serving(database_url, **settings) as client:
        response = await client.post(
            "/api/chat",
            json={
                "message": "Add a task titled 'Buy milk' with high priority. Reply with one short sentence."
            },
            headers=auth("alice"),
        )
        tasks = (await client.get("/api/tasks", headers=auth("alice"))).json()

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["response"]
    assert [call["name"] for call in answer["tool_calls"]] == ["add_task"]
    assert [(task["title"].lower(), task["priority"]) for task in tasks] == [("buy milk", "high")]
