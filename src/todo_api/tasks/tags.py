"""Tags as clients send them, as the table keeps them, and as tasks show them.

A task's tags come as a list of names or as one comma-separated string, at most 20 either way.
A name is trimmed; blank ones are skipped; two names that differ only in case are one tag, kept
as first written. The table keeps two texts per task: the
names joined by a separator that no name may contain (`tags`, what tasks show), and their
case-folded keys, each between two separators (`tag_keys`, which a list filter matches with
LIKE, on both databases alike).

Plain functions on plain values: no framework, no database.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable

from todo_api.db.query import like_escaped

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
TAG_RULE = f"1-{MAX_TAG_LENGTH} characters once trimmed, without commas or control characters"
TAGS_FORMS = (
    f"a list of up to {MAX_TAGS} tag names, or one string of up to {MAX_TAGS} comma-separated names; "
    f"each name {TAG_RULE}; blank names are skipped, and names that differ only in case are one tag, "
    "kept as first written"
)
# The unit separator: a control character, which no name may contain.
SEPARATOR = "\x1f"


def tag_name(value: str) -> str:
    """One tag name as kept: trimmed, checked against TAG_RULE (ValueError if it breaks it)."""
    name = value.strip()
    if not 1 <= len(name) <= MAX_TAG_LENGTH or "," in name or any(_is_control(char) for char in name):
        raise ValueError(f"each tag must be {TAG_RULE}")
    return name


def _is_control(char: str) -> bool:
    # Control characters (the separator is one) and lone surrogates, which no database keeps;
    # format characters stay allowed, as emoji sequences are joined with them.
    return unicodedata.category(char) in ("Cc", "Cs")


def parse_tags(value: object) -> list[str]:
    """A task's tags as sent (a list of names, or one comma-separated string) as a list of names."""
    if isinstance(value, str):
        parts: list[object] = list(value.split(","))
    elif isinstance(value, list):
        parts = value
    else:
        raise ValueError(f"must be {TAGS_FORMS}")
    if len(parts) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags per task")
    names: dict[str, str] = {}
    for part in parts:
        if not isinstance(part, str):
            raise ValueError(f"must be {TAGS_FORMS}")
        if part.strip():
            name = tag_name(part)
            names.setdefault(tag_key(name), name)
    return list(names.values())


def tag_key(name: str) -> str:
    """What makes two names one tag: the name case-folded."""
    return name.casefold()


def tags_column(names: Iterable[str]) -> str:
    """The `tags` text for these names (already parsed): "" for none."""
    return SEPARATOR.join(names)


def tag_keys_column(names: Iterable[str]) -> str:
    """The `tag_keys` text for these names: each key between separators; "" for none."""
    keys = [tag_key(name) for name in names]
    return f"{SEPARATOR}{SEPARATOR.join(keys)}{SEPARATOR}" if keys else ""


def tags_of(column: str) -> list[str]:
    """The names a `tags` text holds."""
    return column.split(SEPARATOR) if column else []


def key_pattern(name: str) -> str:
    """A LIKE pattern (escaped with `like_escaped`) that matches a `tag_keys` text holding the tag
    `name` names."""
    return f"%{SEPARATOR}{like_escaped(tag_key(name))}{SEPARATOR}%"


def retagged(names: list[str], key: str, new_name: str | None) -> list[str]:
    """A task's tag names with the tag `key` renamed to `new_name` in its place (dropped if the
    task already has `new_name` under another key), or removed when `new_name` is None."""
    new_key = None if new_name is None else tag_key(new_name)
    has_new_already = new_key != key and any(tag_key(name) == new_key for name in names)
    kept = []
    for name in names:
        if tag_key(name) != key:
            kept.append(name)
        elif new_name is not None and not has_new_already:
            kept.append(new_name)
    return kept


def tag_counts(columns: Iterable[str]) -> list[tuple[str, int]]:
    """Each tag of these `tags` texts with how many hold it, by name ignoring case. A tag written
    in several ways is named as most tasks write it (ties: the first in code point order)."""
    spellings: dict[str, Counter[str]] = {}
    for column in columns:
        for name in tags_of(column):
            spellings.setdefault(tag_key(name), Counter())[name] += 1
    counted = [(min(ways, key=lambda way: (-ways[way], way)), ways.total()) for ways in spellings.values()]
    return sorted(counted, key=lambda tag: (tag_key(tag[0]), tag[0]))
