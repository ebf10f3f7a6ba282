"""Property-based fuzzing of the whole API with schemathesis, against the app's own OpenAPI schema.

Alice is the caller, with a real token; Bob owns tasks too. Every example (and every stateful
scenario) starts from the same database: three tasks each. Generated task ids hit Bob's tasks,
Alice's and ids that name nothing; no response may show Bob's task, and Bob's tasks must never
change. The checks, the budget and every deliberate exception are in schemathesis.toml.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import threading
import tomllib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import AuthContext, BaseSchema, Case, CheckContext, HookContext, Response
from schemathesis.config import SchemathesisConfig
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.chat.model_server import MODEL, Say, scripted_model
from tests.conftest import PATIENCE, SECRET, make_settings
from todo_api.config import Settings
from todo_api.db.engine import create_engine
from todo_api.main import create_app
from todo_api.models import idempotency_key_table, task_table
from todo_api.tokens import create_token

CONFIG_FILE = Path(__file__).resolve().parents[1] / "schemathesis.toml"
CALLER, OTHER = "alice", "bob"
# The ids the seeded tasks get in an emptied database; Alice's are inserted first.
SEEDED = {CALLER: [1, 2, 3], OTHER: [4, 5, 6]}
SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)

Task = dict[str, Any]


def load_config(**sections: Any) -> SchemathesisConfig:
    """schemathesis.toml, plus sections only a running test can fill in."""
    return SchemathesisConfig.from_dict(tomllib.loads(CONFIG_FILE.read_text(encoding="utf-8")) | sections)


def bearer(user: str) -> dict[str, str]:
    """Headers with a real token for `user`, signed with the test secret."""
    return {"Authorization": f"Bearer {create_token(user, SECRET)}"}


class AppUnderTest:
    """The ASGI app the module's schema sends requests to: the one the running test built."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("no app under test: request the `bobs_tasks` fixture")
        await self.app(scope, receive, send)


# The title and description rules, as the one thing a fuzzer can generate from. The published
# schemas state them in words: "not only whitespace, 1-200 characters once trimmed" is a regex no
# person (or language model) should be handed, so the document has minLength and a description
# instead. Generating from that alone, the fuzzer would send a title of spaces as valid data and
# see it refused; given the rules here, it sends valid titles as valid and breaks the rules on
# purpose as invalid data, which must be refused.
# Unicode White_Space, which `strip_whitespace` trims (JSON Schema's `\s` is a slightly different set).
_SPACE = r"\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TITLE_PATTERN = rf"^[{_SPACE}]*[^{_SPACE}\u0000](?:[^\u0000]{{0,198}}[^{_SPACE}\u0000])?[{_SPACE}]*$"
NO_NUL_PATTERN = r"^[^\u0000]*$"
# Tags: names of 1-50 characters once trimmed (str.strip also trims \x1c-\x1f), without commas or
# control characters; blank ones skipped; up to 20 in a list, or in one comma-separated string.
_TAG_SPACE = rf"{_SPACE}\x1c-\x1f"
_NOT_IN_TAGS = r",\x00-\x1f\x7f-\x9f"
_NAME = (
    rf"[{_TAG_SPACE}]*[^{_TAG_SPACE}{_NOT_IN_TAGS}]"
    rf"(?:[^{_NOT_IN_TAGS}]{{0,48}}[^{_TAG_SPACE}{_NOT_IN_TAGS}])?[{_TAG_SPACE}]*"
)
_NAME_OR_BLANK = rf"(?:{_NAME}|[{_TAG_SPACE}]*)"
TAG_NAME_PATTERN = rf"^{_NAME}$"
TAG_ITEM_PATTERN = rf"^{_NAME_OR_BLANK}$"
TAGS_TEXT_PATTERN = rf"^{_NAME_OR_BLANK}(?:,{_NAME_OR_BLANK}){{0,19}}$"
# Due dates in the three forms the API takes (a day, a local date-time, one with an offset), and
# time zones by name: the rules of their descriptions, which a schema states only in words.
DUE_DATE_PATTERN = (
    r"^[1-8][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?)?$"
)
TIMEZONE_PATTERN = r"^(UTC|Europe/Berlin|America/New_York|Asia/Kolkata)$"
# A reminder: a date-time (a day alone has no time to remind at), or minutes before the due date
# as text in the forms the API reads (numbers are bounded by the schema itself).
REMIND_AT_PATTERN = (
    r"^[1-8][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?$"
)
_SPANS = r"([0-9]{1,5}[mM]?|[0-9]{1,3}[hH]([0-9]{1,2}[mM])?|[0-9]{1,2}[dD])"
REMIND_BEFORE_PATTERN = rf"^[{_TAG_SPACE}]*{_SPANS}[{_TAG_SPACE}]*$"
# A list's priorities (comma-separated words, empty for none) and due date bounds (empty: none).
_LEVEL = "(low|medium|high|urgent|normal|critical)?"
PRIORITY_LIST_PATTERN = rf"^ *{_LEVEL} *(, *{_LEVEL} *)*$"
DUE_BOUND_PATTERN = rf"^$|{DUE_DATE_PATTERN}"
# At most 8 words, split where str.split splits (their length is in the schema).
SEARCH_PATTERN = rf"^[{_TAG_SPACE}]*[^{_TAG_SPACE}]*([{_TAG_SPACE}]+[^{_TAG_SPACE}]*){{0,7}}$"
QUERY_RULES = {
    "search": SEARCH_PATTERN,
    "priority": PRIORITY_LIST_PATTERN,
    "due_date_from": DUE_BOUND_PATTERN,
    "due_date_to": DUE_BOUND_PATTERN,
    "until": rf"^$|{REMIND_AT_PATTERN}",
}
# The service answers each in its canonical form, which the stateful test's links send back.
RULES = [
    "FREQ=DAILY",
    "FREQ=WEEKLY;BYDAY=MO,WE",
    "RRULE:FREQ=MONTHLY;INTERVAL=2",
    "FREQ=MONTHLY;INTERVAL=2",
    "freq=yearly",
    "FREQ=YEARLY",
]
# An Idempotency-Key: visible ASCII characters (the document says so in words; 1-255 of them is
# in its schema).
IDEMPOTENCY_KEY = "idempotency-key"
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]*$"


def is_a_valid_key(value: object) -> bool:
    """Whether `value` is an Idempotency-Key the service takes."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 255
        and re.fullmatch(IDEMPOTENCY_KEY_PATTERN, value) is not None
    )


# Other names for a list parameter (each has its own tests): sent beside the parameter they
# name with another value, they are refused, a rule no schema can state.
QUERY_ALIASES = {"due_after", "due_before", "sort_by", "order", "q", "search_query", "tag"}
# The tags a list is filtered by: any names, up to 20 distinct ones in all (repeated parameters
# or comma-separated), a rule no schema can state; tests/tasks/test_tags.py sends them. And a
# sync (`since`), which takes no other list parameter but `limit`, another such rule;
# tests/tasks/test_sync.py sends it.
UNSTATED = {"tags", "since"}


def with_tag_rules(schema: dict[str, Any]) -> None:
    """The tag rules on a tags field's schema: a list of names, or one string of them."""
    for form in schema.get("anyOf", [schema]):
        if form.get("type") == "array":
            form["items"]["pattern"] = TAG_ITEM_PATTERN
        elif form.get("type") == "string":
            form["pattern"] = TAGS_TEXT_PATTERN
        elif "anyOf" in form:
            with_tag_rules(form)


def with_the_text_rules(document: dict[str, Any]) -> dict[str, Any]:
    """The document, with the rules of text fields and list parameters as patterns, for the
    fuzzer only."""
    document = copy.deepcopy(document)
    for model in ("TaskCreate", "TaskUpdate"):
        properties = document["components"]["schemas"][model]["properties"]
        rules = (
            ("title", TITLE_PATTERN),
            ("description", NO_NUL_PATTERN),
            ("due_date", DUE_DATE_PATTERN),
            ("due_at", DUE_DATE_PATTERN),
            ("timezone", TIMEZONE_PATTERN),
            ("remind_at", REMIND_AT_PATTERN),
            ("remind_before_minutes", REMIND_BEFORE_PATTERN),
        )
        for name, pattern in rules:
            for text in properties[name].get("anyOf", [properties[name]]):
                if text.get("type") == "string":
                    text["pattern"] = pattern
        with_tag_rules(properties["tags"])
        # A few rules a person would write: the grammar of RRULE is no pattern, and a random
        # string is (almost) never one.
        for form in properties["recurrence_rule"].get("anyOf", [properties["recurrence_rule"]]):
            if form.get("type") == "string":
                form["enum"] = RULES
    document["components"]["schemas"]["TagRename"]["properties"]["name"]["pattern"] = TAG_NAME_PATTERN
    for zone in document["components"]["schemas"]["ChatRequest"]["properties"]["timezone"].get("anyOf", []):
        if zone.get("type") == "string":
            zone["pattern"] = TIMEZONE_PATTERN
    # With every rule of the update schema at once, the generator gives up on it ("does not
    # support this part"); without the relative reminder and its one rule it copes.
    # tests/tasks/test_reminders.py sends relative reminders on update instead.
    update = document["components"]["schemas"]["TaskUpdate"]
    del update["properties"]["remind_before_minutes"]
    update["allOf"] = [
        rule for rule in update["allOf"] if "remind_at" not in rule.get("not", {}).get("required", [])
    ]
    for rule in update["allOf"]:
        if "anyOf" in rule:
            rule["anyOf"] = [
                part for part in rule["anyOf"] if part.get("required") != ["remind_before_minutes"]
            ]
    for path in document["paths"].values():
        for operation in path.values():
            for param in operation.get("parameters", []):
                if param["name"] == IDEMPOTENCY_KEY:
                    param["schema"]["pattern"] = IDEMPOTENCY_KEY_PATTERN
        if "get" not in path or "parameters" not in path["get"]:
            continue
        parameters = [
            param for param in path["get"]["parameters"] if param["name"] not in QUERY_ALIASES | UNSTATED
        ]
        for param in parameters:
            if param["name"] in QUERY_RULES:
                for text in param["schema"].get("anyOf", [param["schema"]]):
                    (text.get("items") or text)["pattern"] = QUERY_RULES[param["name"]]
        path["get"]["parameters"] = parameters
    return document


APP_UNDER_TEST = AppUnderTest()
# pytest needs the operations at collection, before any fixture has made a database: FastAPI
# builds the document from the routes alone, and requests go to the app each test builds.
OPENAPI = create_app(make_settings("sqlite://", builtin_auth=False)).openapi()
FUZZED_OPENAPI = with_the_text_rules(OPENAPI)
schema = schemathesis.openapi.from_dict(FUZZED_OPENAPI, config=load_config())
schema.app = APP_UNDER_TEST


@schema.auth()
class AsCaller:
    """Every generated request is Alice's, unless schemathesis leaves the token out on purpose."""

    def get(self, case: Case, context: AuthContext) -> str:
        return create_token(CALLER, SECRET)

    def set(self, case: Case, data: str, context: AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def has_valid_path(case: Case) -> bool:
    """Whether the case has path parameters and is meant to be valid (a negative case stays as is)."""
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    return bool(case.path_parameters) and not negative


@schema.hook("map_case")
def aim_at_alice(context: HookContext, case: Case) -> Case:
    """In every phase, `/api/{user_id}/…` names Alice: any other user is a 403 before anything else."""
    if has_valid_path(case) and "user_id" in case.path_parameters:
        case.path_parameters["user_id"] = CALLER
    return case


@schema.hook("flatmap_case")
def aim_at_seeded_tasks(context: HookContext, case: Case) -> st.SearchStrategy[Case]:
    """While fuzzing, a valid id is one of Bob's tasks, Alice's, or the generated one."""
    if not has_valid_path(case):
        return st.just(case)
    choices: dict[str, st.SearchStrategy[Any]] = {}
    if "task_id" in case.path_parameters:
        # Hypothesis favours the first choices, and Bob's tasks are the ones to defend.
        generated = case.path_parameters["task_id"]
        choices["task_id"] = st.sampled_from([*SEEDED[OTHER], *SEEDED[CALLER], generated])
    if "user_id" in case.path_parameters:
        choices["user_id"] = st.sampled_from([CALLER, OTHER])
    return st.fixed_dictionaries(choices).map(lambda chosen: retarget(case, chosen))


def retarget(case: Case, path_parameters: dict[str, Any]) -> Case:
    """The case, sent to other path parameters."""
    case.path_parameters.update(path_parameters)
    return case


def shows_only_callers_tasks(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """No response shows a task Alice does not own."""
    if not 200 <= response.status_code < 300 or not response.content:
        return None
    if "text/event-stream" in "".join(response.headers.get("content-type", [])):
        # An events stream: each frame's data, and the task it carries.
        items = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
        items += [item["task"] for item in items if isinstance(item.get("task"), dict)]
    else:
        body = response.json()
        items = body if isinstance(body, list) else [body]
    for item in items:
        if isinstance(item, dict) and item.get("user_id", CALLER) != CALLER:
            raise AssertionError(f"{CALLER} was shown {item['user_id']}'s task {item.get('id')}")
    return None


def allow_names_the_documented_methods(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A 405 lists in `Allow` the methods the schema documents for the path (RFC 9110 requires the list)."""
    if response.status_code != 405:
        return None
    allowed = {method.strip() for value in response.headers.get("allow", []) for method in value.split(",")}
    documented = {method.upper() for method in OPENAPI["paths"][case.path]}
    if allowed - {"", "HEAD", "OPTIONS"} != documented:
        raise AssertionError(
            f"`Allow: {', '.join(sorted(allowed))}` for {case.path}, which serves {sorted(documented)}"
        )
    return None


CHECKS = [shows_only_callers_tasks, allow_names_the_documented_methods]


class Seeder:
    """Puts the database back as every example starts: the seeded tasks only, ids from 1."""

    def __init__(self, settings: Settings) -> None:
        # One connection for the whole test, so that reseeding takes milliseconds.
        self._runner = asyncio.Runner()
        self._engine = create_engine(settings)

    def __call__(self) -> None:
        self._runner.run(self._reseed())

    async def _reseed(self) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(sa.delete(idempotency_key_table))
            if connection.dialect.name == "postgresql":
                await connection.execute(sa.text("TRUNCATE task RESTART IDENTITY"))
            else:
                await connection.execute(sa.delete(task_table))
                await connection.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'task'"))
            rows = [
                {"user_id": user, "title": f"{user}'s task", "created_at": SEEDED_AT, "updated_at": SEEDED_AT}
                for user, ids in SEEDED.items()
                for _ in ids
            ]
            await connection.execute(sa.insert(task_table), rows)

    def close(self) -> None:
        self._runner.run(self._engine.dispose())
        self._runner.close()


def list_tasks(api: BaseSchema, user: str) -> list[Task]:
    """All of `user`'s tasks, as the API shows them to `user`."""
    response = api["/api/tasks"]["GET"].Case(headers=bearer(user)).call()
    assert response.status_code == 200, response.text
    tasks: list[Task] = response.json()
    return tasks


def seeded_tasks_of(api: BaseSchema, user: str) -> list[Task]:
    """`user`'s tasks just after seeding, checked to have the ids the fuzzer aims at."""
    tasks = list_tasks(api, user)
    assert sorted(task["id"] for task in tasks) == SEEDED[user]
    return tasks


@pytest.fixture
def reseed(settings: Settings) -> Iterator[Seeder]:
    """Reseeds this test's database on call."""
    seeder = Seeder(settings)
    try:
        yield seeder
    finally:
        seeder.close()


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    """A model that answers every chat message with a sentence, so that the chat routes are
    fuzzed answering (their failures and an unconfigured model have tests of their own). In a
    thread with an event loop of its own, since the fuzzer calls the app from its own."""
    url: list[str] = []
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        async with scripted_model() as model:
            model.answer(*[Say("Noted.")] * 100_000)
            url.append(model.url)
            ready.set()
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(PATIENCE), "the scripted model did not start"
        yield url[0]
    finally:
        stop.set()
        thread.join(PATIENCE)


@pytest.fixture(name="settings")
def fuzz_settings(database_url: str, model_url: str) -> Settings:
    """Test settings without rate limits: they have their own tests, and the fuzzer sends
    thousands of requests as one user, which would otherwise be 429s."""
    chat = {"chat_model": MODEL, "openai_base_url": model_url, "openai_api_key": "sk-placeholder-fuzz"}
    # An events stream ends after its lifetime, so the fuzzer reads each one whole.
    events = {"events_stream_lifetime": 0.05}
    return make_settings(database_url, rate_limit_enabled=False, builtin_auth=False, **chat, **events)


@pytest.fixture
def bobs_tasks(settings: Settings, reseed: Seeder) -> Iterator[list[Task]]:
    """Plug this test's app into the module's schema; Bob's tasks as seeded."""
    APP_UNDER_TEST.app = create_app(settings)
    try:
        reseed()
        yield seeded_tasks_of(schema, OTHER)
    finally:
        APP_UNDER_TEST.app = None


@schema.parametrize()
# The app is built once per operation, and the database reseeded before every example.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_operation_conforms_and_keeps_other_users_tasks_private(
    case: Case, reseed: Seeder, bobs_tasks: list[Task]
) -> None:
    reseed()

    case.call_and_validate(additional_checks=CHECKS)

    assert list_tasks(schema, OTHER) == bobs_tasks, f"{CALLER}'s request changed {OTHER}'s tasks"


# One family at a time: schemathesis links operations by their paths and cannot know that both
# families name the same tasks, so a task deleted through one would look lost through the other.
@pytest.mark.parametrize("family", ["/api/tasks", "/api/{user_id}/tasks"])
def test_workflows_never_show_one_users_task_to_another(
    family: str, settings: Settings, reseed: Seeder, tmp_path: Path
) -> None:
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"auth": [wfc_user(CALLER), wfc_user(OTHER)]}), encoding="utf-8")
    # Requests are Alice's; Bob replays every read of hers to check he cannot get her task.
    config = load_config(auth={"wfc": {"path": str(users), "user": CALLER, "peers": [CALLER, OTHER]}})
    api = schemathesis.openapi.from_dict(FUZZED_OPENAPI, config=config)
    api.app = create_app(settings)
    reseed()
    bobs_tasks = seeded_tasks_of(api, OTHER)

    class Workflows(api.include(path_regex=f"^{re.escape(family)}").as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            reseed()

        def before_call(self, case: Case) -> None:
            # Links carry the ids; the path names Alice, as in the stateless test.
            if case.path_parameters and "user_id" in case.path_parameters:
                case.path_parameters["user_id"] = CALLER
            # A key the scenario used before would be answered with that call's stored answer (or
            # a 422 for another request), which is right, but which a workflow's checks read as a
            # task that outlived its deletion: each call sends a valid key of its own (an invalid
            # one, meant to be refused, is sent as it is).
            for name, value in (case.headers or {}).items():
                if name.lower() == IDEMPOTENCY_KEY and is_a_valid_key(value):
                    case.headers[name] = str(uuid.uuid4())

        def validate_response(self, response: Response, case: Case, **kwargs: Any) -> None:
            super().validate_response(response, case, additional_checks=CHECKS, **kwargs)

        def teardown(self) -> None:
            assert list_tasks(api, OTHER) == bobs_tasks, f"{CALLER}'s requests changed {OTHER}'s tasks"

    Workflows.run(settings=api.config.get_hypothesis_settings(phase="stateful"))


def wfc_user(name: str) -> dict[str, Any]:
    """A user in schemathesis' Web Fuzzing Commons auth document."""
    headers = [{"name": header, "value": value} for header, value in bearer(name).items()]
    return {"name": name, "fixedHeaders": headers}
