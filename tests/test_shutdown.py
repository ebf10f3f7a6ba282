"""Stopping `todo-api serve` in the middle of a write on PostgreSQL: the write either happened
and the client got its success, or did not happen and the client got none.

The write is held in flight by a trigger that waits on an advisory lock the test holds, so the
test knows (by polling pg_locks, not by sleeping) that the write is inside its transaction
when the signal arrives.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import SECRET, answered_within, asyncpg_dsn, eventually, rows
from tests.interop.issuer_driver import free_port
from todo_api.tokens import create_token

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.changes_schema]

TODO_API = str(Path(sys.executable).parent / "todo-api")
GATE = 1414  # the advisory lock key the trigger waits on

HOLD_INSERTS = [
    "CREATE FUNCTION wait_at_gate() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN PERFORM pg_advisory_xact_lock({GATE}); RETURN NEW; END $$",
    "CREATE TRIGGER wait_at_gate BEFORE INSERT ON task FOR EACH ROW EXECUTE FUNCTION wait_at_gate()",
]


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    async def draining(self) -> bool:
        """Whether the server has stopped listening and is waiting for open requests to end."""
        text = await asyncio.to_thread(self.log.read_text, errors="replace")
        return "Waiting for connections to close" in text


@pytest.fixture
def served(postgres_url: str, tmp_path: Path) -> Iterator[Served]:
    """`todo-api serve` on the test's own database, configured only by its environment."""
    port = free_port()
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env |= {
        "DATABASE_URL": postgres_url,
        "BETTER_AUTH_SECRET": SECRET,
        "MIGRATE_ON_STARTUP": "false",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "info",  # uvicorn says when it starts waiting for open requests
    }
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [TODO_API, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(eventually(lambda: _healthy(base_url, process), "serving"))
        yield Served(process, base_url, tmp_path / "serve.log")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


async def _healthy(base_url: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        pytest.fail(f"todo-api serve exited with {process.returncode}")
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{base_url}/health", timeout=1)).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
async def gate(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """Inserts into task wait until this session lets go of the gate lock."""
    holder = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        for statement in HOLD_INSERTS:
            await holder.execute(statement)
        await holder.execute(f"SELECT pg_advisory_lock({GATE})")
        yield holder
    finally:
        await holder.close()


async def _write_waits_at_gate(holder: asyncpg.Connection) -> bool:
    waiting = await holder.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", GATE
    )
    return bool(waiting)


async def _post_in_flight(base_url: str) -> httpx.Response | Exception:
    headers = {"Authorization": f"Bearer {create_token('alice', SECRET, ttl_seconds=600)}"}
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            return await client.post(f"{base_url}/api/tasks", json={"title": "in flight"}, headers=headers)
    except httpx.TransportError as exc:
        return exc


async def test_sigterm_during_a_write_finishes_it_and_the_client_gets_its_success(
    served: Served, gate: asyncpg.Connection, postgres_url: str
) -> None:
    request = asyncio.create_task(_post_in_flight(served.base_url))
    await eventually(lambda: _write_waits_at_gate(gate), "the write waiting inside its transaction")

    served.process.send_signal(signal.SIGTERM)
    # Only once the server is draining (no longer listening, waiting for this request) may the
    # write go on.
    await eventually(served.draining, "draining")
    await gate.execute(f"SELECT pg_advisory_unlock({GATE})")
    answer = await request
    exit_code = await asyncio.to_thread(served.process.wait, 60)
    stored = await rows(postgres_url, "SELECT id, title FROM task")

    # Either outcome would be consistent; a graceful drain gives the first.
    assert isinstance(answer, httpx.Response), answer
    assert answer.status_code == 201
    assert [(row["id"], row["title"]) for row in stored] == [(answer.json()["id"], "in flight")]
    assert exit_code == 0


async def test_a_kill_during_a_write_gives_no_success_and_leaves_it_whole_or_undone(
    served: Served, gate: asyncpg.Connection, postgres_url: str
) -> None:
    request = asyncio.create_task(_post_in_flight(served.base_url))
    await eventually(lambda: _write_waits_at_gate(gate), "the write waiting inside its transaction")

    served.process.kill()
    answer = await request
    await asyncio.to_thread(served.process.wait, 60)
    await gate.execute(f"SELECT pg_advisory_unlock({GATE})")

    # The insert now runs. A create is one autocommit statement (one round trip), and the
    # server already holds all of it, so it commits it although its client is gone: as with a
    # success lost on the way back, the client cannot know; it must never be told a success
    # that did not happen, and the write must be whole (task and quota count) or not at all.
    async def writer_gone() -> bool:
        left = await gate.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'todo-api' "
            "AND datname = current_database()"
        )
        return bool(left == 0)

    await eventually(writer_gone, "the killed service's connection ended")
    stored = await rows(postgres_url, "SELECT title FROM task")
    counted = await rows(postgres_url, "SELECT used FROM task_quota WHERE user_id = 'alice'")

    assert isinstance(answer, httpx.TransportError), answer
    assert [row["title"] for row in stored] in ([], ["in flight"])
    assert sum(row["used"] for row in counted) == len(stored)


async def test_sigterm_ends_open_event_streams_at_once_and_exits_cleanly(served: Served) -> None:
    headers = {"Authorization": f"Bearer {create_token('alice', SECRET, ttl_seconds=600)}"}
    async with (
        httpx.AsyncClient(base_url=served.base_url, timeout=60) as client,
        client.stream("GET", "/api/events", headers=headers) as stream,
    ):
        lines = stream.aiter_lines()
        while (await anext(lines)) != "event: ready":
            pass
        served.process.send_signal(signal.SIGTERM)
        # Without being told, the server would wait GRACEFUL_SHUTDOWN_SECONDS (30) for the
        # stream and then cut it: it must end well before.
        rest = await answered_within(_read_to_the_end(lines), seconds=15)
    exit_code = await asyncio.to_thread(served.process.wait, 15)
    log = served.log.read_text(errors="replace")

    assert "ready" not in rest  # nothing more, just the end
    assert exit_code == 0
    assert "Traceback" not in log
    assert "timeout graceful shutdown exceeded" not in log


async def _read_to_the_end(lines: AsyncIterator[str]) -> str:
    return "\n".join([line async for line in lines])
