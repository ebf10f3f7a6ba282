"""Statements written once with SQLAlchemy Core, and compiled for PostgreSQL once per process.

On PostgreSQL, requests run on an asyncpg pool: the statement is compiled to SQL with `$n`
placeholders here, and prepared by asyncpg once per connection, so a request pays for neither
again (SQLAlchemy's execution layer, result processing and pool cost more than the query itself
for these one-row and one-page requests). SQLite runs the same statements through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

Row = Mapping[str, Any]
Statement = sa.Select[Any] | sa.Insert | sa.Update | sa.Delete
_POSTGRES = asyncpg_dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    """PostgreSQL text with `$n` placeholders, and where each argument comes from."""

    sql: str
    # (name, required): a required value comes from the caller, any other is fixed in the statement.
    parameters: tuple[tuple[str, bool], ...]
    fixed: Mapping[str, Any]

    @classmethod
    def compile(cls, statement: Statement) -> CompiledStatement:
        compiled = statement.compile(dialect=_POSTGRES)
        names = compiled.positiontup or []
        return cls(
            sql=compiled.string,
            parameters=tuple((name, compiled.binds[name].required) for name in names),
            fixed=compiled.construct_params(_check=False),
        )

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments; a missing required value is a KeyError."""
        return [values[name] if required else self.fixed[name] for name, required in self.parameters]


class Query:
    """A Core statement with named bind parameters, compiled for PostgreSQL on first use.

    `postgres`, when given, is what PostgreSQL runs instead: the same operation, with the same
    parameters and rows, written with what only PostgreSQL has (a data-modifying CTE).
    """

    def __init__(self, statement: Statement, *, postgres: Statement | None = None) -> None:
        self.statement = statement
        self._postgres_statement = statement if postgres is None else postgres
        self._postgres: CompiledStatement | None = None

    @property
    def postgres(self) -> CompiledStatement:
        if self._postgres is None:
            self._postgres = CompiledStatement.compile(self._postgres_statement)
        return self._postgres
