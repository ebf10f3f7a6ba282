"""The first hour, as a newcomer lives it: a fresh clone, the README's one command for the service,
the example's README commands for the app, then sign up, add a task and see it in Chromium.

Nothing is configured beyond what those documents say: the commands are read from the two
READMEs and run as written, on the ports they name (8000 and 3000), in a clone of the
repository's committed state, with none of the test run's settings in the environment.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.interop.conftest import PASSWORD, run_in_chromium, unavailable
from todo_api.config import Settings

pytestmark = [pytest.mark.interop, pytest.mark.slow, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
SERVICE_URL = "http://localhost:8000"
APP_URL = "http://localhost:3000"
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def commands_under(readme: Path, heading: str) -> list[str]:
    """The command lines of the first bash block after `heading`, comments and blanks left out."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    block = BASH_BLOCK.search(section)
    assert block, f"no bash block under {heading!r} in {readme.name}"
    lines = [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def newcomers_env() -> dict[str, str]:
    """This shell's environment (its network and certificate settings included) without any
    setting of the service or the app, nor the test run's own."""
    ours = {name.upper() for name in Settings.model_fields} | {"HOST", "PORT", "WEB_CONCURRENCY"}
    ours |= {"AUTH_MODE", "TODO_API_URL", "AUTH_DATABASE_URL", "REQUIRE_INTEROP", "VIRTUAL_ENV"}
    kept = {
        name: value
        for name, value in os.environ.items()
        if name not in ours and not name.startswith(("TEST_", "PYTEST_", "BETTER_AUTH_", "UV_PROJECT"))
    }
    return kept | {"NEXT_TELEMETRY_DISABLED": "1"}


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@contextmanager
def running(command: str, cwd: Path, log: Path, ready_url: str, timeout: float) -> Iterator[None]:
    """`command` in a shell of its own process group, until `ready_url` answers 200; then stopped
    with its children."""
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S602 (the README's own command line, as a newcomer types it)
            command,
            shell=True,
            cwd=cwd,
            env=newcomers_env(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"`{command}` exited with {process.returncode}:\n{log.read_text(errors='replace')}"
                )
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"`{command}` not answering {ready_url} after {timeout:g} s:\n{log.read_text()}")
            time.sleep(0.2)  # polling the server, not ordering anything
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of the repository's committed state."""
    target = tmp_path_factory.mktemp("newcomer") / "todo-api"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    return target


@pytest.fixture(scope="module")
def report(clone: Path, chromium: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if "TEST_DATABASE_URL" not in os.environ:
        # It needs no PostgreSQL, but takes minutes: once per CI run, in the interop pass.
        pytest.skip("the newcomer's journey runs in the interop pass (with TEST_DATABASE_URL)")
    for port in (8000, 3000):
        if not port_is_free(port):
            unavailable(f"port {port}, which the READMEs use, is taken on this machine")
    logs = tmp_path_factory.mktemp("newcomer-logs")
    (service_command,) = commands_under(clone / "README.md", "## Quickstart")
    example = clone / "examples" / "nextjs"
    *setup, start = commands_under(example / "README.md", "## Run it")
    with running(service_command, clone, logs / "service.log", f"{SERVICE_URL}/health", timeout=300):
        for command in setup:
            done = subprocess.run(  # noqa: S602 (as above)
                command,
                shell=True,
                cwd=example,
                env=newcomers_env(),
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert done.returncode == 0, f"`{command}` failed:\n{done.stdout}{done.stderr}"
        with running(start, example, logs / "app.log", APP_URL, timeout=900):
            return run_in_chromium(
                "nextjs-example.mjs",
                chromium,
                APP_URL=APP_URL,
                API_URL=SERVICE_URL,
                PASSWORD=PASSWORD,
                COOKIES="1",
            )


def test_the_readmes_commands_are_the_ones_a_newcomer_runs(clone: Path) -> None:
    example = clone / "examples" / "nextjs" / "README.md"

    assert commands_under(clone / "README.md", "## Quickstart") == ["uv run todo-api serve"]
    assert commands_under(example, "## Run it")[-1] == "npm run build && npm start"


def test_a_newcomer_signs_up_adds_tasks_and_sees_them(report: dict[str, Any]) -> None:
    listed = [(task["title"], task["done"]) for task in report["afterDelete"]]

    assert report["aliceFirstList"] == []
    assert listed == [
        ("Water plants", False),
        ("Read a novel", False),
        ("Water plants", True),
        ("Call mum", False),
        ("Buy milk", False),
    ]
    assert [(task["title"], task["done"]) for task in report["aliceServerHtml"]["rows"]] == listed


def test_without_a_model_the_assistant_says_chat_is_not_configured(report: dict[str, Any]) -> None:
    # The README's service has no CHAT_MODEL: a 503 whose sentence names the settings, not a failure.
    assert report["chatOffNote"].startswith("Chat is not configured on this service: set CHAT_MODEL")
    assert report["chatOffMessages"] == [
        {"role": "user", "text": "hello", "chips": [], "unanswered": True},
    ]
    assert report["pageErrors"] == []


def test_a_second_newcomer_sees_none_of_the_firsts_tasks(report: dict[str, Any]) -> None:
    assert report["bobBrowserList"] == []
    assert report["bobGetsAlicesTask"] == 404
