"""The typed TypeScript client (clients/typescript) against the real Better Auth and the service.

The client is type-checked and built with `tsc --strict` here, its generated types are
compared with a fresh generation from the service's schema, and `issuer/typed-client.mjs`
drives every call with tokens from Better Auth's own `authClient.token()`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import PASSWORD, unavailable
from tests.interop.example_app import CLIENT_DIR, build_client
from tests.interop.issuer_driver import BetterAuthIssuer, IssuerError, run_node_script
from tests.interop.service_driver import TodoService

pytestmark = pytest.mark.interop

TODO_API = str(Path(sys.executable).parent / "todo-api")


@pytest.fixture(scope="module")
def built_client() -> Path:
    """The client's pinned tools installed, and the client type-checked and built (`tsc`, strict)."""
    try:
        build_client()
    except IssuerError as exc:
        if shutil.which("npm") is None:
            unavailable(f"the TypeScript client's tools cannot be installed: {exc}")
        pytest.fail(f"the TypeScript client does not build: {exc}", pytrace=False)
    return CLIENT_DIR


def test_committed_types_are_generated_from_todays_schema(built_client: Path, tmp_path: Path) -> None:
    schema = tmp_path / "openapi.json"
    schema.write_text(
        subprocess.run([TODO_API, "openapi"], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    )
    generated = tmp_path / "schema.ts"
    result = subprocess.run(
        [
            str(built_client / "node_modules" / ".bin" / "openapi-typescript"),
            str(schema),
            "-o",
            str(generated),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    assert generated.read_text() == (built_client / "src" / "schema.ts").read_text(), (
        "clients/typescript/src/schema.ts is out of date: run `npm run generate` in clients/typescript"
    )


def test_the_runtime_passes_its_own_tests(built_client: Path) -> None:
    # clients/typescript/test: token caching and refresh, 401s, URLs, Retry-After, 422 messages, Link.
    result = subprocess.run(["npm", "test"], cwd=built_client, capture_output=True, text=True, check=False)

    assert result.returncode == 0, f"{result.stdout}{result.stderr}"
    assert "# fail 0" in result.stdout


@pytest.fixture(scope="module")
def report(built_client: Path, issuer: BetterAuthIssuer, jwks_service: TodoService) -> dict[str, Any]:
    env = {"AUTH_URL": issuer.base_url, "API_URL": jwks_service.base_url, "PASSWORD": PASSWORD}
    return run_node_script("typed-client.mjs", env, issuer.issuer_dir)


def test_a_missing_or_relative_base_url_throws_a_clear_error(report: dict[str, Any]) -> None:
    assert report["missingBaseUrl"].startswith("todo-api-client: baseUrl is missing.")
    assert "NEXT_PUBLIC_TODO_API_URL" in report["missingBaseUrl"]
    assert report["relativeBaseUrl"] == 'todo-api-client: baseUrl must be an absolute http(s) URL, got "/api"'


def test_create_list_pages_and_get_return_the_users_tasks(
    report: dict[str, Any], jwks_service: TodoService
) -> None:
    first, second = report["first"], report["second"]
    assert first["user_id"] == second["user_id"] == report["userId"]
    assert (first["title"], first["description"], first["completed"]) == ("Buy milk", "2 litres", False)
    assert report["page1"] == {
        "tasks": [second],
        "total": 2,
        "next": {"limit": 1, "offset": 1},
    }
    assert report["page2"] == {"tasks": [first], "total": 2, "next": None}
    assert report["fetched"] == first
    assert report["firstEtag"].startswith('"')
    assert report["fetchedEtag"] == report["firstEtag"]


def test_if_match_from_a_returned_task_guards_writes(report: dict[str, Any]) -> None:
    assert report["updated"]["title"] == "Buy oat milk"
    assert report["updatedEtag"] not in (None, report["fetchedEtag"])
    assert (report["staleEdit"]["status"], report["staleEdit"]["name"]) == (412, "ApiError")
    assert report["afterStaleEdit"]["title"] == "Buy oat milk"
    assert (report["toggled"]["completed"], report["toggled"]["status"]) == (True, "completed")
    assert report["setPending"]["completed"] is False
    assert report["afterDelete"] == {"tasks": [report["setPending"]], "total": 1, "next": None}


def test_errors_carry_status_detail_and_a_readable_message(report: dict[str, Any]) -> None:
    missing = report["missing"]
    assert (missing["status"], missing["detail"], missing["message"]) == (
        404,
        "Task not found",
        "Task not found",
    )
    invalid = report["invalid"]
    assert invalid["status"] == 422
    assert invalid["message"] == "title: String should have at least 1 character"
    assert invalid["issues"][0]["loc"] == ["body", "title"]
    assert invalid["issues"][0]["input"] == ""  # ValidationIssue carries what was sent
    assert report["badQuery"]["status"] == 400
    assert report["badQuery"]["message"].startswith("invalid 'status'")


def test_tokens_are_fetched_once_and_reused_until_shortly_before_exp(report: dict[str, Any]) -> None:
    # 14 calls to the service, one token from Better Auth (valid 15 minutes).
    assert report["aliceTokenFetches"] == 1


def test_another_users_task_is_not_found_and_untouched(report: dict[str, Any]) -> None:
    assert report["bobList"] == {"tasks": [], "total": 0, "next": None}
    assert report["bobGetsAlicesTask"]["status"] == 404
    assert report["bobDeletesAlicesTask"]["status"] == 404
    assert report["aliceAfterBob"]["id"] == report["first"]["id"]


def test_no_token_and_a_bad_token_are_401(report: dict[str, Any]) -> None:
    assert report["notSignedIn"] == {
        "name": "ApiError",
        "status": 401,
        "detail": "not signed in: the token provider returned no token",
        "message": "not signed in: the token provider returned no token",
        "issues": [],
    }
    assert report["badToken"]["status"] == 401
