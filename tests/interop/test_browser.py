"""The service in a real headless Chromium: Swagger UI, and calls from the frontend's origin.

Pages may only talk to loopback: `browser/chromium.mjs` records every request a page makes
(aborting any other), and each test checks that record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.interop.conftest import BetterAuthUser, ServiceFactory, jwks_settings, run_in_chromium
from tests.interop.issuer_driver import BetterAuthIssuer
from tests.interop.service_driver import TodoService

pytestmark = pytest.mark.interop

# Git-ignored; CI keeps what lands here as the run's artifacts.
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"
TASK_TITLE = "Written from Swagger UI"


@pytest.fixture(scope="module")
def service(issuer: BetterAuthIssuer, module_services: ServiceFactory) -> TodoService:
    """Better Auth runs inside the Next.js app, so its origin is the frontend's origin."""
    return module_services(jwks_settings(issuer) | {"CORS_ORIGINS": issuer.base_url})


def call_from_a_page(chromium: str, origin: str, service: TodoService, token: str) -> dict[str, Any]:
    """Open a page on `origin` (Better Auth's health check) and `fetch` the service from it."""
    return run_in_chromium(
        "cors.mjs", chromium, PAGE_URL=f"{origin}/api/auth/ok", SERVICE_URL=service.base_url, TOKEN=token
    )


def tasks_of(service: TodoService, token: str) -> list[dict[str, Any]]:
    with service.client(token) as api:
        tasks: list[dict[str, Any]] = api.get("/api/tasks").json()
        return tasks


def test_swagger_ui_authorizes_with_a_better_auth_token_and_runs_create_and_list(
    chromium: str, issuer: BetterAuthIssuer, service: TodoService, alice: BetterAuthUser
) -> None:
    token = issuer.jwt(alice.session)
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    screenshot = ARTIFACTS_DIR / "swagger-ui.png"
    screenshot.unlink(missing_ok=True)

    report = run_in_chromium(
        "swagger.mjs",
        chromium,
        SERVICE_URL=service.base_url,
        TOKEN=token,
        TASK_TITLE=TASK_TITLE,
        SCREENSHOT=str(screenshot),
    )

    requested = [urlsplit(url) for url in report["requests"]]
    assert {"/docs", "/openapi.json", "/api/tasks"} <= {url.path for url in requested}
    origins = {f"{url.scheme}://{url.netloc}" for url in requested}
    assert origins == {service.base_url}, report["requests"]  # nothing left 127.0.0.1
    assert report["authorized"] == "Logout"  # the dialog accepted the token
    created, listed = report["created"], report["listed"]
    assert created["status"] == 201
    task = json.loads(created["body"])
    assert (task["title"], task["user_id"]) == (TASK_TITLE, alice.id)
    assert f"Authorization: Bearer {token}" in created["curl"]
    assert listed["status"] == 200
    assert json.loads(listed["body"]) == [task]
    assert tasks_of(service, token) == [task]
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_page_on_the_frontends_origin_can_call_the_api_and_read_its_headers(
    chromium: str, issuer: BetterAuthIssuer, service: TodoService, alice: BetterAuthUser
) -> None:
    token = issuer.jwt(alice.session)

    report = call_from_a_page(chromium, issuer.base_url, service, token)

    assert report["origin"] == issuer.base_url
    assert {urlsplit(url).hostname for url in report["requests"]} == {"127.0.0.1"}
    assert "error" not in report, report
    assert report["created"]["status"] == 201
    assert report["created"]["location"].startswith("/api/tasks/")
    assert report["created"]["etag"].startswith('"')
    assert report["listed"]["status"] == 200
    assert report["listed"]["total"] == "1"
    assert [task["title"] for task in report["listed"]["body"]] == ["from another origin"]


def test_page_on_an_origin_not_in_cors_origins_is_blocked_by_the_browser(
    chromium: str, issuer: BetterAuthIssuer, service: TodoService, alice: BetterAuthUser
) -> None:
    token = issuer.jwt(alice.session)
    other_origin = issuer.base_url.replace("127.0.0.1", "localhost")

    report = call_from_a_page(chromium, other_origin, service, token)

    assert report["origin"] == other_origin
    assert {urlsplit(url).hostname for url in report["requests"]} == {"localhost", "127.0.0.1"}
    assert report["error"] == "TypeError: Failed to fetch"
    assert tasks_of(service, token) == []  # the preflight failed, so the POST was never sent
