"""The `todo-api` command as operators run it: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import jwt
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from tests.conftest import PATIENCE, PRODUCTION_SECRET, SECRET, Database
from todo_api.migrations import alembic_config

# The revision a fresh database is migrated to.
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()

TODO_API = str(Path(sys.executable).parent / "todo-api")


def clean_env(**overrides: str) -> dict[str, str]:
    """Only what a process needs, so the developer's own settings never leak in."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return base | {"LOG_LEVEL": "warning"} | overrides


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`todo-api args…` to its exit; a test failure if it is still running after PATIENCE seconds."""
    try:
        return subprocess.run(
            [TODO_API, *args],
            cwd=cwd,
            env=clean_env(**env),
            capture_output=True,
            text=True,
            timeout=PATIENCE,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        written = expired.stderr.decode() if isinstance(expired.stderr, bytes) else expired.stderr
        pytest.fail(
            f"todo-api {' '.join(args)} was still running after {PATIENCE:g} s, so it was stopped"
            + (f"; it had written: {written}" if written else "")
        )


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers, as a host behind a dead network path."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port: int = sock.getsockname()[1]
        yield port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_token_command_prints_a_token_the_service_accepts(tmp_path: Path) -> None:
    result = run(
        "token", "alice", "--ttl", "120", cwd=tmp_path, BETTER_AUTH_SECRET=SECRET, JWT_AUDIENCE="web"
    )

    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"], audience="web")
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 120


def test_token_command_without_a_secret_in_production_fails_clearly(tmp_path: Path) -> None:
    result = run(
        "token", "alice", cwd=tmp_path, ENVIRONMENT="production", BETTER_AUTH_URL="https://app.example"
    )

    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "todo-api: no BETTER_AUTH_SECRET is configured, so no HS256 token can be signed"
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "postgresql://app:placeholder-pw@db:notaport/app"}, "DATABASE_URL: malformed URL"),
        ({"DATABASE_URL": "mysql://app@db/app"}, "DATABASE_URL: unsupported scheme 'mysql'"),
        ({"ENVIRONMENT": "production"}, "production needs BETTER_AUTH_SECRET"),
        ({"BETTER_AUTH_SECRET": "short"}, "BETTER_AUTH_SECRET: must be at least 32 characters"),
        (
            {"ENVIRONMENT": "production", "BETTER_AUTH_SECRET": "replace-with-at-least-32-random-characters"},
            "in production, BETTER_AUTH_SECRET is an example value from the documentation: anyone could "
            "sign tokens; make one with `openssl rand -base64 48`",
        ),
        (
            {"ENVIRONMENT": "production", "BETTER_AUTH_SECRET": "my-super-secret-password-for-todo-api-2026"},
            "BETTER_AUTH_SECRET does not look random",
        ),
        (
            {"CORS_ORIGINS": "localhost:3000"},
            "CORS_ORIGINS: 'localhost:3000' has no scheme: write http://localhost:3000",
        ),
        (
            {
                "ENVIRONMENT": "production",
                "BETTER_AUTH_SECRET": PRODUCTION_SECRET,
                "DATABSE_URL": "sqlite:///x.db",
            },
            "DATABSE_URL (in the environment) is not a setting: did you mean DATABASE_URL?",
        ),
        # Misspelt, the environment itself is unknown: refused in development too.
        (
            {"ENVIROMENT": "production"},
            "ENVIROMENT (in the environment) is not a setting: did you mean ENVIRONMENT?",
        ),
    ],
)
@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_bad_configuration_stops_start_up_with_one_line(
    tmp_path: Path, command: str, env: dict[str, str], expected: str
) -> None:
    result = run(command, cwd=tmp_path, **env)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("todo-api: invalid configuration: ")
    assert expected in lines[0]
    assert "placeholder-pw" not in result.stderr
    assert "Traceback" not in result.stderr


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a command that could not start printed, checked to be only that."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_unreachable_database_stops_start_up_with_one_line(tmp_path: Path, command: str) -> None:
    port = free_port()  # nothing listens there

    result = run(command, cwd=tmp_path, DATABASE_URL=f"postgresql://app:placeholder-pw@127.0.0.1:{port}/app")

    assert one_line_failure(result) == (
        f"todo-api: cannot connect to PostgreSQL at 127.0.0.1:{port}: connection refused"
        " — is it running, and on that port?"
    )
    assert "placeholder-pw" not in result.stderr


def test_an_unknown_database_host_is_named(tmp_path: Path) -> None:
    # .invalid never resolves (RFC 6761).
    result = run("migrate", cwd=tmp_path, DATABASE_URL="postgresql://app:placeholder-pw@db.invalid/app")

    assert one_line_failure(result) == (
        "todo-api: cannot connect to PostgreSQL at db.invalid:5432: unknown host — is the host name right?"
    )
    assert "placeholder-pw" not in result.stderr


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_a_silent_database_stops_start_up_after_the_connect_timeout(tmp_path: Path, command: str) -> None:
    # Nothing refuses the connection, so only DB_CONNECT_TIMEOUT ends the wait (`run` fails the
    # test if the process is still waiting after PATIENCE seconds).
    with silent_listener() as port:
        url = f"postgresql://app:placeholder-pw@127.0.0.1:{port}/app"
        result = run(command, cwd=tmp_path, DATABASE_URL=url, DB_CONNECT_TIMEOUT="1")

    assert one_line_failure(result) == (
        f"todo-api: cannot connect to PostgreSQL at 127.0.0.1:{port}: no answer within 1 s"
        " (DB_CONNECT_TIMEOUT) — is it reachable from here?"
    )


@pytest.mark.parametrize(
    ("database", "reason"),
    [
        ("missing/todo.db", "the directory missing does not exist"),
        ("a-file/todo.db", "a-file is not a directory"),
    ],
)
def test_a_sqlite_database_that_cannot_be_opened_says_why(tmp_path: Path, database: str, reason: str) -> None:
    (tmp_path / "a-file").write_text("not a directory\n")

    result = run("migrate", cwd=tmp_path, DATABASE_URL=f"sqlite:///{database}")

    assert one_line_failure(result) == f"todo-api: cannot open the SQLite database {database}: {reason}"


def test_a_migration_that_fails_is_called_a_migration_failure(tmp_path: Path) -> None:
    # A database that opens, with a table of the first migration's name that Alembic never made.
    with sqlite3.connect(tmp_path / "todo.db") as connection:
        connection.execute("CREATE TABLE task (id INTEGER)")
    connection.close()

    result = run("migrate", cwd=tmp_path)

    assert one_line_failure(result) == (
        "todo-api: cannot migrate the database at sqlite:///todo.db: table task already exists"
    )


def test_a_misspelt_setting_is_a_warning_in_development(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BETTER_AUTH_SECERT=placeholder-not-read\n")

    result = run("migrate", cwd=tmp_path, CORS_ORIGIN="http://localhost:3000", NODE_ENV="development")

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 2, result.stderr
    assert warnings[0].endswith(
        "todo_api.cli: CORS_ORIGIN (in the environment) is not a setting: did you mean CORS_ORIGINS?"
    )
    assert warnings[1].endswith(
        "todo_api.cli: BETTER_AUTH_SECERT (in .env) is not a setting: did you mean BETTER_AUTH_SECRET?"
    )
    assert "placeholder-not-read" not in result.stderr


def test_serve_warns_of_a_misspelt_setting_once_whatever_the_workers(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABSE_URL=sqlite:///elsewhere.db\n")

    with serving(tmp_path, "--workers", "2") as (process, _):
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)

    assert stderr.count("DATABSE_URL") == 1, stderr
    assert "DATABSE_URL (in .env) is not a setting: did you mean DATABASE_URL?" in stderr


def test_migrate_creates_a_sqlite_database(tmp_path: Path) -> None:
    result = run("migrate", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "todo.db").exists()


@contextmanager
def serving(directory: Path, *options: str, **env: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`todo-api serve [options]` in `directory`, once it answers /health; killed if still running after."""
    port = free_port()
    process = subprocess.Popen(
        [TODO_API, "serve", "--port", str(port), *options],
        cwd=directory,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            process.kill()
            pytest.fail(f"serve did not start: {process.communicate()[1]}")
        yield process, base_url
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`todo-api serve` in a fresh directory, with no configuration at all."""
    with serving(tmp_path) as server:
        yield server


def test_serve_works_with_zero_configuration(
    served: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    process, base_url = served

    process.send_signal(signal.SIGINT)  # first we need the banner, printed before serving
    _, stderr = process.communicate(timeout=15)

    assert process.returncode == 0
    assert f"{base_url.replace('127.0.0.1', 'localhost')}/docs" in stderr
    token = next(line for line in stderr.splitlines() if line.startswith("eyJ"))
    secret = (tmp_path / ".todo-api-secret").read_text().strip()
    assert jwt.decode(token, secret, algorithms=["HS256"])["sub"] == "demo-user"
    assert (tmp_path / "todo.db").exists()


def test_serve_with_zero_configuration_serves_sign_up_and_says_where(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    process, base_url = served
    body = {"name": "Dev", "email": "dev@example.com", "password": "placeholder-password-123"}

    signed_up = httpx.post(f"{base_url}/api/auth/sign-up/email", json=body)
    listed = httpx.get(
        f"{base_url}/api/tasks", headers={"Authorization": f"Bearer {signed_up.json()['token']}"}
    )
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)

    assert signed_up.status_code == 200
    assert listed.status_code == 200
    assert f"{base_url.replace('127.0.0.1', 'localhost')}/api/auth" in stderr


def test_served_api_accepts_the_printed_token_and_stops_cleanly_on_sigterm(
    served: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    process, base_url = served
    secret = (tmp_path / ".todo-api-secret").read_text().strip()
    token = jwt.encode({"sub": "dev", "exp": int(time.time()) + 60}, secret, algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}"}

    created = httpx.post(f"{base_url}/api/tasks", json={"title": "hello"}, headers=headers)
    docs = httpx.get(f"{base_url}/docs")
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=15)

    assert created.status_code == 201
    assert docs.status_code == 200
    assert "server" not in created.headers
    assert process.returncode == 0


@pytest.mark.postgres
def test_instances_starting_together_migrate_once(database: Database, tmp_path: Path) -> None:
    if not database.is_postgres:
        pytest.skip("several instances sharing one database is a PostgreSQL deployment")
    assert database.postgres_admin_url is not None
    name = f"{make_url(database.template_url).database}_concurrent"
    admin = make_url(database.postgres_admin_url)
    target = admin.set(database=name).render_as_string(hide_password=False)
    subprocess.run(
        ["psql", admin.render_as_string(hide_password=False), "-qc", f'CREATE DATABASE "{name}"'], check=True
    )
    try:
        processes = [
            subprocess.Popen(
                [TODO_API, "migrate"],
                cwd=tmp_path,
                env=clean_env(DATABASE_URL=target, LOG_LEVEL="info", LOG_FORMAT="json"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [(process.wait(timeout=60), process.communicate()[1]) for process in processes]
        assert all(code == 0 for code, _ in results), results
        # Migrations are not idempotent (CREATE TABLE), so a second run would have failed above;
        # the database ends at head with one version row and the table created once.
        logged = [json.loads(line) for _, stderr in results for line in stderr.splitlines()]
        assert logged
        assert {line["to_revision"] for line in logged} == {HEAD}

        def query(sql: str) -> list[str]:
            return subprocess.run(
                ["psql", target, "-Atc", sql], check=True, capture_output=True, text=True
            ).stdout.split()

        assert query("SELECT version_num FROM alembic_version") == [HEAD]
        assert query("SELECT count(*) FROM pg_tables WHERE tablename = 'task'") == ["1"]
    finally:
        subprocess.run(
            [
                "psql",
                admin.render_as_string(hide_password=False),
                "-qc",
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            ],
            check=True,
        )


def test_sigterm_lets_an_in_flight_request_finish_then_exits_0(
    served: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    process, base_url = served
    secret = (tmp_path / ".todo-api-secret").read_text().strip()
    token = jwt.encode({"sub": "dev", "exp": int(time.time()) + 60}, secret, algorithm="HS256")
    body = b'{"title": "sent across a shutdown"}'
    port = int(base_url.rsplit(":", 1)[1])

    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        # Headers now, body later. The server answers "100 Continue" once the app asks for the
        # body, so the request is known to be in flight when SIGTERM arrives.
        connection.sendall(
            b"POST /api/tasks HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n".encode()
            + b"Expect: 100-continue\r\n\r\n"
        )
        interim = connection.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n", interim
        process.send_signal(signal.SIGTERM)
        wait_until_refused(port)  # shutdown has begun: no new connections
        connection.sendall(body)
        # The server closes the connection after answering, so read until it does.
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
        reply = b"".join(chunks).decode()

    process.communicate(timeout=30)
    assert reply.startswith("HTTP/1.1 201"), reply
    assert "sent across a shutdown" in reply
    assert process.returncode == 0


def wait_until_refused(port: int, within: float = 30) -> None:
    """Poll until nothing accepts connections on `port` any more."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)  # polling, not ordering: the loop ends on the event itself
    pytest.fail(f"port {port} still accepts connections")


@pytest.mark.postgres
def test_wrong_database_credentials_stop_start_up_with_one_line(database: Database, tmp_path: Path) -> None:
    if not database.is_postgres:
        pytest.skip("needs PostgreSQL")
    # The CI server trusts local connections, so an unknown role stands in for a wrong password.
    url = make_url(database.template_url).set(username="no_such_role", password="placeholder-pw")

    result = run("migrate", cwd=tmp_path, DATABASE_URL=url.render_as_string(hide_password=False))

    assert one_line_failure(result) == (
        f"todo-api: cannot connect to PostgreSQL at {url.host}:{url.port or 5432}: "
        'role "no_such_role" does not exist'
    )
    assert "placeholder-pw" not in result.stderr


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_named(database: Database, tmp_path: Path) -> None:
    if not database.is_postgres:
        pytest.skip("needs PostgreSQL")
    url = make_url(database.template_url).set(database="todo_api_no_such_database", password="placeholder-pw")

    result = run("migrate", cwd=tmp_path, DATABASE_URL=url.render_as_string(hide_password=False))

    assert one_line_failure(result) == (
        f"todo-api: cannot connect to PostgreSQL at {url.host}:{url.port or 5432}: "
        'database "todo_api_no_such_database" does not exist'
    )
    assert "placeholder-pw" not in result.stderr


def test_openapi_prints_the_schema_the_typescript_client_is_generated_from(tmp_path: Path) -> None:
    # The same in any environment: neither a .env nor the variables change it.
    (tmp_path / ".env").write_text("BUILTIN_AUTH=false\n")
    result = run("openapi", cwd=tmp_path, BUILTIN_AUTH="false", ENVIRONMENT="production")

    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert "/api/auth/sign-in/email" in schema["paths"]
    assert "/api/tasks" in schema["paths"]
    assert list(tmp_path.iterdir()) == [tmp_path / ".env"]  # no development secret written
    committed = Path(__file__).resolve().parents[1] / "clients" / "typescript" / "openapi.json"
    assert result.stdout == committed.read_text(), (
        "clients/typescript/openapi.json is out of date: run `npm run generate` in clients/typescript"
    )
