"""Statements written once with SQLAlchemy Core, and compiled once per process for each database.

On PostgreSQL, requests run on an asyncpg pool: the statement is compiled to SQL with `$n`
placeholders here, and prepared by asyncpg once per connection, so a request pays for neither
again (SQLAlchemy's execution layer, result processing and pool cost more than the query itself
for these one-row and one-page requests). On SQLite the same statement is compiled to `?` SQL
for the standard `sqlite3` module, with SQLAlchemy's own conversions of each value kept (a
timestamp is stored as SQLAlchemy writes it, so migrations and requests agree on the format).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.pysqlite import dialect as pysqlite_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

Row = Mapping[str, Any]
Statement = sa.Select[Any] | sa.Insert | sa.Update | sa.Delete
Processor = Callable[[Any], Any]
_POSTGRES = asyncpg_dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated
_SQLITE = pysqlite_dialect()


# The escape character of LIKE patterns built with `like_escaped`: PostgreSQL's default, so its
# statements need no ESCAPE clause, which it turns into a function call on every row it reads
# when a statement's plan is the generic one (the one kept for a prepared statement).
LIKE_ESCAPE = "\\"


def like_escaped(text: str) -> str:
    """`text` for a LIKE pattern, its `%` and `_` matched as themselves (see `EscapedLike`)."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", f"{LIKE_ESCAPE}%")
        .replace("_", f"{LIKE_ESCAPE}_")
    )


class EscapedLike(sa.ColumnElement[bool]):
    """`column LIKE pattern`, for a pattern escaped with `like_escaped`: with no ESCAPE clause on
    PostgreSQL (LIKE_ESCAPE is its default), with one on SQLite (which has no default)."""

    # Compiled once per statement by Query; SQLAlchemy's own statement cache is not needed.
    inherit_cache = False
    type = sa.Boolean()

    def __init__(self, column: sa.ColumnElement[Any], pattern: sa.ColumnElement[Any]) -> None:
        self.column = column
        self.pattern = pattern


@compiles(EscapedLike)
def _like_with_escape(element: EscapedLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = compiler.process(element.column, **kw), compiler.process(element.pattern, **kw)
    return f"{column} LIKE {pattern} ESCAPE '{LIKE_ESCAPE}'"


@compiles(EscapedLike, "postgresql")
def _like_default_escape(element: EscapedLike, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} LIKE {compiler.process(element.pattern, **kw)}"


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    """SQL text with positional placeholders, and where each argument comes from."""

    sql: str
    # (name, required): a required value comes from the caller, any other is fixed in the statement.
    parameters: tuple[tuple[str, bool], ...]
    fixed: Mapping[str, Any]

    @classmethod
    def compile(cls, statement: Statement) -> CompiledStatement:
        """For asyncpg, which converts values itself."""
        compiled = statement.compile(dialect=_POSTGRES)
        return cls(
            sql=compiled.string,
            parameters=_parameters(compiled),
            fixed=compiled.construct_params(_check=False),
        )

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments; a missing required value is a KeyError."""
        return [values[name] if required else self.fixed[name] for name, required in self.parameters]


@dataclass(frozen=True, slots=True)
class SQLiteStatement:
    """`?` SQL for `sqlite3`, with SQLAlchemy's conversions of the arguments and the columns."""

    compiled: CompiledStatement
    # Parallel to compiled.parameters; None where a value goes in as it is.
    bind_processors: tuple[Processor | None, ...]
    columns: tuple[str, ...]
    # Parallel to columns; empty when every column comes out as it is.
    result_processors: tuple[Processor | None, ...]
    # A SELECT reads; anything else writes, so it must run on the one writer connection.
    reads: bool

    @classmethod
    def compile(cls, statement: Statement) -> SQLiteStatement:
        compiled = statement.compile(dialect=_SQLITE)
        parameters = _parameters(compiled)
        reads = isinstance(statement, sa.Select)
        selected = (
            statement.selected_columns if isinstance(statement, sa.Select) else statement.exported_columns
        )
        result_processors = tuple(_result_processor(column.type, _SQLITE) for column in selected)
        return cls(
            compiled=CompiledStatement(
                sql=compiled.string, parameters=parameters, fixed=compiled.construct_params(_check=False)
            ),
            bind_processors=tuple(
                compiled.binds[name].type.dialect_impl(_SQLITE).bind_processor(_SQLITE)
                for name, _ in parameters
            ),
            columns=tuple(column.key for column in selected if column.key is not None),
            result_processors=result_processors if any(result_processors) else (),
            reads=reads,
        )

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments, converted as SQLAlchemy would."""
        arguments = self.compiled.arguments(values)
        return [
            value if process is None or value is None else process(value)
            for value, process in zip(arguments, self.bind_processors, strict=True)
        ]

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Row]:
        """Rows as mappings by column name, converted back as SQLAlchemy would."""
        names = self.columns
        if not self.result_processors:
            return [dict(zip(names, values, strict=True)) for values in raw]
        processors = self.result_processors
        return [
            {
                name: value if process is None or value is None else process(value)
                for name, value, process in zip(names, values, processors, strict=True)
            }
            for values in raw
        ]


def _parameters(compiled: sa.engine.Compiled) -> tuple[tuple[str, bool], ...]:
    names = compiled.positiontup or []  # type: ignore[attr-defined]  # positional dialects have it
    return tuple((name, compiled.binds[name].required) for name in names)  # type: ignore[attr-defined]


def _result_processor(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> Processor | None:
    return type_.dialect_impl(dialect).result_processor(dialect, None)


class Query:
    """A Core statement with named bind parameters, compiled for each database on first use.

    `postgres`, when given, is what PostgreSQL runs instead: the same operation, with the same
    parameters and rows, written with what only PostgreSQL has (a data-modifying CTE).
    """

    def __init__(self, statement: Statement, *, postgres: Statement | None = None) -> None:
        self.statement = statement
        self._postgres_statement = statement if postgres is None else postgres
        self._postgres: CompiledStatement | None = None
        self._sqlite: SQLiteStatement | None = None

    @property
    def postgres(self) -> CompiledStatement:
        if self._postgres is None:
            self._postgres = CompiledStatement.compile(self._postgres_statement)
        return self._postgres

    @property
    def sqlite(self) -> SQLiteStatement:
        if self._sqlite is None:
            self._sqlite = SQLiteStatement.compile(self.statement)
        return self._sqlite
