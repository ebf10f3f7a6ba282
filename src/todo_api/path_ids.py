"""Row ids in paths (`/api/tasks/12`, `/api/conversations/3`): one spelling per id, and a route
with an id never matches a sibling path such as `/api/tasks/reminders`."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from todo_api.models import MAX_ID

# What an id parameter's schema states (`canonical_id` enforces it).
ID_RANGE = {"minimum": 1, "maximum": MAX_ID}


def canonical_id(value: object) -> object:
    """A path segment as the id it names, or ValueError.

    One spelling per id: "+1", "01", "1.0" or "1 " would otherwise all name row 1, and rules a
    proxy applies to /tasks/1 would not apply to them. A number larger than the column holds
    names no row either (a 404, not a database error).
    """
    if isinstance(value, str):
        canonical = len(value) <= 10 and value.isascii() and value.isdigit() and value[0] != "0"
        if not canonical or int(value) > MAX_ID:
            raise ValueError("not an id")
        return int(value)
    return value


class Digits(Convertor[str]):
    """A path segment of digits, kept as text for `canonical_id` to read: a route with an id then
    never matches /api/tasks/reminders, whose other methods are a 405 (not a 404 for a task
    named "reminders")."""

    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("digits", Digits())
