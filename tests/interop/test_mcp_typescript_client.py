"""The official MCP TypeScript SDK client (`@modelcontextprotocol/sdk`) against `todo-api serve`."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import SECRET
from tests.interop.conftest import ServiceFactory, unavailable
from tests.interop.issuer_driver import IssuerError, npm_ci, run_node_script
from todo_api.tokens import create_token

pytestmark = pytest.mark.interop

MCP_CLIENT_DIR = Path(__file__).resolve().parent / "mcp"
TOOLS = {"add_task", "list_tasks", "get_task", "update_task", "complete_task", "delete_task"}


@pytest.fixture(scope="module")
def installed_client() -> Path:
    """The pinned SDK, installed with `npm ci`."""
    try:
        npm_ci(MCP_CLIENT_DIR)
    except IssuerError as exc:
        unavailable(f"the MCP TypeScript SDK cannot be installed: {exc}")
    return MCP_CLIENT_DIR


def test_the_typescript_sdk_runs_the_round_as_two_users(
    installed_client: Path, start_service: ServiceFactory
) -> None:
    service = start_service({"BETTER_AUTH_SECRET": SECRET})
    owner, other = (f"user-{uuid.uuid4().hex[:8]}" for _ in range(2))
    report = run_node_script(
        "round.mjs",
        {
            "MCP_URL": f"{service.base_url}/mcp",
            "OWNER_TOKEN": create_token(owner, SECRET, ttl_seconds=300),
            "OTHER_TOKEN": create_token(other, SECRET, ttl_seconds=300),
        },
        installed_client,
    )

    assert set(report["tools"]) == TOOLS
    assert all(tool["output"] is not None for tool in report["tools"].values())
    assert report["tools"]["add_task"]["input"]["required"] == ["title"]
    assert report["added"]["user_id"] == owner
    assert report["completed"]["status"] == "completed"
    assert [task["id"] for task in report["onlyCompleted"]["tasks"]] == [report["added"]["id"]]
    assert report["updated"]["title"] == "Renamed"
    assert report["emptyTitle"]["isError"] is True
    assert "title" in report["emptyTitle"]["text"]
    for tool, result in report["foreign"].items():
        assert result == {"isError": True, "text": "Task not found"}, tool
    assert report["otherTotal"] == 0
    assert report["deleted"] == {"deleted_task_id": report["added"]["id"]}
    assert [task["title"] for task in report["left"]["tasks"]] == ["Still to do"]
    for refusal in (report["withoutToken"], report["withBadToken"]):
        assert refusal["refused"] is True
        assert "401" in refusal["message"] or refusal["code"] == 401, refusal
