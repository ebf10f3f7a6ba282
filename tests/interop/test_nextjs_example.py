"""examples/nextjs, built once and started with `next start`, in Chromium against todo-api serve.

Each set-up of docs/frontend.md that the example selects with AUTH_MODE runs the same user
journey (browser/nextjs-example.mjs): `jwt` (Better Auth's jwt() plugin in the app, on its own
database; the service reads the app's keys at /api/auth/jwks), `shared-database` (the same
on the service's database, with BETTER_AUTH_SHARED_DATABASE=true) and `builtin` (no Better
Auth in the app: the service's own /api/auth signs users in, and its session cookie, sent by
the browser and forwarded by the app's server, stands for the user). Everything runs on
localhost, one host name for the app, Better Auth and CORS, as the guide's local development
block says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.conftest import asyncpg_dsn
from tests.interop.conftest import PASSWORD, SECRET, Databases, run_in_chromium
from tests.interop.example_app import ExampleApp, build_example
from tests.interop.issuer_driver import IssuerError, free_port
from tests.interop.service_driver import TodoService

# The module's first test may build the client and the app first (bounded at 120 s and 600 s),
# then starts them and Chromium.
pytestmark = [pytest.mark.interop, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def built_example(chromium: str) -> None:
    """The example's packages and its production build (`next build`, skipped when current)."""
    try:
        build_example()
    except IssuerError as exc:
        pytest.fail(f"the example app cannot be built: {exc}", pytrace=False)


def localhost(service: TodoService) -> str:
    """The service's URL with the app's host name (it listens on 127.0.0.1, which localhost is)."""
    return f"http://localhost:{service.port}"


class Setup:
    """The app and the service of one set-up, and the database the tasks are in."""

    def __init__(self, mode: str, app: ExampleApp, service: TodoService, tasks_database: str) -> None:
        self.mode, self.app, self.service, self.tasks_database = mode, app, service, tasks_database


@pytest.fixture(scope="module", params=["jwt", "shared-database", "builtin"])
def setup(
    request: pytest.FixtureRequest,
    databases: Databases,
    built_example: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Setup]:
    mode: str = request.param
    workdir = tmp_path_factory.mktemp(mode)
    port = free_port()
    app_url = f"http://localhost:{port}"
    with ExitStack() as stack:
        tasks_database = stack.enter_context(databases.fresh())
        auth_database = (
            tasks_database if mode == "shared-database" else stack.enter_context(databases.fresh())
        )
        service_env = {"DATABASE_URL": tasks_database, "CORS_ORIGINS": app_url} | (
            # The service signs users in itself, and knows them by its session cookie.
            {"BUILTIN_AUTH": "true", "BETTER_AUTH_SECRET": SECRET}
            if mode == "builtin"
            else {
                "BUILTIN_AUTH": "false",
                "BETTER_AUTH_URL": app_url,
                "JWT_ISSUER": app_url,
                "JWT_AUDIENCE": app_url,
                "BETTER_AUTH_SHARED_DATABASE": "true" if mode == "shared-database" else "false",
            }
        )
        service = TodoService(workdir / "service", service_env)
        app_env = {"AUTH_MODE": mode, "TODO_API_URL": localhost(service)} | (
            {}  # no Better Auth in the app
            if mode == "builtin"
            else {
                "BETTER_AUTH_URL": app_url,
                "BETTER_AUTH_SECRET": SECRET,
                "AUTH_DATABASE_URL": auth_database,
            }
        )
        # With a shared database the app starts first: it creates Better Auth's tables, which the
        # service's migration needs (its foreign key points at "user").
        app = ExampleApp(workdir / "app", app_env, port)
        for process in (app, service) if mode == "shared-database" else (service, app):
            stack.enter_context(process)
        yield Setup(mode, app, service, tasks_database)


@pytest.fixture(scope="module")
def report(chromium: str, setup: Setup) -> dict[str, Any]:
    env = {"APP_URL": setup.app.base_url, "API_URL": localhost(setup.service), "PASSWORD": PASSWORD}
    if setup.mode == "builtin":
        env["COOKIES"] = "1"
    return run_in_chromium("nextjs-example.mjs", chromium, **env)


def test_the_browser_lists_creates_toggles_and_deletes(report: dict[str, Any]) -> None:
    assert report["aliceFirstList"] == []
    assert report["aliceBrowserList"] == [
        {"title": "Buy milk", "done": True},
        {"title": "Call mum", "done": False},
    ]


def test_a_validation_error_reads_as_a_sentence(report: dict[str, Any]) -> None:
    assert report["emptyTitleError"] == "title: String should have at least 1 character"


def test_the_server_component_renders_the_list_into_the_html(report: dict[str, Any]) -> None:
    assert report["serverHtmlHasTasks"] == [True, True]
    assert report["serverHtmlHasBrowserList"] is False  # the client list loads after hydration
    assert report["aliceServerList"] == ["[x] Buy milk", "[ ] Call mum"]


def test_a_second_user_sees_none_of_the_first_users_tasks(report: dict[str, Any]) -> None:
    assert report["bobServerList"] == []
    assert report["bobBrowserList"] == []
    assert report["bobGetsAlicesTask"] == 404
    assert report["aliceAgainServerList"] == ["[x] Buy milk", "[ ] Call mum"]
    assert report["aliceGetsHerTask"] == 200


def test_the_page_talks_only_to_the_app_and_the_service(report: dict[str, Any], setup: Setup) -> None:
    allowed = {urlsplit(setup.app.base_url).netloc, urlsplit(localhost(setup.service)).netloc}
    assert {urlsplit(url).netloc for url in report["requests"]} <= allowed


async def _tasks_and_owners(database_url: str) -> tuple[int, int, bool]:
    """Tasks, tasks whose owner is a row of Better Auth's "user", and whether a foreign key says so."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        tasks = await connection.fetchval("SELECT count(*) FROM task")
        owned = await connection.fetchval('SELECT count(*) FROM task JOIN "user" ON "user".id = task.user_id')
        keyed = await connection.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'fk_task_user_id_user'"
        )
    finally:
        await connection.close()
    return tasks, owned, keyed == 1


def test_in_the_shared_database_the_tasks_belong_to_better_auths_users(
    report: dict[str, Any], setup: Setup
) -> None:
    if setup.mode != "shared-database":
        pytest.skip("only the shared-database set-up puts the tasks beside Better Auth's users")

    assert asyncio.run(_tasks_and_owners(setup.tasks_database)) == (2, 2, True)
