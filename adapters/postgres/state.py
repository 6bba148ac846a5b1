"""Dedupe keys (claims) and the facts the bot keeps about itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from adapters.postgres.codec import aware
from adapters.postgres.connection import PostgresConnection

# The first key of falbot's named advisory locks ("falb"): the two-key form keeps them apart
# from the migrations' one-key lock and from any other program's locks on the database.
LOCK_SPACE = 0x6661_6C62


class StateTables(PostgresConnection):
    async def claim(self, key: str, now: datetime) -> bool:
        async with self._connection() as db:
            status = await db.execute(
                "INSERT INTO dedupe (key, seen_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                key,
                aware(now),
            )
            return status == "INSERT 0 1"

    async def prune_dedupe(self, older_than: datetime) -> int:
        """Forget dedupe keys first seen before `older_than`; return how many. Webhook outcomes
        kept for another process (the shared line) go with them."""
        async with self._connection() as db:
            status = await db.execute("DELETE FROM dedupe WHERE seen_at < $1", aware(older_than))
            await db.execute("DELETE FROM fal_outcomes WHERE received_at < $1", aware(older_than))
            return int(status.split()[-1])

    async def state_value(self, key: str) -> str | None:
        """A fact the bot keeps about itself, or None."""
        async with self._connection() as db:
            value = await db.fetchval("SELECT value FROM bot_state WHERE key = $1", key)
            return None if value is None else str(value)

    async def state_values(self, keys: Sequence[str]) -> dict[str, str]:
        """Facts kept under `keys`, in one statement; a key with none is left out."""
        if not keys:
            return {}
        async with self._tx(write=False) as db:
            rows = await db.fetch(
                "SELECT key, value FROM bot_state WHERE key = ANY($1::text[])", list(keys)
            )
            return {str(r["key"]): str(r["value"]) for r in rows if r["value"] is not None}

    async def set_state_value(self, key: str, value: str) -> None:
        async with self._connection() as db:
            await db.execute(
                "INSERT INTO bot_state (key, value) VALUES ($1, $2) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                key,
                value,
            )

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold the lock `name` for the block, against every process on this database: a
        session advisory lock on a connection of its own. A process that dies loses its
        session, and with it the lock."""
        async with self._own_connection() as db:
            await db.execute("SELECT pg_advisory_lock($1, hashtext($2))", LOCK_SPACE, name)
            try:
                yield
            finally:
                await db.execute("SELECT pg_advisory_unlock($1, hashtext($2))", LOCK_SPACE, name)
