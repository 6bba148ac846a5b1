"""Dedupe keys (claims) and the facts the bot keeps about itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from adapters.sqlite.codec import to_us
from adapters.sqlite.connection import SqliteConnection, scalar


class StateTables(SqliteConnection):
    async def claim(self, key: str, now: datetime) -> bool:
        async with self._tx() as db:
            cursor = await db.execute(
                "INSERT INTO dedupe (key, seen_us) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (key, to_us(now)),
            )
            return cursor.rowcount == 1

    async def prune_dedupe(self, older_than: datetime) -> int:
        """Forget dedupe keys first seen before `older_than`; return how many."""
        async with self._tx() as db:
            cursor = await db.execute("DELETE FROM dedupe WHERE seen_us < ?", (to_us(older_than),))
            return cursor.rowcount

    async def state_value(self, key: str) -> str | None:
        """A fact the bot keeps about itself, or None."""
        async with self._tx(write=False) as db:
            value = await scalar(db, "SELECT value FROM bot_state WHERE key = ?", (key,))
            return None if value is None else str(value)

    async def set_state_value(self, key: str, value: str) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold the lock `name` for the block. A SQLite database is one process's, so the lock
        is this process's (several processes share a bot on PostgreSQL)."""
        lock = self._named_locks.setdefault(name, asyncio.Lock())
        async with lock:
            yield
