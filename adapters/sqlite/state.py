"""Dedupe keys (claims) and the facts the bot keeps about itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from adapters.sqlite.codec import to_us
from adapters.sqlite.connection import SqliteConnection


class StateTables(SqliteConnection):
    async def claim(self, key: str, now: datetime) -> bool:
        cursor = await self._statement(
            "INSERT INTO dedupe (key, seen_us) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (key, to_us(now)),
        )
        return cursor.rowcount == 1

    async def prune_dedupe(self, older_than: datetime) -> int:
        """Forget dedupe keys first seen before `older_than`; return how many."""
        cursor = await self._statement("DELETE FROM dedupe WHERE seen_us < ?", (to_us(older_than),))
        return cursor.rowcount

    async def state_value(self, key: str) -> str | None:
        """A fact the bot keeps about itself, or None."""
        rows = await self._rows("SELECT value FROM bot_state WHERE key = ?", (key,))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    async def set_state_value(self, key: str, value: str) -> None:
        await self._statement(
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
