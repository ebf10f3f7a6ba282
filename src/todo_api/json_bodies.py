"""What a JSON request body may be, judged once at the edge with an answer that names the problem.

FastAPI parses a body with the standard `json` module, which accepts `NaN`, `Infinity`, numbers
no column can hold and strings no response can carry (lone surrogates), and which answers a
body nested a few thousand levels deep with a `RecursionError`. A body is therefore checked
here first, with the same parser, so that FastAPI's own parse of it always succeeds.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from todo_api.errors import AppError, BadRequest

MAX_DEPTH = 64


def whole_number(value: object) -> object:
    """12.0 as 12, anything else as it is: JSON has one kind of number, and some clients write
    every number with a fraction."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class InvalidJSON(AppError):
    """A body that is not JSON we accept: 422 in FastAPI's list shape, with a sentence."""

    status_code = 422

    def __init__(self, message: str, *, position: int | None = None) -> None:
        # Where the text stops being JSON; a value that is JSON but not one we take has none.
        self.location: list[str | int] = ["body"] if position is None else ["body", position]
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return {"detail": [{"type": "json_invalid", "loc": self.location, "msg": self.detail}]}


class NotText(BadRequest):
    """A body that is not UTF-8 text: 400."""


def check_json(raw: bytes) -> Any:
    """The JSON document in `raw`; InvalidJSON or NotText unless it is one FastAPI can take as
    it is."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NotText(
            f"The body is not UTF-8 text (byte 0x{raw[error.start]:02x} at position {error.start})"
        ) from None
    try:
        document = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except json.JSONDecodeError as error:
        raise InvalidJSON(
            f"{error.msg} at line {error.lineno} column {error.colno}", position=error.pos
        ) from None
    except RecursionError:
        raise InvalidJSON(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    _check_values(document)
    return document


def _refuse_constant(name: str) -> NoReturn:
    raise InvalidJSON(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise InvalidJSON(f"The number {_shortened(text)} is too large")
    return value


def _bounded_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.int_info.default_max_str_digits)
        raise InvalidJSON(f"The number {_shortened(text)} is too large") from None


def _shortened(text: str) -> str:
    return text if len(text) <= 24 else text[:20] + "…"


def _check_values(document: Any) -> None:
    """Depth within MAX_DEPTH, and every string (keys included) encodable as UTF-8."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise InvalidJSON(f"JSON nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key)
                    pending.append((item, depth + 1))
            else:
                pending.extend((item, depth + 1) for item in value)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidJSON("A string holds an unpaired surrogate (\\ud800-\\udfff escape)") from None
