"""What a serving worker loads: memory per worker is a budget (docs/performance.md)."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

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


def test_a_worker_without_redis_loads_neither_alembic_nor_the_redis_client() -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"SECRET = {SECRET!r}\n{SERVE_ONE_REQUEST}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.strip() == ""


async def test_objects_built_at_start_up_are_kept_out_of_garbage_collection(settings: Settings) -> None:
    gc.unfreeze()  # whatever earlier tests froze
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()

    assert frozen > 10_000
