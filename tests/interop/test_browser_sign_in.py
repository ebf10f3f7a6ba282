"""In a real Chromium: a frontend on http://localhost:<port> signs up and in against the
service's built-in /api/auth with Better Auth's own client (bundled from the pinned package),
and manages its tasks with the session cookie alone (`credentials: "include"`)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.interop.conftest import PASSWORD, SECRET, ServiceFactory, run_in_chromium
from tests.interop.issuer_driver import free_port
from tests.interop.service_driver import TodoService

pytestmark = pytest.mark.interop

# The frontend's origin, as `next dev` gives it (on a free port), and a same-site stranger.
PAGE_PORT, FORGING_PORT = free_port(), free_port()
PAGE_ORIGIN = f"http://localhost:{PAGE_PORT}"


@pytest.fixture(scope="module")
def service(module_services: ServiceFactory) -> TodoService:
    return module_services(
        {"BUILTIN_AUTH": "true", "BETTER_AUTH_SECRET": SECRET, "CORS_ORIGINS": PAGE_ORIGIN}
    )


def test_a_page_on_another_origin_signs_in_and_manages_tasks_by_cookie(
    chromium: str, service: TodoService
) -> None:
    # localhost, not 127.0.0.1: the same site as the page, so the browser sends the cookie.
    service_url = service.base_url.replace("127.0.0.1", "localhost")

    report = run_in_chromium(
        "sign-in-page.mjs",
        chromium,
        SERVICE_URL=service_url,
        PAGE_PORT=str(PAGE_PORT),
        FORGING_PORT=str(FORGING_PORT),
        PASSWORD=PASSWORD,
    )

    assert report["pageOrigin"] == PAGE_ORIGIN
    assert {urlsplit(url).hostname for url in report["requests"]} == {"localhost"}
    alice, bob = report["alice"], report["bob"]
    assert alice["signUp"]["error"] is None, alice
    alice_id = alice["signUp"]["userId"]
    assert alice["sessionUserId"] == alice_id
    assert alice["cookieVisibleToScript"] is False
    assert (alice["created"]["status"], alice["created"]["userId"]) == (201, alice_id)
    assert alice["toggled"] == {"status": 200, "completed": True}
    assert alice["listed"] == {"status": 200, "titles": ["written in the browser"]}
    # A page on another origin of the same site sent the cookie: nothing was written.
    assert report["forged"] == "sent"
    assert report["afterForgery"] == ["written in the browser"]
    # Bob sees only his own tasks, and Alice's is not found for him.
    assert bob["listed"] == {"status": 200, "titles": ["bob's own"]}
    assert bob["signUp"]["userId"] != alice_id
    assert report["bobReadsAlices"] == 404
    assert report["aliceAgain"] == {
        "signIn": "ok",
        "read": 200,
        "signOut": True,
        "afterSignOut": 401,
        "deleteAfterSignOut": 401,
    }
