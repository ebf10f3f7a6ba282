"""examples/nextjs, built once and started with `next start`, in Chromium against todo-api serve.

The set-up here is Better Auth's jwt() plugin inside the app (AUTH_MODE=jwt): the service
reads the app's keys at /api/auth/jwks. Everything runs on localhost, one host name for the
app, Better Auth and CORS, as docs/frontend.md's local development block says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.interop.conftest import PASSWORD, SECRET, Databases, ServiceFactory
from tests.interop.example_app import ExampleApp, build_example
from tests.interop.issuer_driver import IssuerError, free_port
from tests.interop.service_driver import TodoService
from tests.interop.test_browser import run_in_chromium

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def built_example(chromium: str) -> None:
    """The example's packages and its production build (`next build`, skipped when current)."""
    try:
        build_example()
    except IssuerError as exc:
        pytest.fail(f"the example app cannot be built: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def jwt_app(
    built_example: None,
    tmp_path_factory: pytest.TempPathFactory,
    databases: Databases,
    module_services: ServiceFactory,
) -> Iterator[tuple[ExampleApp, TodoService]]:
    """The app with Better Auth's jwt() plugin on its own database, and the service it calls."""
    port = free_port()
    app_url = f"http://localhost:{port}"
    service = module_services(
        {"BETTER_AUTH_URL": app_url, "JWT_ISSUER": app_url, "JWT_AUDIENCE": app_url, "CORS_ORIGINS": app_url}
    )
    with databases.fresh() as auth_database:
        env = {
            "AUTH_MODE": "jwt",
            "BETTER_AUTH_URL": app_url,
            "BETTER_AUTH_SECRET": SECRET,
            "AUTH_DATABASE_URL": auth_database,
            "TODO_API_URL": service.base_url.replace("127.0.0.1", "localhost"),
        }
        with ExampleApp(tmp_path_factory.mktemp("nextjs"), env, port) as app:
            yield app, service


@pytest.fixture(scope="module")
def jwt_report(chromium: str, jwt_app: tuple[ExampleApp, TodoService]) -> dict[str, Any]:
    app, service = jwt_app
    api_url = service.base_url.replace("127.0.0.1", "localhost")
    return run_in_chromium(
        "nextjs-example.mjs", chromium, APP_URL=app.base_url, API_URL=api_url, PASSWORD=PASSWORD
    )


def test_the_browser_lists_creates_toggles_and_deletes(jwt_report: dict[str, Any]) -> None:
    assert jwt_report["aliceFirstList"] == []
    assert jwt_report["aliceBrowserList"] == [
        {"title": "Buy milk", "done": True},
        {"title": "Call mum", "done": False},
    ]


def test_a_validation_error_reads_as_a_sentence(jwt_report: dict[str, Any]) -> None:
    assert jwt_report["emptyTitleError"] == "title: String should have at least 1 character"


def test_the_server_component_renders_the_list_into_the_html(jwt_report: dict[str, Any]) -> None:
    assert jwt_report["serverHtmlHasTasks"] == [True, True]
    assert jwt_report["serverHtmlHasBrowserList"] is False  # the client list loads after hydration
    assert jwt_report["aliceServerList"] == ["[x] Buy milk", "[ ] Call mum"]


def test_a_second_user_sees_none_of_the_first_users_tasks(jwt_report: dict[str, Any]) -> None:
    assert jwt_report["bobServerList"] == []
    assert jwt_report["bobBrowserList"] == []
    assert jwt_report["bobGetsAlicesTask"] == 404
    assert jwt_report["aliceAgainServerList"] == ["[x] Buy milk", "[ ] Call mum"]
    assert jwt_report["aliceGetsHerTask"] == 200


def test_the_page_talks_only_to_the_app_and_the_service(
    jwt_report: dict[str, Any], jwt_app: tuple[ExampleApp, TodoService]
) -> None:
    app, service = jwt_app
    allowed = {urlsplit(app.base_url).netloc, f"localhost:{service.port}"}
    assert {urlsplit(url).netloc for url in jwt_report["requests"]} <= allowed
