"""The MCP Inspector's CLI, run exactly as docs/assistants.md shows it, against `todo-api serve`."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRET
from tests.interop.conftest import ServiceFactory, unavailable
from tests.interop.issuer_driver import IssuerError, npm_ci
from todo_api.tokens import create_token

pytestmark = pytest.mark.interop

INSPECTOR_DIR = Path(__file__).resolve().parent / "inspector"
ASSISTANTS_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "assistants.md"
# What the guide's commands name; the test puts its own service and token in their place.
GUIDE_URL = "http://127.0.0.1:8000/mcp"
GUIDE_TOKEN = "$TODO_TOKEN"
TOOLS = {"add_task", "list_tasks", "get_task", "update_task", "complete_task", "delete_task"}


def pinned_version() -> str:
    """The Inspector version the interop package installs."""
    package = json.loads((INSPECTOR_DIR / "package.json").read_text(encoding="utf-8"))
    version: str = package["dependencies"]["@modelcontextprotocol/inspector"]
    return version


def guide_command(method: str) -> list[str]:
    """The guide's Inspector command line that calls `method`, split as a shell would."""
    text = ASSISTANTS_GUIDE.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith("npx ") and " --cli " in line and f" --method {method}" in line:
            return shlex.split(line)
    pytest.fail(f"docs/assistants.md shows no Inspector command line for {method}")


@pytest.fixture(scope="module")
def inspector() -> Path:
    """The Inspector's launcher at the pinned version (npx's `mcp-inspector`), via `npm ci`."""
    try:
        npm_ci(INSPECTOR_DIR)
    except IssuerError as exc:
        unavailable(f"the MCP Inspector cannot be installed: {exc}")
    return INSPECTOR_DIR / "node_modules" / ".bin" / "mcp-inspector"


def test_the_guide_shows_the_version_tested_here() -> None:
    shown = re.findall(
        r"@modelcontextprotocol/inspector@([\w.-]+)", ASSISTANTS_GUIDE.read_text(encoding="utf-8")
    )

    assert shown
    assert set(shown) == {pinned_version()}


def run_as_the_guide_shows(inspector: Path, method: str, url: str, token: str) -> dict[str, Any]:
    """Run the guide's command for `method` with the installed launcher; its JSON answer."""
    npx, yes, package, *arguments = guide_command(method)
    assert (npx, yes, package) == ("npx", "-y", f"@modelcontextprotocol/inspector@{pinned_version()}")
    arguments = [
        url if argument == GUIDE_URL else argument.replace(GUIDE_TOKEN, token) for argument in arguments
    ]
    result = subprocess.run(
        [str(inspector), *arguments],
        cwd=INSPECTOR_DIR,
        env={key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_the_guides_inspector_commands_pass_the_token_list_the_tools_and_add_a_task(
    inspector: Path, start_service: ServiceFactory
) -> None:
    service = start_service({"BETTER_AUTH_SECRET": SECRET})
    user = f"user-{uuid.uuid4().hex[:8]}"
    token = create_token(user, SECRET, ttl_seconds=300)

    listed = run_as_the_guide_shows(inspector, "tools/list", f"{service.base_url}/mcp", token)
    added = run_as_the_guide_shows(inspector, "tools/call", f"{service.base_url}/mcp", token)

    assert {tool["name"] for tool in listed["tools"]} == TOOLS
    assert added["isError"] is False
    assert (added["structuredContent"]["title"], added["structuredContent"]["user_id"]) == ("Buy milk", user)
