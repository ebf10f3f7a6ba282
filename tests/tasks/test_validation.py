"""Input rules: lengths, trimming, strict types, mass assignment, body limits, error shapes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tasks.conftest import TaskApi
from todo_api.http_errors import _public_errors


async def test_title_of_200_characters_is_accepted_and_201_is_not(api: TaskApi) -> None:
    accepted = await api.call("POST", "alice", json={"title": "t" * 200})
    rejected = await api.call("POST", "alice", json={"title": "t" * 201})

    assert accepted.status_code == 201
    assert rejected.status_code == 422
    assert rejected.json()["detail"][0]["loc"] == ["body", "title"]


async def test_title_is_trimmed_before_its_length_is_checked(api: TaskApi) -> None:
    response = await api.call("POST", "alice", json={"title": "  " + "t" * 200 + "\n"})

    assert response.status_code == 201
    assert response.json()["title"] == "t" * 200


@pytest.mark.parametrize("title", ["", "   ", "\t\n"])
async def test_blank_title_is_422(api: TaskApi, title: str) -> None:
    response = await api.call("POST", "alice", json={"title": title})

    assert response.status_code == 422


async def test_title_is_required_on_create(api: TaskApi) -> None:
    response = await api.call("POST", "alice", json={"description": "no title"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "title"]


async def test_description_may_be_null_and_is_capped_at_10000_characters(api: TaskApi) -> None:
    null = await api.call("POST", "alice", json={"title": "x", "description": None})
    longest = await api.call("POST", "alice", json={"title": "x", "description": "d" * 10_000})
    too_long = await api.call("POST", "alice", json={"title": "x", "description": "d" * 10_001})

    assert null.status_code == 201
    assert null.json()["description"] is None
    assert longest.status_code == 201
    assert too_long.status_code == 422


async def test_unicode_round_trips(api: TaskApi) -> None:
    title = "Café ☕ 日本語 🚀 עברית"
    created = await api.create("alice", title=title, description="naïve — “quoted” ✓")

    fetched = (await api.get("alice", created["id"])).json()

    assert fetched["title"] == title
    assert fetched["description"] == "naïve — “quoted” ✓"


async def test_title_of_200_emoji_is_accepted(api: TaskApi) -> None:
    response = await api.call("POST", "alice", json={"title": "🚀" * 200})

    assert response.status_code == 201
    assert (await api.get("alice", response.json()["id"])).json()["title"] == "🚀" * 200


@pytest.mark.parametrize(
    "body",
    [
        {"title": 5},
        {"title": ["x"]},
        {"title": "x", "completed": "yes"},
        {"title": "x", "completed": 1},
        {"title": "x", "description": 7},
        {"title": "x", "status": "done"},
        {"title": "x", "status": "COMPLETED"},
        {"title": "x\u0000y"},
    ],
)
async def test_wrong_types_are_422(api: TaskApi, body: dict[str, Any]) -> None:
    response = await api.call("POST", "alice", json=body)

    assert response.status_code == 422
    assert (await api.list("alice")).json() == []


async def test_status_and_completed_must_agree(api: TaskApi) -> None:
    disagree = await api.call("POST", "alice", json={"title": "x", "status": "pending", "completed": True})
    agree = await api.call("POST", "alice", json={"title": "x", "status": "completed", "completed": True})
    via_completed = await api.call("POST", "alice", json={"title": "x", "completed": True})

    assert disagree.status_code == 422
    assert agree.json()["status"] == "completed"
    assert via_completed.json()["status"] == "completed"


async def test_server_owned_fields_are_ignored_on_create(api: TaskApi) -> None:
    response = await api.call(
        "POST",
        "alice",
        json={
            "title": "x",
            "id": 999_999,
            "user_id": "mallory",
            "created_at": "2000-01-01T00:00:00Z",
            "updated_at": "2000-01-01T00:00:00Z",
        },
    )

    task = response.json()
    assert response.status_code == 201
    assert task["id"] != 999_999
    assert task["user_id"] == "alice"
    assert not task["created_at"].startswith("2000")
    assert not task["updated_at"].startswith("2000")


async def test_server_owned_fields_are_ignored_on_update(api: TaskApi) -> None:
    task = await api.create("alice")

    for method in ("PUT", "PATCH"):
        response = await api.call(
            method,
            "alice",
            task["id"],
            json={"title": "ok", "id": 5, "user_id": "mallory", "created_at": "2000-01-01T00:00:00Z"},
        )
        assert response.status_code == 200
        assert response.json()["id"] == task["id"]
        assert response.json()["user_id"] == "alice"
        assert response.json()["created_at"] == task["created_at"]


@pytest.mark.parametrize("body", [{}, {"id": 3, "user_id": "bob"}, {"unknown": 1}])
async def test_update_needs_at_least_one_writable_field(api: TaskApi, body: dict[str, Any]) -> None:
    task = await api.create("alice")

    response = await api.call("PATCH", "alice", task["id"], json=body)

    assert response.status_code == 422
    assert (await api.get("alice", task["id"])).json() == task


@pytest.mark.parametrize("field", ["title", "status", "completed"])
async def test_update_refuses_null_for_required_fields(api: TaskApi, field: str) -> None:
    task = await api.create("alice")

    response = await api.call("PUT", "alice", task["id"], json={field: None})

    assert response.status_code == 422


async def test_validation_errors_keep_fastapis_list_shape(api: TaskApi) -> None:
    response = await api.call("POST", "alice", json={"title": ""})

    detail = response.json()["detail"]
    assert isinstance(detail, list)
    assert {"loc", "msg", "type"} <= set(detail[0])


async def test_malformed_json_is_422(api: TaskApi) -> None:
    response = await api.call(
        "POST", "alice", content=b'{"title": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


async def test_body_over_1_mib_is_413(api: TaskApi) -> None:
    body = b'{"title": "x", "description": "' + b"d" * (1024 * 1024) + b'"}'

    response = await api.call("POST", "alice", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert "detail" in response.json()
    assert (await api.list("alice")).json() == []


async def test_streamed_body_over_1_mib_is_413(api: TaskApi) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 64 * 1024

    response = await api.call("POST", "alice", content=chunks(), headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("body", "location", "message"),
    [
        (b'{"title": NaN}', ["body"], "NaN is not a JSON number"),
        (b'{"title": "t", "completed": Infinity}', ["body"], "Infinity is not a JSON number"),
        (b'{"title": "t", "completed": -Infinity}', ["body"], "-Infinity is not a JSON number"),
        (b'{"title": "t", "n": 1e999}', ["body"], "The number 1e999 is too large"),
        (b'{"title": "t", "n": -' + b"9" * 5_000 + b"}", ["body"], "The number -9999999999999999999…"),
        (b'{"title": "half a pair \\ud800"}', ["body"], "A string holds an unpaired surrogate"),
        (b'{"half a pair \\udc00": 1}', ["body"], "A string holds an unpaired surrogate"),
        (b"[" * 5_000 + b"]" * 5_000, ["body"], "JSON nested deeper than 64 levels"),
        (b'{"a": ' * 65 + b"1" + b"}" * 65, ["body"], "JSON nested deeper than 64 levels"),
        (b'{"title" "t"}', ["body", 9], "Expecting ':' delimiter at line 1 column 10"),
        (b'{"title": "t",}', ["body", 14], "at line 1 column 15"),
        (b"{not json", ["body", 1], "Expecting property name enclosed in double quotes at line 1 column 2"),
    ],
)
async def test_a_body_that_is_not_json_we_take_is_a_422_naming_the_problem(
    api: TaskApi, body: bytes, location: list[str | int], message: str
) -> None:
    response = await api.call("POST", "alice", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["type"] == "json_invalid"
    assert problem["loc"] == location
    assert message in problem["msg"]
    assert "input" not in problem


async def test_a_body_nested_to_the_limit_is_taken(api: TaskApi) -> None:
    body = b'{"title": "t", "n": ' + b"[" * 63 + b"]" * 63 + b"}"

    response = await api.call("POST", "alice", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"title": "\xff"}', "The body is not UTF-8 text (byte 0xff at position 11)"),
        (b"\xfe\xff\x00{", "The body is not UTF-8 text (byte 0xfe at position 0)"),
    ],
)
async def test_a_body_that_is_not_utf8_is_a_400_naming_the_byte(
    api: TaskApi, body: bytes, message: str
) -> None:
    response = await api.call("POST", "alice", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json() == {"detail": message}


async def test_a_long_invalid_value_is_echoed_only_in_part(api: TaskApi) -> None:
    description = "d" * 900_000

    response = await api.call("POST", "alice", json={"title": "t", "description": description})

    assert response.status_code == 422
    assert response.json()["detail"][0]["input"] == "d" * 200 + "…"
    assert len(response.content) < 1_000


def test_values_of_secret_fields_are_never_echoed() -> None:
    errors = [
        {"type": "string_too_short", "loc": ("body", "password"), "msg": "too short", "input": "hunter2"},
        {"type": "string_type", "loc": ("body", "name"), "msg": "not a string", "input": 5},
    ]

    public = _public_errors(errors)

    assert public == [
        {"type": "string_too_short", "loc": ["body", "password"], "msg": "too short"},
        {"type": "string_type", "loc": ["body", "name"], "msg": "not a string", "input": 5},
    ]
