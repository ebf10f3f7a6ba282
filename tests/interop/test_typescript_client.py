"""The typed TypeScript client (clients/typescript) against the real Better Auth and the service.

The client is type-checked and built with `tsc --strict` here, its generated types are
compared with a fresh generation from the service's schema, and `issuer/typed-client.mjs`
drives every call with tokens from Better Auth's own `authClient.token()`: the chat calls on a
second service whose model is the chat tests' scripted one, in a process of its own. The events
stream is followed through a proxy the script cuts, as a network drops a connection.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import PASSWORD, ServiceFactory, jwks_settings, unavailable
from tests.interop.example_app import CLIENT_DIR, build_client
from tests.interop.issuer_driver import BetterAuthIssuer, IssuerError, run_node_script
from tests.interop.model_driver import ScriptedModelProcess
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
def chat_service(
    issuer: BetterAuthIssuer, module_services: ServiceFactory, scripted_model: ScriptedModelProcess
) -> TodoService:
    """The service on the same Better Auth, chatting with the scripted model."""
    return module_services(jwks_settings(issuer) | scripted_model.chat_settings())


# The model's replies to typed-client.mjs's chat calls, in their order.
CHAT_SCRIPT: list[dict[str, Any]] = [
    {"call": [["add_task", {"title": "Buy milk", "priority": "high"}]]},
    {"say": "Added Buy milk, high priority."},
    {"call": [["list_tasks", {"status": "pending"}]]},
    {"say": "One task is due: Buy milk.", "pause": 0.05},
    {"fail": 500},
    {"say": "Once upon a time, there was a very long story.", "pause": 1.0},
]


@pytest.fixture(scope="module")
def report(
    built_client: Path,
    issuer: BetterAuthIssuer,
    jwks_service: TodoService,
    chat_service: TodoService,
    scripted_model: ScriptedModelProcess,
) -> dict[str, Any]:
    scripted_model.script(*CHAT_SCRIPT)
    env = {
        "AUTH_URL": issuer.base_url,
        "API_URL": jwks_service.base_url,
        "CHAT_API_URL": chat_service.base_url,
        "PASSWORD": PASSWORD,
    }
    return run_node_script("typed-client.mjs", env, issuer.issuer_dir) | {"model": scripted_model.received()}


def test_a_missing_or_relative_base_url_throws_a_clear_error(report: dict[str, Any]) -> None:
    assert report["missingBaseUrl"].startswith("todo-api-client: baseUrl is missing.")
    assert "NEXT_PUBLIC_TODO_API_URL" in report["missingBaseUrl"]
    assert report["relativeBaseUrl"] == 'todo-api-client: baseUrl must be an absolute http(s) URL, got "/api"'


def listed(page: dict[str, Any]) -> dict[str, Any]:
    """A `listTasks` page without its sync token, which must be one (a whole number's text)."""
    assert page["syncToken"].isdigit()
    return {key: value for key, value in page.items() if key != "syncToken"}


def test_create_list_pages_and_get_return_the_users_tasks(
    report: dict[str, Any], jwks_service: TodoService
) -> None:
    first, second = report["first"], report["second"]
    assert first["user_id"] == second["user_id"] == report["userId"]
    assert (first["title"], first["description"], first["completed"]) == ("Buy milk", "2 litres", False)
    assert listed(report["page1"]) == {
        "tasks": [second],
        "total": 2,
        "next": {"limit": 1, "offset": 1},
    }
    assert listed(report["page2"]) == {"tasks": [first], "total": 2, "next": None}
    # Nothing changed between the two pages: both were read at the same point of the changes.
    assert report["page1"]["syncToken"] == report["page2"]["syncToken"]
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
    assert listed(report["afterDelete"]) == {"tasks": [report["setPending"]], "total": 1, "next": None}


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
    assert report["bobList"] == {"tasks": [], "total": 0, "next": None, "syncToken": "0"}
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


def test_events_follow_the_changes_from_the_lists_token_across_a_dropped_connection(
    report: dict[str, Any],
) -> None:
    live = report["live"]
    start, task = int(live["listToken"]), live["taskId"]

    def seen(kind: str, seq: int, title: str | None = "Water plants") -> dict[str, Any]:
        task_id = task if kind.startswith("task.") else None
        return {"type": kind, "seq": seq, "taskId": task_id, "title": title}

    # Each change once, in order: the two made while the connection was down came after the
    # client connected again by itself, from the last event it had.
    assert live["events"] == [
        seen("ready", start, None),
        seen("task.created", start + 1),
        seen("ready", start + 1, None),
        seen("task.completed", start + 2),
        seen("task.deleted", start + 3, None),
    ]
    assert live["refused"] >= 1
    first, *again = live["resumedFrom"]
    assert first == live["listToken"]
    assert len(again) >= 2  # refused at least once, then connected
    assert set(again) == {str(start + 1)}
    assert live["stopped"] is None  # aborting ends the loop without an error


def test_another_users_stream_never_sees_the_changes(report: dict[str, Any]) -> None:
    assert [event["type"] for event in report["live"]["bobEvents"]] == ["ready"]
    assert report["live"]["bobStopped"] is None


def test_changes_since_a_token_answer_tombstones_and_page_with_next(report: dict[str, Any]) -> None:
    live = report["live"]
    start = int(live["listToken"])
    assert report["changes"] == {
        "changes": [{"id": live["taskId"], "deleted": True}],
        "syncToken": str(start + 3),
        "next": None,
    }
    # a, then b (created, then edited): each once, in the order of its latest change.
    a, b = report["changedIds"]
    first, rest = report["changePages"]
    assert [change["id"] for change in first["changes"]] == [a]
    assert first["next"] == first["syncToken"] == str(start + 4)
    assert [(change["id"], change["title"]) for change in rest["changes"]] == [(b, "b2")]
    assert (rest["syncToken"], rest["next"]) == (str(start + 6), None)


def test_a_ticket_opens_one_stream_once_without_a_token(report: dict[str, Any]) -> None:
    ticket = report["ticket"]
    assert ticket["expiresAt"].endswith("Z")
    assert ticket["first"]["status"] == 200
    assert ticket["first"]["type"].startswith("text/event-stream")
    assert "event: ready" in ticket["first"]["text"]
    assert ticket["again"]["status"] == 401


def test_a_refused_stream_throws_an_api_error_and_is_not_tried_again(report: dict[str, Any]) -> None:
    refused = report["eventsBadToken"]
    assert (refused["name"], refused["status"], refused["attempts"]) == ("ApiError", 401, 1)
    assert report["eventsNotSignedIn"]["status"] == 401
    assert report["eventsNotSignedIn"]["message"] == "not signed in: the token provider returned no token"


def test_chat_without_a_model_is_a_503_naming_the_settings(report: dict[str, Any]) -> None:
    for failed in (report["chatNotConfigured"], report["chatStreamNotConfigured"]):
        assert (failed["name"], failed["status"]) == ("ApiError", 503)
        assert failed["message"].startswith("Chat is not configured on this service: set CHAT_MODEL")


def test_chat_answers_with_its_tool_calls_and_the_stored_message(report: dict[str, Any]) -> None:
    answer = report["chatAnswer"]
    [call] = answer["tool_calls"]
    assert (call["name"], call["arguments"]) == ("add_task", {"title": "Buy milk", "priority": "high"})
    assert (call["result"]["title"], call["result"]["priority"]) == ("Buy milk", "high")
    assert answer["response"] == "Added Buy milk, high priority."
    assert (answer["message"]["role"], answer["message"]["content"]) == ("assistant", answer["response"])


def test_chat_stream_yields_typed_events_and_the_stored_answer_last(report: dict[str, Any]) -> None:
    events = report["streamed"]
    kinds = [event["type"] for event in events]
    assert kinds[0] == "tool_call"
    assert set(kinds[1:-1]) == {"delta"}
    assert len(kinds) > 3, "the text came in pieces"
    assert kinds[-1] == "done"
    call = events[0]["call"]
    assert (call["name"], call["result"]["total"]) == ("list_tasks", 1)
    done = events[-1]["answer"]
    written = "".join(event["text"] for event in events[1:-1])
    assert written == done["response"] == "One task is due: Buy milk."
    assert done["conversation_id"] == report["chatAnswer"]["conversation_id"]
    assert done["tool_calls"] == [call]
    # The streamed turn continued the conversation: the model was sent the first turn.
    continued = report["model"][2]
    assert continued["stream"] is True
    said = [(message["role"], message.get("content")) for message in continued["messages"]]
    assert ("user", "add buy milk tomorrow with high priority") in said
    assert said[-1] == ("user", "what's due this week?")


def test_an_error_event_is_thrown_as_an_api_error(report: dict[str, Any]) -> None:
    failed = report["streamFailure"]
    assert (failed["name"], failed["status"], failed["before"]) == ("ApiError", 502, [])
    assert "marked unanswered" in failed["message"]
    # The message was kept in its conversation, which the error names for a retry.
    assert failed["conversationId"] == report["chatAnswer"]["conversation_id"]
    assert report["unknownConversation"]["status"] == 404
    assert "conversationId" not in report["unknownConversation"]


def test_an_aborted_stream_stops_and_its_message_is_kept_unanswered(report: dict[str, Any]) -> None:
    assert report["aborted"]["error"] == "AbortError"
    assert [event["type"] for event in report["aborted"]["before"]] == ["delta"]
    messages = report["conversation"]["conversation"]["messages"]
    assert [(m["role"], m["content"], m["unanswered"]) for m in messages] == [
        ("user", "add buy milk tomorrow with high priority", False),
        ("assistant", "Added Buy milk, high priority.", False),
        ("user", "what's due this week?", False),
        ("assistant", "One task is due: Buy milk.", False),
        ("user", "and next week?", True),
        ("user", "tell me a long story", True),
    ]


def test_conversation_calls_list_page_and_delete_what_chat_stored(report: dict[str, Any]) -> None:
    conversation_id = report["chatAnswer"]["conversation_id"]
    page = report["conversations"]
    assert (page["total"], page["next"]) == (1, None)
    [listed] = page["conversations"]
    assert (listed["id"], listed["message_count"]) == (conversation_id, 6)
    assert listed["title"].startswith("add buy milk")
    messages = report["conversation"]["conversation"]["messages"]
    latest, older = report["olderMessages"], report["olderStill"]
    assert latest["conversation"]["messages"] == messages[-2:]
    assert latest["older"] == {"limit": 2, "before": messages[-2]["id"]}
    assert older["conversation"]["messages"] == messages[-4:-2]
    assert report["afterDeleteConversations"] == {"conversations": [], "total": 0, "next": None}
    assert report["deletedConversation"]["status"] == 404


def test_another_users_conversation_is_not_found(report: dict[str, Any]) -> None:
    assert report["bobGetsAlicesConversation"]["status"] == 404
    assert report["bobContinuesAlicesConversation"]["status"] == 404
