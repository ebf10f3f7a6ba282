"""examples/nextjs, built once and started with `next start`, in Chromium against todo-api serve.

Each set-up of docs/frontend.md that the example selects with AUTH_MODE runs the same user
journey (browser/nextjs-example.mjs): `jwt` (Better Auth's jwt() plugin in the app, on its own
database; the service reads the app's keys at /api/auth/jwks), `shared-database` (the same
on the service's database, with BETTER_AUTH_SHARED_DATABASE=true) and `builtin` (no Better
Auth in the app: the service's own /api/auth signs users in, and its session cookie, sent by
the browser and forwarded by the app's server, stands for the user). Everything runs on
localhost, one host name for the app, Better Auth and CORS, as the guide's local development
block says.

The service chats with the chat tests' scripted model, in a process of its own. The chat panel
runs in every set-up: it calls the service from the browser with the set-up's own credentials
(a bearer token, or the service's cookie on a cross-origin POST whose answer streams).

Live updates (browser/nextjs-live.mjs) run in every set-up too: two tabs of one user and a
second user's browser, the events stream read from the browser with the same credentials, and
reminders fired by the service's own scheduler.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.conftest import asyncpg_dsn, rows
from tests.interop.conftest import PASSWORD, SECRET, Databases, run_in_chromium
from tests.interop.example_app import ExampleApp, build_example
from tests.interop.issuer_driver import IssuerError, free_port
from tests.interop.model_driver import ScriptedModelProcess
from tests.interop.service_driver import TodoService

# The module's first test may build the client and the app first (bounded at 120 s and 600 s),
# then starts them and Chromium.
pytestmark = [pytest.mark.interop, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def built_example(chromium: str) -> None:
    """The example's packages and its production build (`next build`, skipped when current)."""
    try:
        build_example()
    except IssuerError as exc:
        pytest.fail(f"the example app cannot be built: {exc}", pytrace=False)


def localhost(service: TodoService) -> str:
    """The service's URL with the app's host name (it listens on 127.0.0.1, which localhost is)."""
    return f"http://localhost:{service.port}"


class Setup:
    """The app and the service of one set-up, and the database the tasks are in."""

    def __init__(self, mode: str, app: ExampleApp, service: TodoService, tasks_database: str) -> None:
        self.mode, self.app, self.service, self.tasks_database = mode, app, service, tasks_database


@pytest.fixture(scope="module", params=["jwt", "shared-database", "builtin"])
def setup(
    request: pytest.FixtureRequest,
    databases: Databases,
    built_example: None,
    scripted_model: ScriptedModelProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Setup]:
    mode: str = request.param
    workdir = tmp_path_factory.mktemp(mode)
    port = free_port()
    app_url = f"http://localhost:{port}"
    with ExitStack() as stack:
        tasks_database = stack.enter_context(databases.fresh())
        auth_database = (
            tasks_database if mode == "shared-database" else stack.enter_context(databases.fresh())
        )
        service_env = (
            # Reminders fire within a fifth of a second of coming due, for the live journey.
            {"DATABASE_URL": tasks_database, "CORS_ORIGINS": app_url, "REMINDER_INTERVAL": "0.2"}
            | scripted_model.chat_settings()
            | (
                # The service signs users in itself, and knows them by its session cookie.
                {"BUILTIN_AUTH": "true", "BETTER_AUTH_SECRET": SECRET}
                if mode == "builtin"
                else {
                    "BUILTIN_AUTH": "false",
                    "BETTER_AUTH_URL": app_url,
                    "JWT_ISSUER": app_url,
                    "JWT_AUDIENCE": app_url,
                    "BETTER_AUTH_SHARED_DATABASE": "true" if mode == "shared-database" else "false",
                }
            )
        )
        service = TodoService(workdir / "service", service_env)
        app_env = {"AUTH_MODE": mode, "TODO_API_URL": localhost(service)} | (
            {}  # no Better Auth in the app
            if mode == "builtin"
            else {
                "BETTER_AUTH_URL": app_url,
                "BETTER_AUTH_SECRET": SECRET,
                "AUTH_DATABASE_URL": auth_database,
            }
        )
        # With a shared database the app starts first: it creates Better Auth's tables, which the
        # service's migration needs (its foreign key points at "user").
        app = ExampleApp(workdir / "app", app_env, port)
        for process in (app, service) if mode == "shared-database" else (service, app):
            stack.enter_context(process)
        yield Setup(mode, app, service, tasks_database)


@pytest.fixture(scope="module")
def screenshot(setup: Setup, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the journey leaves its full-page picture of the list (a fresh one every run)."""
    return tmp_path_factory.mktemp(f"screenshot-{setup.mode}") / "tasks.png"


@pytest.fixture(scope="module")
def chat_screenshot(screenshot: Path) -> Path:
    """Where the journey leaves its picture of the chat panel."""
    return screenshot.with_name("chat.png")


TIME_ZONE = ZoneInfo("Pacific/Auckland")  # the journey's
TOMORROW = (datetime.now(TIME_ZONE) + timedelta(days=1)).date()
FIRST_REPLY = "Added “Buy milk”, due tomorrow, with high priority."
SECOND_REPLY = "One task is due this week: Buy milk, tomorrow."
# The model's replies to the journey's chat, in order; the answers are written slowly enough
# for the page to be seen writing them.
CHAT_SCRIPT: list[dict[str, Any]] = [
    {
        "call": [
            [
                "add_task",
                {
                    "title": "Buy milk",
                    "priority": "high",
                    "due_date": TOMORROW.isoformat(),
                    "timezone": "Pacific/Auckland",
                },
            ]
        ]
    },
    {"say": FIRST_REPLY, "pause": 0.4},
    {"call": [["list_tasks", {"status": "pending"}]]},
    {"say": SECOND_REPLY, "pause": 0.4},
    {"say": "Hello! What shall we do today?", "pause": 0.4},
]


@pytest.fixture(scope="module")
def report(
    chromium: str,
    setup: Setup,
    screenshot: Path,
    chat_screenshot: Path,
    scripted_model: ScriptedModelProcess,
) -> dict[str, Any]:
    scripted_model.script(*CHAT_SCRIPT)
    env = {
        "APP_URL": setup.app.base_url,
        "API_URL": localhost(setup.service),
        "PASSWORD": PASSWORD,
        "SCREENSHOT": str(screenshot),
        "CHAT_SCREENSHOT": str(chat_screenshot),
        "CHAT": "1",
    }
    if setup.mode == "builtin":
        env["COOKIES"] = "1"
    return run_in_chromium("nextjs-example.mjs", chromium, **env) | {"model": scripted_model.received()}


def row(title: str, **fields: Any) -> dict[str, Any]:
    """A row of the list as the journey reads it: these fields, the others as a plain new task."""
    plain = {"done": False, "struck": False, "priority": "medium", "tags": [], "due": None}
    return {"title": title} | plain | {"overdue": False, "repeat": None} | fields


BUY_MILK = row(
    "Buy milk", priority="high", tags=["#shop", "#home"], due="Overdue Mon 15 Jan 2024", overdue=True
)
CALL_MUM = row("Call mum", priority="urgent", tags=["#family"], due="Mon 1 Jun 2099, 18:30")
WATER_PLANTS = row("Water plants", tags=["#home"], due="Sun 10 Mar 2030", repeat="↻ daily")
WATERED = WATER_PLANTS | {"done": True, "struck": True}
NEXT_WATERING = WATER_PLANTS | {"due": "Mon 11 Mar 2030"}
READ_A_NOVEL = row("Read a novel", priority="high")


def test_a_new_user_starts_with_an_empty_list(report: dict[str, Any]) -> None:
    assert report["aliceFirstList"] == []


def test_added_tasks_show_priority_tags_due_date_overdue_and_repeat(report: dict[str, Any]) -> None:
    assert report["added"] == [
        row("Throw away"),
        row("Read a book", priority="low"),
        WATER_PLANTS,
        CALL_MUM,
        BUY_MILK,
    ]


def test_a_local_due_time_is_read_in_the_users_time_zone(report: dict[str, Any]) -> None:
    tasks = {task["title"]: task for task in report["tasksFromTheService"]}

    assert report["timeZone"] == "Pacific/Auckland"
    assert (tasks["Call mum"]["due_date"], tasks["Call mum"]["timezone"]) == (
        "2099-06-01T18:30:00+12:00",
        "Pacific/Auckland",
    )
    # An all-day task keeps its date, in the user's zone too.
    assert tasks["Buy milk"]["due_date"] == "2024-01-15"
    assert tasks["Buy milk"]["timezone"] == "Pacific/Auckland"


def test_completing_a_recurring_task_lists_its_next_occurrence(report: dict[str, Any]) -> None:
    throw_away, read_a_book = row("Throw away"), row("Read a book", priority="low")

    assert report["afterRecurring"] == [NEXT_WATERING, throw_away, read_a_book, WATERED, CALL_MUM, BUY_MILK]
    assert report["recurringNotice"] == "“Water plants” repeats: next due Mon 11 Mar 2030."
    assert report["nextLink"] == "next: Mon 11 Mar 2030"
    service = report["tasksFromTheService"]  # oldest first
    watered, next_watering = (task for task in service if task["title"] == "Water plants")
    assert watered["next_task_id"] == next_watering["id"]
    assert (next_watering["status"], next_watering["due_date"]) == ("pending", "2030-03-11")


def test_a_task_is_edited_in_place_with_the_version_it_was_opened_on(report: dict[str, Any]) -> None:
    assert report["edited"][2] == READ_A_NOVEL
    assert report["editEtag"]
    assert report["editIfMatch"] == report["editEtag"]


def test_search_finds_a_task_by_the_start_of_a_word(report: dict[str, Any]) -> None:
    assert report["searched"] == [READ_A_NOVEL]
    assert report["searchHeading"] == "1 task matching “nov”"


def test_the_toolbar_filters_by_priority_tag_and_status(report: dict[str, Any]) -> None:
    assert report["highPriority"] == [READ_A_NOVEL, BUY_MILK]
    assert report["tagOptions"] == ["any tag", "family (1)", "home (3)", "shop (1)"]
    assert report["taggedHome"] == [NEXT_WATERING, WATERED, BUY_MILK]
    assert (report["taggedShop"], report["tagChosenByChip"]) == ([BUY_MILK], "shop")
    assert report["done"] == [WATERED]
    assert [task["title"] for task in report["open"]] == [
        "Water plants",
        "Throw away",
        "Read a novel",
        "Call mum",
        "Buy milk",
    ]
    assert not any(task["done"] for task in report["open"])


def test_sorting_by_priority_puts_urgent_then_high_first(report: dict[str, Any]) -> None:
    priorities = [task["priority"] for task in report["byPriority"]]

    assert priorities == ["urgent", "high", "high", "medium", "medium", "medium"]
    assert report["byPriority"][0]["title"] == "Call mum"


def test_sorting_by_due_date_puts_the_soonest_first_and_undated_last(report: dict[str, Any]) -> None:
    assert report["byDueDate"][:4] == ["Buy milk", "Water plants", "Water plants", "Call mum"]
    assert sorted(report["byDueDate"][4:]) == ["Read a novel", "Throw away"]


def test_completed_tasks_are_struck_through(report: dict[str, Any]) -> None:
    struck = [(task["title"], task["done"]) for task in report["afterDelete"] if task["struck"]]

    assert struck == [("Water plants", True)]


def test_a_deleted_task_leaves_the_list(report: dict[str, Any]) -> None:
    assert report["afterDelete"] == [NEXT_WATERING, READ_A_NOVEL, WATERED, CALL_MUM, BUY_MILK]


def test_a_validation_error_reads_as_a_sentence(report: dict[str, Any]) -> None:
    assert report["emptyTitleError"] == "title: String should have at least 1 character"


def test_the_server_renders_the_one_list_into_the_html(report: dict[str, Any]) -> None:
    def brief(task: dict[str, Any]) -> dict[str, Any]:
        return {"title": task["title"], "done": task["done"], "overdue": task["overdue"]}

    # One list, already holding the tasks before any script runs; the browser takes it over.
    assert report["aliceServerHtml"]["lists"] == 1
    assert report["aliceServerHtml"]["rows"] == [brief(task) for task in report["afterDelete"]]
    assert report["aliceReloaded"] == report["afterDelete"]


def test_the_page_hydrates_and_runs_without_an_error(report: dict[str, Any]) -> None:
    assert report["pageErrors"] == []


@pytest.mark.parametrize("picture", ["list", "chat"])
def test_the_journey_leaves_full_page_screenshots(
    report: dict[str, Any], picture: str, screenshot: Path, chat_screenshot: Path
) -> None:
    png = (screenshot if picture == "list" else chat_screenshot).read_bytes()

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert width == 1000  # the journey's viewport
    assert height >= 800  # the whole page, at least the viewport


def test_a_second_user_sees_none_of_the_first_users_tasks(report: dict[str, Any]) -> None:
    assert report["bobServerHtml"] == {"lists": 1, "rows": []}
    assert (report["bobBrowserStatus"], report["bobBrowserList"]) == (200, [])
    assert report["bobGetsAlicesTask"] == 404
    assert report["aliceAgainList"] == [task["title"] for task in report["afterDelete"]]
    assert report["aliceGetsHerTask"] == 200


def test_the_page_talks_only_to_the_app_and_the_service(report: dict[str, Any], setup: Setup) -> None:
    allowed = {urlsplit(setup.app.base_url).netloc, urlsplit(localhost(setup.service)).netloc}
    assert {urlsplit(url).netloc for url in report["requests"]} <= allowed


def said(role: str, text: str, *chips: str, unanswered: bool = False) -> dict[str, Any]:
    """A message of the chat panel as the journey reads it."""
    return {"role": role, "text": text, "chips": list(chips), "unanswered": unanswered}


FIRST_TURN = [
    said("user", "add buy milk tomorrow with high priority"),
    said("assistant", FIRST_REPLY, "add_task: Buy milk"),
]
SECOND_TURN = [
    *FIRST_TURN,
    said("user", "what's due this week?"),
    said("assistant", SECOND_REPLY, "list_tasks: 1 task"),
]


def test_the_assistants_reply_streams_in_with_its_tool_call_as_a_chip(report: dict[str, Any]) -> None:
    # Seen while the answer was still being written: a part of it, not yet all.
    assert FIRST_REPLY.startswith(report["chatWhileWriting"])
    assert report["chatWhileWriting"] != FIRST_REPLY
    assert report["chatFirstTurn"] == FIRST_TURN


def test_a_task_the_assistant_adds_shows_in_the_list_without_a_reload(report: dict[str, Any]) -> None:
    due = f"{TOMORROW:%a} {TOMORROW.day} {TOMORROW:%b %Y}"
    assert report["chatTasks"] == [row("Buy milk", priority="high", due=due)]
    assert report["chatNotReloaded"] is True


def test_a_second_message_continues_the_conversation(report: dict[str, Any]) -> None:
    assert SECOND_REPLY.startswith(report["chatSecondWhileWriting"])
    assert report["chatSecondTurn"] == SECOND_TURN
    assert report["chatListings"] == ["add buy milk tomorrow with high priority"]
    # The model was sent the first turn with the second message: one conversation.
    second_turns_request = report["model"][2]
    sent = [(message["role"], message.get("content")) for message in second_turns_request["messages"]]
    assert ("user", "add buy milk tomorrow with high priority") in sent
    assert ("assistant", FIRST_REPLY) in sent
    assert sent[-1] == ("user", "what's due this week?")


def test_past_conversations_are_listed_newest_first_and_reopen(report: dict[str, Any]) -> None:
    assert report["chatConversations"] == ["hello", "add buy milk tomorrow with high priority"]
    assert report["chatReopened"] == SECOND_TURN


def test_a_deleted_conversation_leaves_the_panel_and_the_service(report: dict[str, Any]) -> None:
    assert report["chatAfterDelete"] == ["hello"]
    assert report["chatThreadAfterDelete"] == []
    assert [conversation["title"] for conversation in report["chatConversationsFromTheService"]] == ["hello"]


async def _tasks_and_owners(database_url: str) -> tuple[int, int, bool]:
    """Tasks, tasks whose owner is a row of Better Auth's "user", and whether a foreign key says so."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        tasks = await connection.fetchval("SELECT count(*) FROM task")
        owned = await connection.fetchval('SELECT count(*) FROM task JOIN "user" ON "user".id = task.user_id')
        keyed = await connection.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'fk_task_user_id_user'"
        )
    finally:
        await connection.close()
    return tasks, owned, keyed == 1


def test_in_the_shared_database_the_tasks_belong_to_better_auths_users(
    report: dict[str, Any], setup: Setup
) -> None:
    if setup.mode != "shared-database":
        pytest.skip("only the shared-database set-up puts the tasks beside Better Auth's users")

    # Alice's five tasks, and the one Carol's assistant added.
    assert asyncio.run(_tasks_and_owners(setup.tasks_database)) == (6, 6, True)


@pytest.fixture(scope="module")
def live_screenshot(screenshot: Path) -> Path:
    """Where the live journey leaves its picture of a tab showing a reminder."""
    return screenshot.with_name("reminder.png")


@pytest.fixture(scope="module")
def live(chromium: str, setup: Setup, live_screenshot: Path) -> dict[str, Any]:
    env = {
        "APP_URL": setup.app.base_url,
        "API_URL": localhost(setup.service),
        "PASSWORD": PASSWORD,
        "SCREENSHOT": str(live_screenshot),
    }
    if setup.mode == "builtin":
        env["COOKIES"] = "1"
    report = run_in_chromium("nextjs-live.mjs", chromium, **env)
    return report | {"fired": asyncio.run(_reminders_fired(setup.tasks_database))}


async def _reminders_fired(database_url: str) -> int:
    """How many `reminder.due` events the service's scheduler wrote."""
    found = await rows(database_url, "SELECT count(*) AS fired FROM task_event WHERE type = 'reminder.due'")
    return int(found[0]["fired"])


# How long the journey waits for a change to show; it reports how long each took.
DEADLINE_MS = 5000


def test_a_change_in_one_tab_shows_in_the_other_without_a_reload(live: dict[str, Any]) -> None:
    # Added and completed in one tab, deleted in the other, and added by another device: each
    # seen in the tab(s) that did not make it, within the deadline (or the journey failed).
    assert set(live["took"]) == {"added", "completed", "deleted", "elsewhere", "reminded"}
    assert all(0 <= took < DEADLINE_MS for took in live["took"].values()), live["took"]
    assert live["notReloaded"] == [True, True]


def test_a_second_user_never_sees_the_first_users_live_changes(live: dict[str, Any]) -> None:
    # Every title Erin's list ever rendered, while Dana added and completed tasks.
    assert live["erin"]["everShown"] == ["Erin's task"]
    assert live["erin"]["rows"] == [{"title": "Erin's task", "done": False}]


STRETCH = "Reminder: Stretch (due Mon 1 Jun 2099)Dismiss"


def test_a_due_reminder_shows_a_banner_in_each_tab_that_can_be_dismissed(live: dict[str, Any]) -> None:
    assert live["fired"] == 2  # Stretch, then Drink water: each once
    assert live["bannerRole"] == "alert"
    # Dismissed in one tab (the journey waited for it to go); the other still shows it.
    assert live["stillInB"] == [STRETCH]


def test_where_notifications_are_allowed_a_reminder_is_a_notification(live: dict[str, Any]) -> None:
    [shown] = live["notificationsInB"]
    assert (shown["title"], shown["body"]) == ("Reminder: Drink water", "Due Mon 1 Jun 2099")
    assert shown["tag"].startswith("reminder-")  # one notification however many tabs show it
    assert live["bannersInB"] == [STRETCH]  # no banner for it there


def test_the_stream_is_opened_without_a_token_or_ticket_in_its_url(live: dict[str, Any]) -> None:
    requests = live["requests"] + live["erin"]["requests"]
    streams = [urlsplit(url) for url in requests if urlsplit(url).path == "/api/events"]
    assert streams, "the pages opened the events stream"
    assert {parts.query for parts in streams} == {""}
    for url in requests:
        assert not {"token", "ticket", "access_token"} & set(parse_qs(urlsplit(url).query)), url


def test_the_live_journey_leaves_a_screenshot_of_a_reminder(
    live: dict[str, Any], live_screenshot: Path
) -> None:
    png = live_screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24])[0] == 1000  # the live journey's viewport


def test_the_live_pages_run_without_an_error(live: dict[str, Any]) -> None:
    assert live["pageErrors"] == []
