"""The frontend code docs/frontend.md gives, run against the real Better Auth and the service.

`issuer/frontend.mjs` holds that code: Better Auth's own client with `jwtClient()`, tokens
from `authClient.token()`, and the `api` helper calling every task endpoint.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest

from tests.interop.conftest import PASSWORD
from tests.interop.issuer_driver import BetterAuthIssuer, run_node_script
from tests.interop.service_driver import TodoService

pytestmark = pytest.mark.interop


def run_frontend(issuer: BetterAuthIssuer, service: TodoService) -> dict[str, Any]:
    env = {
        "AUTH_URL": issuer.base_url,
        "API_URL": service.base_url,
        "EMAIL": f"frontend-{uuid.uuid4().hex[:8]}@example.com",
        "PASSWORD": PASSWORD,
    }
    return run_node_script("frontend.mjs", env, issuer.issuer_dir)


def test_documented_frontend_code_signs_up_gets_tokens_and_uses_every_endpoint(
    issuer: BetterAuthIssuer, jwks_service: TodoService
) -> None:
    report = run_frontend(issuer, jwks_service)

    user_id = report["userId"]
    assert jwt.decode(report["token"], options={"verify_signature": False})["sub"] == user_id
    first, second = report["first"], report["second"]
    assert first["user_id"] == second["user_id"] == user_id
    assert (first["title"], first["description"], first["completed"]) == ("Buy milk", "2 litres", False)
    assert report["page1"] == {
        "tasks": [second],
        "total": 2,
        "next": f"{jwks_service.base_url}/api/tasks?status=all&sort=-created_at&limit=1&offset=1",
    }
    assert report["page2"] == {"tasks": [first], "total": 2, "next": None}
    assert report["fetched"] == first
    assert report["etag"].startswith('"')
    assert report["updated"]["title"] == "Buy oat milk"
    assert report["staleEdit"]["status"] == 412  # edited with the version from before the update
    assert (report["toggled"]["completed"], report["toggled"]["status"]) == (True, "completed")
    assert report["afterDelete"] == {"tasks": [report["toggled"]], "total": 1, "next": None}
    assert report["missing"] == {"name": "ApiError", "status": 404, "detail": "Task not found"}
    assert report["invalid"]["status"] == 422
    assert report["invalid"]["detail"][0]["loc"] == ["body", "title"]
    assert report["badQuery"]["status"] == 400
    assert report["badQuery"]["detail"].startswith("invalid 'status'")
