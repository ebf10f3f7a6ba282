"""Interop harness: the real Better Auth issuer and `todo-api serve` as processes on loopback.

Better Auth needs PostgreSQL (TEST_DATABASE_URL), Node.js and npm; the browser test also
needs Chromium. When one is missing these tests are skipped with the reason, unless
REQUIRE_INTEROP=1 (set by .ci/run), which turns every such skip into a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import run_sql
from tests.interop.issuer_driver import BetterAuthIssuer, IssuerError, free_port, npm_ci, run_node_script
from tests.interop.model_driver import ScriptedModelProcess
from tests.interop.service_driver import TodoService

# Placeholders: a throwaway secret and password for throwaway processes and users.
SECRET = "interop-placeholder-secret-" + "0123456789abcdef" * 2
PASSWORD = "placeholder-password-123"


BROWSER_DIR = Path(__file__).resolve().parent / "browser"


def unavailable(reason: str) -> NoReturn:
    """Skip for lack of a tool; fail instead when REQUIRE_INTEROP=1 says it must be there."""
    if os.environ.get("REQUIRE_INTEROP") == "1":
        pytest.fail(f"REQUIRE_INTEROP=1, but {reason}", pytrace=False)
    pytest.skip(reason)


class Databases:
    """Creates PostgreSQL databases on the TEST_DATABASE_URL server, each dropped after use."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    @contextmanager
    def fresh(self) -> Iterator[str]:
        """A URL to a new empty database, dropped (connections and all) on exit."""
        name = f"interop_{uuid.uuid4().hex[:12]}"
        url = make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)
        asyncio.run(run_sql(self.admin_url, f'CREATE DATABASE "{name}"'))
        try:
            yield url
        finally:
            asyncio.run(run_sql(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def databases() -> Databases:
    """PostgreSQL for Better Auth and the service; without it there is nothing to test."""
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        unavailable("TEST_DATABASE_URL is not set, and Better Auth needs PostgreSQL")
    return Databases(admin_url)


@pytest.fixture(scope="session")
def installed_issuer() -> BetterAuthIssuer:
    """The issuer's pinned packages, installed once per run with `npm ci`."""
    issuer = BetterAuthIssuer()
    try:
        issuer.ensure_installed()
    except IssuerError as exc:
        unavailable(f"the Better Auth issuer cannot be installed: {exc}")
    return issuer


@contextmanager
def running_issuer(
    installed: BetterAuthIssuer, database_url: str, *, expiration: str = "15m"
) -> Iterator[BetterAuthIssuer]:
    """A Better Auth issuer on a free port, migrated into `database_url`."""
    issuer = BetterAuthIssuer(installed.issuer_dir)
    with issuer:
        issuer.start(database_url, port=free_port(), secret=SECRET, expiration=expiration)
        yield issuer


@pytest.fixture(scope="module")
def issuer(databases: Databases, installed_issuer: BetterAuthIssuer) -> Iterator[BetterAuthIssuer]:
    """One Better Auth issuer (and its own database) for the whole test module."""
    with databases.fresh() as url, running_issuer(installed_issuer, url) as running:
        yield running


@dataclass
class BetterAuthUser:
    """A user signed up through Better Auth's HTTP API; `session` holds its cookie."""

    id: str
    email: str
    session: httpx.Client


def sign_up(issuer: BetterAuthIssuer, name: str) -> BetterAuthUser:
    """Sign up through POST /api/auth/sign-up/email, as the frontend's signUp.email() does."""
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    session = issuer.sign_up(name, email, PASSWORD)
    return BetterAuthUser(id=issuer.user_id(session), email=email, session=session)


# A new pair of users for every test, so no test sees another's tasks.
@pytest.fixture
def alice(issuer: BetterAuthIssuer) -> Iterator[BetterAuthUser]:
    user = sign_up(issuer, "alice")
    yield user
    user.session.close()


@pytest.fixture
def bob(issuer: BetterAuthIssuer) -> Iterator[BetterAuthUser]:
    user = sign_up(issuer, "bob")
    yield user
    user.session.close()


def jwks_settings(issuer: BetterAuthIssuer) -> dict[str, str]:
    """The jwt() plugin set-up the README documents: Better Auth's URL as JWKS, iss and aud."""
    return {
        "BETTER_AUTH_URL": issuer.base_url,
        "JWT_ISSUER": issuer.base_url,
        "JWT_AUDIENCE": issuer.base_url,
        # Refetch at once on an unknown kid, so a rotation is seen by the very next request.
        "JWKS_REFETCH_INTERVAL": "0",
    }


def hs256_settings(issuer: BetterAuthIssuer) -> dict[str, str]:
    """The HS256 bridge set-up: the frontend's BETTER_AUTH_SECRET, and its URL as iss/aud.
    Sign-in lives on that frontend, so the built-in one (on by default in development) is off."""
    return {
        "BUILTIN_AUTH": "false",
        "BETTER_AUTH_SECRET": SECRET,
        "JWT_ISSUER": issuer.base_url,
        "JWT_AUDIENCE": issuer.base_url,
    }


ServiceFactory = Callable[..., TodoService]


@contextmanager
def services(workdir: Path, databases: Databases) -> Iterator[ServiceFactory]:
    """Start `todo-api serve` processes, each with a fresh database unless one is given."""
    with ExitStack() as stack:
        counter = itertools.count()

        def start(env: dict[str, str], database_url: str | None = None) -> TodoService:
            if database_url is None:
                database_url = stack.enter_context(databases.fresh())
            service = TodoService(workdir / f"service-{next(counter)}", env | {"DATABASE_URL": database_url})
            # Registered after its database, so it stops before the database is dropped.
            stack.callback(service.stop)
            return service.start()

        yield start


@pytest.fixture(scope="module")
def module_services(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases
) -> Iterator[ServiceFactory]:
    """Start services that live as long as the test module."""
    with services(tmp_path_factory.mktemp("services"), databases) as start:
        yield start


@pytest.fixture
def start_service(tmp_path: Path, databases: Databases) -> Iterator[ServiceFactory]:
    """Start services that live as long as one test."""
    with services(tmp_path, databases) as start:
        yield start


@pytest.fixture(scope="module")
def jwks_service(issuer: BetterAuthIssuer, module_services: ServiceFactory) -> TodoService:
    """The service configured only with Better Auth's URL (jwt() plugin tokens)."""
    return module_services(jwks_settings(issuer))


@pytest.fixture(scope="module")
def hs256_service(issuer: BetterAuthIssuer, module_services: ServiceFactory) -> TodoService:
    """The service configured only with the shared secret (HS256 bridge tokens)."""
    return module_services(hs256_settings(issuer))


@pytest.fixture(scope="module")
def scripted_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScriptedModelProcess]:
    """The chat tests' scripted model in a process, for the test module's chatting services."""
    with ScriptedModelProcess(tmp_path_factory.mktemp("model")) as model:
        yield model


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


def run_in_chromium(script: str, chromium: str, **env: str) -> dict[str, Any]:
    """Run a script from browser/ and return the JSON report it prints."""
    return run_node_script(script, {"CHROMIUM": chromium} | env, BROWSER_DIR, timeout=120)
