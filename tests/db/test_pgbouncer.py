"""Behind a transaction-mode pooler (PgBouncer, as Neon's -pooler host and Supabase's are), with
DB_PREPARED_STATEMENTS=false: every operation works, and the per-user quota still holds under
concurrency. With prepared statements on, requests fail, as asyncpg warns they would.

The tests start Debian's `pgbouncer` on a free port, in front of the test database, with
fewer server connections than the app opens, so the app's connections really share them.
Without pgbouncer they are skipped, unless REQUIRE_INTEROP=1 (set by .ci/run) makes that a
failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import app_database, rows, serving, serving_app
from tests.interop.conftest import unavailable
from tests.interop.issuer_driver import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

Auth = Callable[[str], dict[str, str]]
SERVER_CONNECTIONS = 2  # PgBouncer's connections to PostgreSQL, shared by all of the app's


@dataclass(frozen=True)
class PgBouncer:
    url: str  # the test database, through PgBouncer
    database: str


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found is None:
        unavailable("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    return found


@pytest.fixture
def pgbouncer(postgres_url: str, tmp_path: Path) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of the test database, stopped afterwards."""
    binary = pgbouncer_binary()
    upstream = make_url(postgres_url)
    port = free_port()
    user = upstream.username or "postgres"
    (tmp_path / "users.txt").write_text(f'"{user}" ""\n')
    (tmp_path / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{upstream.database} = host={upstream.host or '127.0.0.1'} port={upstream.port or 5432} "
        f"dbname={upstream.database}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {tmp_path / 'users.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {SERVER_CONNECTIONS}\nmax_client_conn = 200\n"
        # asyncpg sends these at start-up; a pooler has to let them through.
        "ignore_startup_parameters = extra_float_digits\n"
    )
    # PgBouncer refuses to run as root; it reads its files first, then drops to this user.
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
    log = (tmp_path / "pgbouncer.log").open("w")
    process = subprocess.Popen(
        [binary, *as_user, str(tmp_path / "pgbouncer.ini")], stdout=log, stderr=subprocess.STDOUT
    )
    url = upstream.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    try:
        _wait_until_listening(port, process, tmp_path / "pgbouncer.log")
        yield PgBouncer(url=url, database=upstream.database or "")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited with {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"pgbouncer did not listen within 30 s:\n{log.read_text()}")
            time.sleep(0.05)
        else:
            return


async def test_every_operation_works_through_pgbouncer_without_prepared_statements(
    pgbouncer: PgBouncer, postgres_url: str, auth: Auth
) -> None:
    alice = auth("user-0")
    async with serving_app(pgbouncer.url, db_prepared_statements=False) as (app, client):
        created = await asyncio.gather(
            *(
                client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth(f"user-{i % 4}"))
                for i in range(40)
            )
        )
        first, doomed = created[0], created[4]  # both user-0's
        page = await client.get("/api/tasks?limit=5", headers=alice)
        put = await client.put(
            f"/api/tasks/{first.json()['id']}",
            json={"title": "renamed"},
            headers=alice | {"If-Match": first.headers["etag"]},
        )
        stale = await client.put(
            f"/api/tasks/{first.json()['id']}",
            json={"title": "late"},
            headers=alice | {"If-Match": first.headers["etag"]},
        )
        toggled = await client.patch(f"/api/tasks/{first.json()['id']}/complete", headers=alice)
        deleted = await client.delete(f"/api/tasks/{doomed.json()['id']}", headers=alice)
        gone = await client.get(f"/api/tasks/{doomed.json()['id']}", headers=alice)
        final = await client.get(f"/api/tasks/{first.json()['id']}", headers=alice)
        client_connections = app_database(app).open_connections
        server_connections = await rows(
            postgres_url,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
        )

    assert [r.status_code for r in created] == [201] * 40
    assert page.status_code == 200
    assert len(page.json()) == 5
    assert page.headers["x-total-count"] == "10"
    assert put.status_code == 200
    assert stale.status_code == 412
    assert toggled.json()["completed"] is True
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert final.json() | {"updated_at": None} == toggled.json() | {"updated_at": None}
    assert final.json()["title"] == "renamed"
    stored = await rows(
        postgres_url, "SELECT user_id, count(*) AS tasks FROM task GROUP BY user_id ORDER BY user_id"
    )
    assert [(row["user_id"], row["tasks"]) for row in stored] == [
        ("user-0", 9),
        ("user-1", 10),
        ("user-2", 10),
        ("user-3", 10),
    ]
    # The app's connections really shared PgBouncer's few server connections.
    assert client_connections > SERVER_CONNECTIONS
    assert len(server_connections) <= SERVER_CONNECTIONS


async def test_the_task_quota_holds_through_pgbouncer(
    pgbouncer: PgBouncer, postgres_url: str, auth: Auth
) -> None:
    async with serving(pgbouncer.url, db_prepared_statements=False, max_tasks_per_user=5) as client:
        responses = await asyncio.gather(
            *(client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth("alice")) for i in range(40))
        )

    assert sorted(r.status_code for r in responses) == [201] * 5 + [409] * 35
    assert len(await rows(postgres_url, "SELECT id FROM task WHERE user_id = 'alice'")) == 5


async def test_prepared_statements_through_pgbouncer_fail_as_asyncpg_warns(
    pgbouncer: PgBouncer, auth: Auth, caplog: pytest.LogCaptureFixture
) -> None:
    # asyncpg prepares a named statement on whichever server connection PgBouncer lends it,
    # then runs it on whichever comes next: why DB_PREPARED_STATEMENTS=false exists.
    with caplog.at_level(logging.ERROR):
        async with serving(pgbouncer.url, db_prepared_statements=True) as client:
            responses = await asyncio.gather(
                *(
                    client.post("/api/tasks", json={"title": f"t{i}"}, headers=auth(f"user-{i % 4}"))
                    for i in range(40)
                )
            )
    failures = {
        type(record.exc_info[1]).__name__
        for record in caplog.records
        if record.exc_info and record.exc_info[1]
    }

    statuses = {r.status_code for r in responses}
    assert 500 in statuses
    assert statuses <= {201, 500}
    assert failures
    assert failures <= {"InvalidSQLStatementNameError", "DuplicatePreparedStatementError"}
