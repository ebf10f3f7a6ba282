"""Contract checks run against each server before it is loaded: same answers, or no race at all.

A failed check stops the benchmark (`ContractBroken`): a server that answers differently would
be measured doing different work, and its numbers compared with nothing.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from bench.load import User


class ContractBroken(SystemExit):
    """A server failed a contract check, or the two servers' lists differ: the run stops."""


def require_passed(server: str, results: dict[str, bool]) -> None:
    """Stop the run, naming every failed check, unless all of `results` passed."""
    failed = [name for name, ok in results.items() if not ok]
    if failed:
        raise ContractBroken(
            f"bench: {server} failed its contract checks, so its numbers would not be comparable; "
            f"stopping. Failed: {'; '.join(failed)}"
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run_checks(base_url: str, owner: User, other: User, secret: str) -> tuple[dict[str, bool], Any]:
    """Auth, ownership, validation and headers; returns each check's result and `owner`'s list."""
    results: dict[str, bool] = {}
    now = int(time.time())
    # The real owner is whoever the token names, not whatever the server happens to return.
    owner_id = jwt.decode(owner.token, secret, algorithms=["HS256"])["sub"]
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        me, them = _bearer(owner.token), _bearer(other.token)
        results["401 without a token"] = client.get("/api/tasks").status_code == 401
        results["401 for a malformed token"] = (
            client.get("/api/tasks", headers=_bearer("x.y.z")).status_code == 401
        )
        expired = jwt.encode({"sub": "someone", "exp": now - 3600}, secret, algorithm="HS256")
        results["401 for an expired token"] = (
            client.get("/api/tasks", headers=_bearer(expired)).status_code == 401
        )
        no_sub = jwt.encode({"exp": now + 3600}, secret, algorithm="HS256")
        results["401 without sub"] = client.get("/api/tasks", headers=_bearer(no_sub)).status_code == 401
        forged = jwt.encode({"sub": "someone", "exp": now + 3600}, "x" * 32 + "wrong", algorithm="HS256")
        results["401 for a wrong signature"] = (
            client.get("/api/tasks", headers=_bearer(forged)).status_code == 401
        )

        listed = client.get("/api/tasks", headers=me)
        body = listed.json()
        results["list: 200, X-Total-Count, exactly the owner's tasks"] = (
            listed.status_code == 200
            and listed.headers.get("x-total-count") == str(len(owner.task_ids))
            and isinstance(body, list)
            and all(task.get("user_id") == owner_id for task in body)
            and sorted(task.get("id") for task in body) == sorted(map(int, owner.task_ids))
        )
        page = client.get("/api/tasks", params={"limit": 5}, headers=me)
        results["list page: 5 items, total, Link"] = (
            len(page.json()) == 5
            and page.headers.get("x-total-count") == str(len(owner.task_ids))
            and 'rel="next"' in page.headers.get("link", "")
        )
        task_path = f"/api/tasks/{owner.task_ids[0]}"
        results["get own task: 200"] = client.get(task_path, headers=me).status_code == 200
        results["get another user's task: 404"] = client.get(task_path, headers=them).status_code == 404
        results["toggle another user's task: 404"] = (
            client.patch(f"{task_path}/complete", headers=them).status_code == 404
        )

        too_long = client.post("/api/tasks", json={"title": "x" * 201}, headers=me)
        blank = client.post("/api/tasks", json={"title": "   "}, headers=me)
        results["create: 422 for a 201-character or blank title"] = (
            too_long.status_code == blank.status_code == 422
        )
        created = client.post("/api/tasks", json={"title": "  Benchmark check  "}, headers=me)
        task = created.json()
        location = f"/api/tasks/{task.get('id')}"
        results["create: 201, Location, stripped title"] = (
            created.status_code == 201
            and created.headers.get("location") == location
            and task.get("title") == "Benchmark check"
            and task.get("completed") is False
        )
        toggled = client.patch(f"{location}/complete", headers=me)
        results["toggle: 200, completed flips"] = (
            toggled.status_code == 200 and toggled.json()["completed"] is True
        )
        results["delete: 204, then 404"] = (
            client.delete(location, headers=me).status_code == 204
            and client.get(location, headers=me).status_code == 404
        )
    return results, body


def run_pocketbase_checks(base_url: str, owner: User, other: User) -> tuple[dict[str, bool], Any]:
    """PocketBase's per-user rules, so a misconfigured rule cannot be measured as fast refusals.

    PocketBase answers differently by design (docs/performance.md lists how): a list it may not
    show is an empty 200, a create is a 200, a record someone else owns is a 404 or a 400.
    Returns each check's result and the titles of `owner`'s list, to compare with the service's.
    """
    results: dict[str, bool] = {}
    records = "/api/collections/tasks/records"
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        me, them = _bearer(owner.token), _bearer(other.token)
        anonymous = client.get(records)
        results["anonymous list: 200 and empty"] = (
            anonymous.status_code == 200 and anonymous.json()["items"] == []
        )
        forged = client.get(records, headers=_bearer(owner.token[:-4] + "AAAA"))
        results["forged token: sees nothing"] = forged.status_code in (200, 401) and (
            forged.status_code == 401 or forged.json()["items"] == []
        )
        listed = client.get(records, params={"perPage": 100, "sort": "-created"}, headers=me)
        body = listed.json()
        items = body.get("items", [])
        results["list: 200, totalItems, exactly the owner's tasks"] = (
            listed.status_code == 200
            and body.get("totalItems") == len(owner.task_ids)
            and all(task.get("user") == owner.user_id for task in items)
            and sorted(task.get("id") for task in items) == sorted(owner.task_ids)
        )
        task_path = f"{records}/{owner.task_ids[0]}"
        results["get own task: 200"] = client.get(task_path, headers=me).status_code == 200
        results["get another user's task: 404"] = client.get(task_path, headers=them).status_code == 404
        results["update another user's task: 404"] = (
            client.patch(task_path, json={"status": "completed"}, headers=them).status_code == 404
        )
        moved = client.patch(task_path, json={"user": other.user_id}, headers=me)
        still_mine = client.get(task_path, headers=me)
        results["update may not move a task to another user"] = (
            moved.status_code in (400, 403, 404)
            and still_mine.status_code == 200
            and still_mine.json()["user"] == owner.user_id
        )
        for_them = client.post(records, json={"title": "not mine", "user": other.user_id}, headers=me)
        results["create for another user: refused"] = for_them.status_code in (400, 403)
        too_long = client.post(records, json={"title": "x" * 201, "user": owner.user_id}, headers=me)
        results["create: 400 for a 201-character title"] = too_long.status_code == 400
        created = client.post(records, json={"title": "Benchmark check", "user": owner.user_id}, headers=me)
        location = f"{records}/{created.json().get('id')}"
        results["create: 200, owned by the caller"] = (
            created.status_code == 200 and created.json().get("user") == owner.user_id
        )
        updated = client.patch(location, json={"status": "completed"}, headers=me)
        results["update own task: 200"] = (
            updated.status_code == 200 and updated.json()["status"] == "completed"
        )
        results["delete: 204, then 404"] = (
            client.delete(location, headers=me).status_code == 204
            and client.get(location, headers=me).status_code == 404
        )
    return results, sorted(task["title"] for task in items)
