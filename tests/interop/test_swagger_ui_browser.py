"""Swagger UI in a real headless Chromium: Authorize with a Better Auth token, then use it.

The page may only talk to the service on 127.0.0.1: every request it makes is recorded
(and any other is aborted) by `browser/swagger.mjs`, and the test checks the record.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.interop.conftest import BetterAuthUser, unavailable
from tests.interop.issuer_driver import BetterAuthIssuer, IssuerError, npm_ci
from tests.interop.service_driver import TodoService

pytestmark = pytest.mark.interop

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
# Git-ignored; CI keeps what lands here as the run's artifacts.
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"
TASK_TITLE = "Written from Swagger UI"


@pytest.fixture(scope="module")
def chromium() -> str:
    """The system Chromium; nothing is downloaded at test time."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        unavailable("Chromium is not installed (Debian: apt-get install chromium)")
    try:
        npm_ci(BROWSER_DIR)
    except IssuerError as exc:
        unavailable(f"playwright-core cannot be installed: {exc}")
    return path


def drive_swagger_ui(chromium: str, service: TodoService, token: str, screenshot: Path) -> dict[str, Any]:
    """Run browser/swagger.mjs and return the JSON it prints."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ} | {
        "SERVICE_URL": service.base_url,
        "TOKEN": token,
        "TASK_TITLE": TASK_TITLE,
        "SCREENSHOT": str(screenshot),
        "CHROMIUM": chromium,
    }
    result = subprocess.run(
        ["node", "swagger.mjs"],
        cwd=BROWSER_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_swagger_ui_authorizes_with_a_better_auth_token_and_runs_create_and_list(
    chromium: str, issuer: BetterAuthIssuer, jwks_service: TodoService, alice: BetterAuthUser
) -> None:
    token = issuer.jwt(alice.session)
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    screenshot = ARTIFACTS_DIR / "swagger-ui.png"
    screenshot.unlink(missing_ok=True)

    report = drive_swagger_ui(chromium, jwks_service, token, screenshot)

    requested = [urlsplit(url) for url in report["requests"]]
    assert {"/docs", "/openapi.json", "/api/tasks"} <= {url.path for url in requested}
    origins = {f"{url.scheme}://{url.netloc}" for url in requested}
    assert origins == {jwks_service.base_url}, report["requests"]  # nothing left 127.0.0.1
    assert report["authorized"] == "Logout"  # the dialog accepted the token
    created, listed = report["created"], report["listed"]
    assert created["status"] == 201
    task = json.loads(created["body"])
    assert (task["title"], task["user_id"]) == (TASK_TITLE, alice.id)
    assert f"Authorization: Bearer {token}" in created["curl"]
    assert listed["status"] == 200
    assert json.loads(listed["body"]) == [task]
    with jwks_service.client(token) as api:
        assert api.get("/api/tasks").json() == [task]
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
