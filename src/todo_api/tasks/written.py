"""The values a statement writes for a task's text and tags: each with the column kept beside
it for search and filters (case-folded text, tag keys), so no write sets one without the other."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from todo_api.tasks.tags import tag_keys_column, tags_column


def title_values(title: str) -> dict[str, Any]:
    return {"new_title": title, "new_title_folded": title.casefold()}


def description_values(description: str | None) -> dict[str, Any]:
    folded = None if description is None else description.casefold()
    return {"new_description": description, "new_description_folded": folded}


def tag_values(names: Iterable[str]) -> dict[str, Any]:
    names = list(names)
    return {"new_tags": tags_column(names), "new_tag_keys": tag_keys_column(names)}
