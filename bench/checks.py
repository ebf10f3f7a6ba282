"""Contract checks run against each server before it is loaded: same answers, or the race is void."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from bench.load import User


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run_checks(base_url: str, owner: User, other: User, secret: str) -> tuple[dict[str, bool], Any]:
    """Auth, ownership, validation and headers; returns each check's result and `owner`'s list."""
    results: dict[str, bool] = {}
    now = int(time.time())
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
        results["list: 200, X-Total-Count, owner's tasks only"] = (
            listed.status_code == 200
            and listed.headers.get("x-total-count") == str(len(owner.task_ids))
            and {task["user_id"] for task in body} == {body[0]["user_id"]}
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
