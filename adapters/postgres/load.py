"""Filling an empty database from another store's snapshot, in one transaction (`falbot
migrate-db`).

The copy follows this database's own schema, read from `information_schema`, not a list of
tables: a source column goes to the target column of the same name, converted to that column's
type (NUMERIC from text or integers, never from a float; BOOLEAN from 0 and 1; JSON from its
text; TIMESTAMPTZ only from aware datetimes). A target column the source lacks gets its default
(or NULL), so a newer schema with added columns still loads; a source table or column the target
has no place for, or a target column that needs a value the source lacks, stops the copy before
anything is written, since data would be lost. Ids and the order columns (`seq`) are copied as
they were, and their sequences moved past them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from graphlib import CycleError, TopologicalSorter
from typing import Any, Protocol, TypeAlias

import asyncpg

from adapters.postgres.connection import PostgresConnection

_INTERNAL = ("schema_version",)
Db: TypeAlias = "asyncpg.Connection[Any]"  # a connection of its own, outside the pool
_LOCK_TIMEOUT = "5s"


class Source(Protocol):
    """A snapshot of another store (`adapters/sqlite`'s `Snapshot` is one)."""

    @property
    def tables(self) -> Mapping[str, Sequence[str]]: ...

    @property
    def optional(self) -> frozenset[str]:
        """Columns the target may drop (they only record order)."""
        ...

    def rows(self, table: str) -> AsyncIterator[tuple[Any, ...]]: ...


class LoadError(Exception):
    """The copy cannot be made; the message says why, and nothing was written."""


class NotEmpty(LoadError):
    """The target holds rows already: `rows` is each such table's count."""

    def __init__(self, rows: Mapping[str, int]) -> None:
        super().__init__(", ".join(f"{table}: {n} rows" for table, n in rows.items()))
        self.rows = dict(rows)


@dataclass(frozen=True)
class Figures:
    """What the target holds after the copy, inside its transaction."""

    counts: dict[str, int]
    ledger: dict[str, tuple[Decimal, Decimal]]  # workspace -> (cost USD, credits)


Verify = Callable[[Figures], Awaitable[None]]


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str  # information_schema's data_type
    fillable: bool  # nullable, defaulted or an identity: may be left out
    identity: bool
    generated: bool


async def occupied(db: Db) -> dict[str, int]:
    """Every table of the current schema that holds rows (schema_version aside), with its count."""
    counts = await _counts(db, await _table_names(db))
    return {table: count for table, count in counts.items() if count}


async def _counts(db: Db, tables: Iterable[str]) -> dict[str, int]:
    return {t: int(await db.fetchval(f"SELECT COUNT(*) FROM {_quoted(t)}")) for t in tables}


class LoadTables(PostgresConnection):
    async def load(self, source: Source, *, verify: Verify) -> Figures:
        """Copy every table of `source` into this database's tables of the same names, which
        must hold no row, in one transaction; `verify` sees the result before it commits, and
        rolls all of it back by raising. Raises `NotEmpty`, or `LoadError` when the schemas do
        not fit."""
        # A connection of its own, not the pool's: COPY needs asyncpg's binary codecs, and the
        # pool's connections decode JSON to Python values with a text codec.
        db = await asyncpg.connect(self.dsn)
        try:
            return await _load(db, source, verify)
        finally:
            await db.close()


async def _load(db: Db, source: Source, verify: Verify) -> Figures:
    async with db.transaction():
        tables = await _schema(db)
        plan = _plan(source.tables, source.optional, tables)
        await db.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        try:
            await db.execute(
                f"LOCK TABLE {', '.join(_quoted(t) for t in tables)} IN EXCLUSIVE MODE"
            )
        except asyncpg.LockNotAvailableError:
            raise LoadError(
                "another process is using the PostgreSQL database (is falbot running on "
                "it?): stop it and try again"
            ) from None
        # Held now, so no row can come in between: the tables the copy fills must be empty. (A
        # table only the target has may hold what its own migration put there; the caller
        # refused every row anywhere before opening the store, see `occupied`.)
        if rows := {t: n for t, n in (await occupied(db)).items() if t in plan}:
            raise NotEmpty(rows)
        for table in _copy_order(await _references(db), tables):
            if table in plan:
                positions, names = plan[table]
                await _copy(
                    db,
                    table,
                    rows=source.rows(table),
                    positions=positions,
                    names=names,
                    columns=tables[table],
                )
        figures = Figures(counts=await _counts(db, tables), ledger=await _ledger_sums(db))
        await verify(figures)
        return figures


def _plan(
    source: Mapping[str, Sequence[str]],
    optional: frozenset[str],
    target: Mapping[str, Mapping[str, _Column]],
) -> dict[str, tuple[list[int], list[str]]]:
    """Per source table: which of its columns go where (positions in its rows, target names)."""
    plan: dict[str, tuple[list[int], list[str]]] = {}
    for table, columns in source.items():
        if table not in target:
            raise LoadError(
                f"the source's table {table} has no table to go to in PostgreSQL: "
                "upgrade falbot (its PostgreSQL schema is older than the source's)"
            )
        into = target[table]
        positions: list[int] = []
        names: list[str] = []
        for i, column in enumerate(columns):
            if column in into and not into[column].generated:
                positions.append(i)
                names.append(column)
            elif column not in into and column not in optional:
                raise LoadError(
                    f"the source's column {table}.{column} has no column to go to in "
                    "PostgreSQL: upgrade falbot (its PostgreSQL schema is older than the source's)"
                )
        for name, target_column in into.items():
            if name not in names and not target_column.fillable and not target_column.generated:
                raise LoadError(
                    f"PostgreSQL's column {table}.{name} needs a value the source does not have"
                )
        plan[table] = (positions, names)
    return plan


async def _copy(
    db: Db,
    table: str,
    *,
    rows: AsyncIterator[tuple[Any, ...]],
    positions: list[int],
    names: list[str],
    columns: Mapping[str, _Column],
) -> None:
    converts = [_converter(table, columns[name]) for name in names]

    async def records() -> AsyncIterator[tuple[Any, ...]]:
        async for row in rows:
            yield tuple(convert(row[i]) for convert, i in zip(converts, positions, strict=True))

    try:
        await db.copy_records_to_table(table, records=records(), columns=names)
    except asyncpg.PostgresError as exc:
        raise LoadError(f"PostgreSQL refused the rows of {table}: {exc}") from exc
    for name in names:
        if columns[name].identity:
            # The next id PostgreSQL hands out comes after the copied ones.
            await db.execute(
                f"SELECT setval(pg_get_serial_sequence($1, $2), m) "
                f"FROM (SELECT MAX({_quoted(name)}) AS m FROM {_quoted(table)}) AS t "
                "WHERE m IS NOT NULL",
                _quoted(table),
                name,
            )


def _converter(table: str, column: _Column) -> Callable[[Any], Any]:
    where = f"{table}.{column.name}"

    def numeric(value: Any) -> Any:
        if value is None or isinstance(value, Decimal):
            return value
        if isinstance(value, float):
            raise LoadError(f"{where} holds a float ({value!r}); money is copied exactly only")
        try:
            return Decimal(value if isinstance(value, str) else int(value))
        except (InvalidOperation, TypeError, ValueError):
            raise LoadError(f"{where} holds {value!r}, which is not a number") from None

    def boolean(value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if value in (0, 1):
            return bool(value)
        raise LoadError(f"{where} holds {value!r}, which is not a boolean (0 or 1)")

    def document(value: Any) -> Any:
        # JSON goes in as the text it was (PostgreSQL parses it); anything else is written out.
        return value if value is None or isinstance(value, str) else json.dumps(value)

    def timestamp(value: Any) -> Any:
        if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
            raise LoadError(f"{where} holds a time without a time zone ({value!r})")
        return value

    def binary(value: Any) -> Any:
        return bytes(value) if isinstance(value, memoryview) else value

    return {
        "numeric": numeric,
        "boolean": boolean,
        "json": document,
        "jsonb": document,
        "timestamp with time zone": timestamp,
        "bytea": binary,
    }.get(column.kind, lambda value: value)


async def _table_names(db: Db) -> list[str]:
    rows = await db.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name"
    )
    return [str(r["table_name"]) for r in rows if r["table_name"] not in _INTERNAL]


async def _schema(db: Db) -> dict[str, dict[str, _Column]]:
    names = await _table_names(db)
    rows = await db.fetch(
        "SELECT table_name, column_name, data_type, is_nullable = 'YES' AS nullable, "
        "column_default IS NOT NULL AS defaulted, is_identity = 'YES' AS identity, "
        "is_generated <> 'NEVER' AS generated "
        "FROM information_schema.columns WHERE table_schema = current_schema() "
        "ORDER BY table_name, ordinal_position"
    )
    tables: dict[str, dict[str, _Column]] = {name: {} for name in names}
    for r in rows:
        if r["table_name"] in tables:
            tables[r["table_name"]][r["column_name"]] = _Column(
                name=r["column_name"],
                kind=r["data_type"],
                fillable=r["nullable"] or r["defaulted"] or r["identity"],
                identity=r["identity"],
                generated=r["generated"],
            )
    return tables


async def _references(db: Db) -> list[tuple[str, str]]:
    """(table, the table it references) for every foreign key of the current schema."""
    rows = await db.fetch(
        "SELECT child.relname AS child, parent.relname AS parent FROM pg_constraint c "
        "JOIN pg_class child ON child.oid = c.conrelid "
        "JOIN pg_class parent ON parent.oid = c.confrelid "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE c.contype = 'f' AND n.nspname = current_schema()"
    )
    return [(str(r["child"]), str(r["parent"])) for r in rows]


def _copy_order(references: list[tuple[str, str]], tables: Mapping[str, object]) -> list[str]:
    """The tables, each after the ones it references (its rows' parents go in first)."""
    graph: dict[str, set[str]] = {table: set() for table in sorted(tables)}
    for child, parent in references:
        if child in graph and parent in graph and child != parent:
            graph[child].add(parent)
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError:
        raise LoadError("PostgreSQL's tables reference each other in a cycle") from None


async def _ledger_sums(db: Db) -> dict[str, tuple[Decimal, Decimal]]:
    rows = await db.fetch(
        "SELECT workspace_id, SUM(cost_usd) AS cost, SUM(credits) AS credits FROM ledger "
        "GROUP BY workspace_id"
    )
    return {str(r["workspace_id"]): (r["cost"], r["credits"]) for r in rows}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
