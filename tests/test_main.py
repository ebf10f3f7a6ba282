"""What a serving worker loads: memory per worker is a budget (docs/performance.md)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import SECRET
from todo_api.config import Settings
from todo_api.main import create_app

SERVE_ONE_REQUEST = textwrap.dedent(
    """
    import asyncio, sys
    import httpx
    from todo_api.config import Settings
    from todo_api.main import create_app

    async def main():
        app = create_app(Settings(database_url="sqlite:///:memory:", better_auth_secret=SECRET))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                assert (await client.get("/api/tasks")).status_code == 401
        print(" ".join(sorted(name for name in ("alembic", "coredis") if name in sys.modules)))

    asyncio.run(main())
    """
)


def run_in_a_fresh_interpreter(script: str) -> str:
    """What `script` prints, run with SECRET defined in an interpreter that has imported nothing."""
    command = [sys.executable, "-c", f"SECRET = {SECRET!r}\n{script}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout


def test_a_worker_without_redis_loads_neither_alembic_nor_the_redis_client() -> None:
    assert run_in_a_fresh_interpreter(SERVE_ONE_REQUEST).strip() == ""


async def test_objects_built_at_start_up_are_kept_out_of_garbage_collection(settings: Settings) -> None:
    app = create_app(settings, serving_process=True)
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()  # give this test process its heap back

    assert frozen > 10_000


async def test_an_app_built_for_tests_leaves_the_heap_alone(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()

    assert frozen == 0


def test_the_served_app_freezes_its_start_up_objects(tmp_path: Path) -> None:
    probe = textwrap.dedent(
        """
        import asyncio, gc
        from todo_api.main import build_app_from_environment

        async def main():
            app = build_app_from_environment()
            async with app.router.lifespan_context(app):
                print(gc.get_freeze_count())

        asyncio.run(main())
        """
    )
    env = {"PATH": os.environ["PATH"], "BETTER_AUTH_SECRET": SECRET, "DATABASE_URL": "sqlite:///:memory:"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
        env=env,
    )

    assert int(result.stdout) > 10_000


# Driven by hand over ASGI: an HTTP client in the script would load httpx itself.
SERVE_ONE_REQUEST_WITHOUT_A_CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    from todo_api.config import Settings
    from todo_api.main import create_app

    async def main():
        app = create_app(Settings(database_url="sqlite:///:memory:", better_auth_secret=SECRET))
        sent = []
        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}
        async def send(message):
            sent.append(message)
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": "/api/tasks", "raw_path": b"/api/tasks", "query_string": b"",
            "root_path": "", "headers": [(b"host", b"test")], "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)
        print(sent[0]["status"], "httpx" in sys.modules)

    asyncio.run(main())
    """
)


def test_a_worker_that_fetches_no_keys_over_http_does_not_load_httpx() -> None:
    assert run_in_a_fresh_interpreter(SERVE_ONE_REQUEST_WITHOUT_A_CLIENT).split() == ["401", "False"]
