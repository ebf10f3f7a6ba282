"""What a model reads when a tool fails: one sentence; an unexpected error is logged, once,
with where the call came in, and named only as unexpected."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel, ValidationError, model_validator

from todo_api.assistants.catalogue import DATABASE_UNAVAILABLE, UNEXPECTED, describe, failure_sentence
from todo_api.tasks.errors import TaskNotFound


def test_a_domain_error_is_its_own_sentence(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        sentence = failure_sentence(TaskNotFound(), path="/mcp")

    assert sentence == TaskNotFound().detail
    assert caplog.records == []


def test_the_database_away_is_a_sentence_to_retry_and_no_error_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        sentence = failure_sentence(ConnectionRefusedError("refused"), path="/mcp")

    assert sentence == DATABASE_UNAVAILABLE
    assert caplog.records == []


def test_an_unexpected_error_is_logged_with_its_path_and_named_only_as_unexpected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = RuntimeError("internal detail for the log only")

    with caplog.at_level(logging.DEBUG):
        sentence = failure_sentence(error, path="/api/chat")

    assert sentence == UNEXPECTED
    assert "internal detail" not in sentence
    [record] = caplog.records
    assert (record.levelno, record.getMessage()) == (logging.ERROR, "unhandled error")
    assert record.exc_info is not None
    assert record.exc_info[1] is error
    assert (record.__dict__["event"], record.__dict__["path"]) == ("unhandled_error", "/api/chat")


class _Arguments(BaseModel):
    tags: list[int]

    @model_validator(mode="after")
    def _at_least_one(self) -> _Arguments:
        if not self.tags:
            raise ValueError("give at least one tag")
        return self


def _invalid(**arguments: object) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        _Arguments.model_validate(arguments)
    return refused.value


def test_a_problem_is_named_by_its_dotted_place_and_pydantics_own_words() -> None:
    assert describe(_invalid(tags=[1, "x"])) == (
        "Invalid arguments: tags.1: Input should be a valid integer, unable to parse string as an integer"
    )


def test_a_problem_of_the_whole_call_has_no_place_and_no_value_error_prefix() -> None:
    assert describe(_invalid(tags=[])) == "Invalid arguments: give at least one tag"
