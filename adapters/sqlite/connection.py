"""One aiosqlite connection in WAL mode: one short transaction at a time, checkpoints aside."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from adapters.sqlite.migrations import migrate

log = logging.getLogger(__name__)

# SQLite checkpoints the WAL itself inside the COMMIT that takes it past 1,000 pages, and
# fsyncs there: milliseconds in whichever transaction is unlucky (it was admission's p99). So
# the store checkpoints on a second connection, in the background, every `checkpoint_every`
# write transactions; the writer's own checkpoint stays as a backstop, far later.
CHECKPOINT_EVERY = 100
_BACKSTOP_PAGES = 10_000


class SqliteConnection:
    """Every method is one transaction on the one connection, serialised by an asyncio lock.
    A second connection only checkpoints the WAL, in a task the store owns."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        path: Path,
        *,
        checkpointer: aiosqlite.Connection | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        self._db: aiosqlite.Connection | None = db
        self._lock = asyncio.Lock()
        self._named_locks: dict[str, asyncio.Lock] = {}  # `exclusive`'s, by name
        self.path = path
        self._checkpointer = checkpointer
        self._checkpoint_every = checkpoint_every
        self._writes = 0
        self._wake = asyncio.Event()
        self._checkpointed = asyncio.Event()  # set after each background checkpoint (tests)
        self._checkpoints: asyncio.Task[None] | None = None
        if checkpointer is not None:
            self._checkpoints = asyncio.create_task(
                self._checkpoint_loop(), name=f"checkpoints-{path.name}"
            )

    @classmethod
    async def open(cls, path: str | Path, *, checkpoint_every: int = CHECKPOINT_EVERY) -> Self:
        """Open (creating it and its folder when missing) and migrate the database at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        checkpointer: aiosqlite.Connection | None = None
        try:
            db.row_factory = sqlite3.Row
            mode = await db.execute_fetchall("PRAGMA journal_mode = WAL")
            wal = str(next(iter(mode))[0]).lower() == "wal"
            if not wal:
                log.warning("SQLite refused WAL mode for %s", path)
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            version = await migrate(db, now=datetime.now(UTC))
            if wal:
                await db.execute(f"PRAGMA wal_autocheckpoint = {_BACKSTOP_PAGES}")
                checkpointer = await aiosqlite.connect(path, isolation_level=None)
        except BaseException:
            if checkpointer is not None:
                await checkpointer.close()
            await db.close()
            raise
        log.info("opened %s at schema version %d", path, version)
        return cls(db, path, checkpointer=checkpointer, checkpoint_every=checkpoint_every)

    async def close(self) -> None:
        """Close the connections (SQLite checkpoints the WAL). Safe to call twice."""
        task, self._checkpoints = self._checkpoints, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            await checkpointer.close()
        db, self._db = self._db, None
        if db is not None:
            async with self._lock:
                await db.close()  # the last connection: it checkpoints and removes the WAL

    async def checkpoint(self) -> tuple[int, int]:
        """Copy what the WAL holds into the database without waiting for (or blocking) the
        writer; the WAL's pages and how many of them are now in the database."""
        if self._checkpointer is None:
            raise ValueError("the store is closed or not in WAL mode")
        rows = await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        _busy, pages, copied = next(iter(rows))
        return int(pages), int(copied)

    async def _checkpoint_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.checkpoint()
            except sqlite3.Error:
                log.warning("background checkpoint of %s failed", self.path, exc_info=True)
            self._checkpointed.set()
            self._checkpointed = asyncio.Event()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def _tx(self, *, write: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """One transaction; rolled back on any exception, cancellation included."""
        if self._db is None:
            raise ValueError("the store is closed")
        db = self._db
        async with self._lock:
            try:
                # Inside the try: a cancelled BEGIN has still been queued on the connection's
                # thread, and the ROLLBACK queued after it must undo it.
                await db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield db
            except BaseException:
                await db.rollback()
                raise
            await db.commit()
        if write:
            self._wrote()

    async def _statement(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> aiosqlite.Cursor:
        """One statement as its own transaction (SQLite's autocommit: all of it or none): one
        trip to the connection's thread instead of three (BEGIN, the statement, COMMIT)."""
        if self._db is None:
            raise ValueError("the store is closed")
        db = self._db
        async with self._lock:  # never inside another caller's transaction
            cursor = await db.execute(sql, params)
        if not sql.lstrip().upper().startswith("SELECT"):
            self._wrote()
        return cursor

    async def _rows(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[sqlite3.Row]:
        """The rows of one SELECT, read in its own transaction, in one trip to the thread."""
        if self._db is None:
            raise ValueError("the store is closed")
        db = self._db
        async with self._lock:
            return list(await db.execute_fetchall(sql, params))

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % self._checkpoint_every == 0:
            self._wake.set()


async def scalar(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> Any:
    rows = list(await db.execute_fetchall(sql, params))
    return rows[0][0] if rows else None
