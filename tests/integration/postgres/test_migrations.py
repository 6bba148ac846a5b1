"""The schema's numbered migrations on PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg

from adapters.postgres import LATEST, PostgresStore
from tests.integration.postgres.database import fresh_database


async def test_processes_starting_at_once_migrate_a_new_database_once() -> None:
    async with fresh_database() as dsn:
        stores = await asyncio.gather(
            *(PostgresStore.open(dsn, min_size=1, max_size=1) for _ in range(4))
        )
        for store in stores:
            await store.close()

        db = await asyncpg.connect(dsn)
        try:
            versions = [r["version"] for r in await db.fetch("SELECT version FROM schema_version")]
        finally:
            await db.close()
    assert sorted(versions) == list(range(1, LATEST + 1))


async def test_a_database_newer_than_falbot_is_refused_with_what_to_do() -> None:
    async with fresh_database() as dsn:
        await (await PostgresStore.open(dsn, max_size=1)).close()
        db = await asyncpg.connect(dsn)
        try:
            await db.execute("INSERT INTO schema_version (version) VALUES ($1)", LATEST + 1)
        finally:
            await db.close()
        try:
            await PostgresStore.open(dsn, max_size=1)
        except RuntimeError as error:
            assert "upgrade falbot" in str(error)
        else:
            raise AssertionError("a newer schema was opened")
