"""Test harness: a fresh database per test, the real app through an ASGI client, real tokens.

Every test runs on SQLite; with TEST_DATABASE_URL=postgresql://… the same suite runs on
PostgreSQL, in a database created for this run (and dropped after it) and emptied before each
test. A test that changes the schema (migrations, triggers, any DDL) is marked
`@pytest.mark.changes_schema` and gets a database of its own instead, created from a migrated
template and dropped after the test, so no other test ever sees its changes.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import secrets
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from sqlalchemy.engine import make_url

from tests.keys import JWKSServer, SigningKey, new_key, serve_jwks
from todo_api.config import Settings
from todo_api.conversations.statements import list_page_query, with_messages_query
from todo_api.db.connection import PostgresDatabase
from todo_api.main import create_app
from todo_api.migrations import upgrade_database
from todo_api.state import AppState
from todo_api.tasks.statements import completion_query, count_query, page_query, update_query
from todo_api.tokens import create_token

T = TypeVar("T")

SECRET = "test-secret-not-for-production-" + "0123456789abcdef" * 3
# Production refuses SECRET (anyone can read it here, and it does not look random): tests of
# production settings use a secret generated for the run, as operators are told to.
PRODUCTION_SECRET = secrets.token_urlsafe(48)


# How long a test waits for an answer that a configured timeout of about a second must produce:
# far longer than any machine needs, far shorter than an unbounded wait.
PATIENCE = 30.0


async def answered_within(awaitable: Awaitable[T], seconds: float = PATIENCE) -> T:
    """`awaitable`'s result, or a test failure if it takes longer than `seconds`.

    The failure comes at the deadline even if the awaitable is slow to cancel: it is cancelled
    but not waited for. (A request cancelled in the middle of a statement has asyncpg ask the
    server to cancel it, over a new connection, before the connection goes back to the pool; on
    a silent network that can take as long as the silence itself.)
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        pytest.fail(f"no answer within {seconds:g} s: nothing bounded the wait")
    return task.result()


async def eventually(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = PATIENCE) -> None:
    """Poll `condition` until it holds; a test failure naming `what` if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await condition():
        if loop.time() > deadline:
            pytest.fail(f"still not {what} after {seconds:g} s")
        await asyncio.sleep(0.02)


class IsolatedSettings(Settings):
    """Settings from arguments only: a developer's environment or .env never leaks in."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, *_: Any, **__: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Test settings for `database_url`: HS256 with the test secret, no auto-migration, and no
    reminder scheduler (whose statements would land among a test's own; its tests turn it on)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "better_auth_secret": SECRET,
        "migrate_on_startup": False,
        "db_connect_timeout": 2.0,
        "reminders_enabled": False,
    }
    return IsolatedSettings(**(values | overrides))


class Database:
    """Hands out a fresh, migrated database for each test."""

    def __init__(self, template_url: str, *, postgres_admin_url: str | None = None) -> None:
        self.template_url = template_url
        self.postgres_admin_url = postgres_admin_url
        # A migrated database nothing connects to, copied for each test that changes the schema
        # (CREATE DATABASE ... TEMPLATE needs a source without connections).
        self._pristine: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.postgres_admin_url is not None

    def fresh(self, directory: Path) -> str:
        """A URL to an empty, migrated database no other test uses."""
        if self.is_postgres:
            asyncio.run(run_sql(self.template_url, _EMPTY))
            return self.template_url
        target = directory / "todo.db"
        shutil.copyfile(make_url(self.template_url).database or "", target)
        return f"sqlite:///{target}"

    @contextmanager
    def private(self, directory: Path) -> Iterator[str]:
        """A URL to a migrated database of the caller's own, dropped (on PostgreSQL) on exit."""
        if self.postgres_admin_url is None:
            # A copied file is already the test's own.
            yield self.fresh(directory)
            return
        name = f"{self._run_name}_{uuid.uuid4().hex[:8]}"
        asyncio.run(run_sql(self.postgres_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{self.pristine}"'))
        try:
            yield make_url(self.template_url).set(database=name).render_as_string(hide_password=False)
        finally:
            asyncio.run(run_sql(self.postgres_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    @property
    def _run_name(self) -> str:
        return make_url(self.template_url).database or ""

    @property
    def pristine(self) -> str:
        """The name of the migrated template for private databases, made on first use."""
        if self._pristine is None:
            assert self.postgres_admin_url is not None
            name = f"{self._run_name}_pristine"
            asyncio.run(run_sql(self.postgres_admin_url, f'CREATE DATABASE "{name}"'))
            self._pristine = name
            url = make_url(self.template_url).set(database=name).render_as_string(hide_password=False)
            asyncio.run(upgrade_database(make_settings(url)))
        return self._pristine

    def drop_pristine(self) -> None:
        if self._pristine is not None and self.postgres_admin_url is not None:
            asyncio.run(run_sql(self.postgres_admin_url, f'DROP DATABASE IF EXISTS "{self._pristine}"'))


# Every table's rows, children first, and the ids restarted: what TRUNCATE ... RESTART IDENTITY
# does, in a tenth of its time for tables this small (TRUNCATE gives each table and index a new
# file, which took most of a test's set-up). Deleting tasks runs their triggers; the rows those
# write (events, counts) are deleted after them.
_EMPTY = """
BEGIN;
DELETE FROM message; DELETE FROM conversation; DELETE FROM task;
DELETE FROM task_event; DELETE FROM event_sequence; DELETE FROM event_ticket; DELETE FROM event_relay;
DELETE FROM idempotency_key; DELETE FROM task_quota;
DELETE FROM session; DELETE FROM account; DELETE FROM verification; DELETE FROM jwks; DELETE FROM "user";
SELECT setval('task_id_seq', 1, false), setval('conversation_id_seq', 1, false),
    setval('message_id_seq', 1, false);
COMMIT;
"""


def asyncpg_dsn(url: str) -> str:
    """`url` as asyncpg's own connect() takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def rows(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    """The rows of `query`, run on a connection of the test's own."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def run_sql(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The migrated template for this run, on SQLite or on TEST_DATABASE_URL's PostgreSQL."""
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        template = tmp_path_factory.mktemp("template") / "template.db"
        url = f"sqlite:///{template}"
        asyncio.run(upgrade_database(make_settings(url)))
        yield Database(url)
        return
    name = f"todo_test_{uuid.uuid4().hex[:12]}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(run_sql(admin_url, f'CREATE DATABASE "{name}"'))
    run_database = Database(url, postgres_admin_url=admin_url)
    try:
        asyncio.run(upgrade_database(make_settings(url)))
        yield run_database
    finally:
        asyncio.run(run_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        run_database.drop_pristine()


# Only while mutmut runs a mutant: earlier killers first, listed equivalents skipped on request.
pytest_plugins = ["tests.mutation_plugin"]

# Where the teardown backstop writes: stderr as it was before pytest captured it.
BACKSTOP_OUTPUT = pytest.StashKey[TextIO]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "changes_schema: the test runs DDL, so it gets a database of its own (see conftest)"
    )
    assert sys.__stderr__ is not None
    # Closed at unconfigure.
    config.stash[BACKSTOP_OUTPUT] = open(os.dup(sys.__stderr__.fileno()), "w")  # noqa: SIM115


# Interop tests start Node.js, after an `npm ci` when its packages are not installed yet (as on
# a first run outside .ci/run): they get longer than pyproject's default unless they set their own.
INTEROP_TIMEOUT = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("interop") and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(INTEROP_TIMEOUT))


def pytest_unconfigure(config: pytest.Config) -> None:
    if BACKSTOP_OUTPUT in config.stash:
        config.stash[BACKSTOP_OUTPUT].close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    """No teardown can hang the run: past the test's timeout it prints every thread's stack and
    ends the process.

    pytest-timeout's alarm fires once per test. A test it stopped leaves its event loop to be
    closed in the teardown, which waits for every task to finish cancelling; a task that
    cannot (a shielded cleanup waiting on a silent network) would hold the run for ever."""
    seconds = _timeout_of(item)
    if seconds > 0:
        faulthandler.dump_traceback_later(seconds, exit=True, file=item.config.stash[BACKSTOP_OUTPUT])
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()


def _timeout_of(item: pytest.Item) -> float:
    """The test's timeout as pytest-timeout reads it: its marker, --timeout, or the ini default."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        return float(marker.kwargs.get("timeout", marker.args[0] if marker.args else 0))
    option = item.config.getoption("timeout", None)
    return float(option if option is not None else item.config.getini("timeout") or 0)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, database: Database, tmp_path: Path) -> Iterator[str]:
    """The test's database: the run's, emptied, or its own for a test marked `changes_schema`."""
    if request.node.get_closest_marker("changes_schema") is None:
        yield database.fresh(tmp_path)
        return
    with database.private(tmp_path) as url:
        yield url


@pytest.fixture
def postgres_url(database: Database, database_url: str) -> str:
    """The test's database, for tests that only make sense on PostgreSQL (skipped on SQLite)."""
    if not database.is_postgres:
        pytest.skip("needs PostgreSQL (set TEST_DATABASE_URL)")
    return database_url


@pytest.fixture(autouse=True)
def statements_built_by_each_test() -> None:
    """Each test builds the statements it runs that are built on first use and then kept.

    They are cached for the process; without this, only the first test to list tasks (or to
    update a given set of fields, or to read a conversation) would ever run the code that
    builds them, and a mistake in that code (an owner or status condition, a count's label)
    would go unseen by the tests that check those conditions, including under mutation testing.
    """
    for builder in (
        page_query,
        count_query,
        completion_query,
        update_query,
        list_page_query,
        with_messages_query,
    ):
        builder.cache_clear()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app, with its lifespan (engine, JWKS client) running."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: a 500 is a response to assert on, as a client would see it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@asynccontextmanager
async def serving_app(
    database_url: str, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The real app on `database_url` (rate limits off unless overridden) and a client for it."""
    settings = {"rate_limit_enabled": False} | overrides
    app = create_app(make_settings(database_url, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            yield app, client


@asynccontextmanager
async def serving(database_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the real app on `database_url`, as `serving_app` makes it."""
    async with serving_app(database_url, **overrides) as (_, client):
        yield client


def app_database(app: FastAPI) -> PostgresDatabase:
    """The running app's PostgreSQL pool, to see how many connections it holds."""
    state: AppState = app.state.todo_api
    assert isinstance(state.database, PostgresDatabase)
    return state.database


TokenFactory = Callable[..., str]


@pytest.fixture
def make_token() -> TokenFactory:
    """Sign an HS256 token with the test secret: make_token("alice", ttl_seconds=60, aud=...)."""

    def make(sub: Any = "alice", *, ttl_seconds: int = 3600, secret: str = SECRET, **claims: Any) -> str:
        return create_token(sub, secret, ttl_seconds=ttl_seconds, **claims)

    return make


@pytest.fixture
def auth(make_token: TokenFactory) -> Callable[[str], dict[str, str]]:
    """Authorization headers for a user id."""

    def headers(sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(sub)}"}

    return headers


ISSUER = "http://localhost:3000"


@pytest.fixture
async def jwks_client(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, SigningKey, JWKSServer]]:
    """An app configured like a Better Auth deployment: JWKS and iss/aud only, no secret."""
    key = new_key("EdDSA", kid="ba-1")
    with serve_jwks(key) as server:
        settings = make_settings(
            database_url, better_auth_secret=None, jwks_url=server.url, jwt_issuer=ISSUER, jwt_audience=ISSUER
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                yield client, key, server
