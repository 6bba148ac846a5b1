"""Every table as one consistent snapshot, in plain values, for copying into another store
(`falbot migrate-db`).

Columns keep their names except where SQLite's encoding shows in them: a time `X_us`
(microseconds since the epoch) comes out as `X_at`, an aware UTC datetime (`at_us` as `at`); a
sum `X_micros` (integer micro-dollars) comes out as `X_usd`, an exact Decimal, unless the table
also has `X_usd`, which it was derived from (rounded up, for sums in SQL): then it is left out.
Every row also carries its `rowid` as `seq`, the order it was stored in (what SQLite breaks ties
between equal times with); a target without such a column may drop it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiosqlite

from adapters.sqlite.codec import from_micros, from_us
from adapters.sqlite.connection import SqliteConnection, scalar

# The column every row gets, and that a target may do without.
SEQ = "seq"
_INTERNAL = ("schema_version",)
_BATCH = 500

Convert = Callable[[Any], Any]


def _as_is(value: Any) -> Any:
    return value


def _time(value: Any) -> Any:
    return None if value is None else from_us(int(value))


def _money(value: Any) -> Any:
    return None if value is None else from_micros(int(value))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _plain(columns: Sequence[str]) -> list[tuple[str, str, Convert]]:
    """(SQLite column, plain name, conversion) for each column kept."""
    names = set(columns)
    kept: list[tuple[str, str, Convert]] = []
    for column in columns:
        if column.endswith("_us"):
            base = column.removesuffix("_us")
            kept.append((column, "at" if base == "at" else f"{base}_at", _time))
        elif column.endswith("_micros"):
            usd = column.removesuffix("_micros") + "_usd"
            if usd not in names:
                kept.append((column, usd, _money))
        else:
            kept.append((column, column, _as_is))
    plain = [name for _, name, _ in kept]
    if len(set(plain)) != len(plain) or SEQ in plain:
        raise ValueError(f"columns {', '.join(columns)} cannot be exported without a clash")
    return kept


class Snapshot:
    """What `SqliteStore.snapshot()` yields: the tables as they were when it was opened."""

    optional = frozenset({SEQ})

    def __init__(
        self, db: aiosqlite.Connection, layout: Mapping[str, list[tuple[str, str, Convert]]]
    ) -> None:
        self._db = db
        self._layout = layout

    @property
    def tables(self) -> dict[str, tuple[str, ...]]:
        """Each table's plain column names, `seq` first."""
        return {t: (SEQ, *(name for _, name, _ in cols)) for t, cols in self._layout.items()}

    async def count(self, table: str) -> int:
        self._known(table)
        return int(await scalar(self._db, f"SELECT COUNT(*) FROM {_quoted(table)}", ()))

    async def rows(self, table: str) -> AsyncIterator[tuple[Any, ...]]:
        """The table's rows in the order they were stored, as plain values."""
        columns = self._known(table)
        selected = ", ".join(_quoted(c) for c, _, _ in columns)
        sql = f"SELECT rowid, {selected} FROM {_quoted(table)} ORDER BY rowid"
        converts = [convert for _, _, convert in columns]
        async with self._db.execute(sql) as cursor:
            while batch := await cursor.fetchmany(_BATCH):
                for row in batch:
                    yield (row[0], *(f(v) for f, v in zip(converts, row[1:], strict=True)))

    async def ledger_sums(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Per workspace: the ledger's cost in USD and its credits, summed exactly."""
        rows = await self._db.execute_fetchall(
            "SELECT workspace_id, cost_micros, credits FROM ledger"
        )
        micros: dict[str, int] = {}
        credits: dict[str, Decimal] = {}
        for workspace, cost, credit in rows:
            micros[workspace] = micros.get(workspace, 0) + int(cost)
            credits[workspace] = credits.get(workspace, Decimal(0)) + Decimal(credit)
        return {ws: (from_micros(total), credits[ws]) for ws, total in micros.items()}

    def _known(self, table: str) -> list[tuple[str, str, Convert]]:
        if table not in self._layout:
            raise KeyError(f"no table {table} in the snapshot")
        return self._layout[table]


class ExportTables(SqliteConnection):
    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Snapshot]:
        """Every table but `schema_version`, read in one transaction (one consistent state,
        whatever another connection writes meanwhile)."""
        async with self._tx(write=False) as db:
            names = await db.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
            layout: dict[str, list[tuple[str, str, Convert]]] = {}
            for (name,) in names:
                if name in _INTERNAL:
                    continue
                info = await db.execute_fetchall(f"PRAGMA table_info({_quoted(name)})")
                layout[name] = _plain([row[1] for row in info])
            yield Snapshot(db, layout)
