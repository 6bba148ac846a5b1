"""`exclusive(name)` on PostgreSQL holds across processes: two stores (two pools, as two
`falbot run` processes have) on one database take turns, and a holder whose session dies
(the process killed) lets the other in."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from adapters.postgres import PostgresStore
from adapters.postgres.state import LOCK_SPACE
from tests.integration.postgres.database import postgres_store

NOT_IN_WITHIN = 0.3


async def test_two_stores_on_one_database_take_turns() -> None:
    async with postgres_store() as first, await PostgresStore.open(first.dsn) as second:
        async with first.exclusive("discord:commands:1"):
            waiting = asyncio.create_task(_enter(second, "discord:commands:1"))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiting), NOT_IN_WITHIN)
            async with asyncio.timeout(5), second.exclusive("another name"):
                pass
        await asyncio.wait_for(waiting, 5)


async def test_a_holder_whose_session_dies_lets_the_other_in() -> None:
    async with postgres_store() as first, await PostgresStore.open(first.dsn) as second:
        entered = asyncio.Event()
        holding = asyncio.create_task(_hold(first, "register", entered))
        await asyncio.wait_for(entered.wait(), 5)
        waiting = asyncio.create_task(_enter(second, "register"))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiting), NOT_IN_WITHIN)
        # What a SIGKILL does to the holder's session: PostgreSQL ends it.
        admin = await asyncpg.connect(first.dsn)
        try:
            ended = await admin.fetchval(
                "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l "
                "JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
                "AND l.classid = $1::bigint::oid AND d.datname = current_database()",
                LOCK_SPACE,
            )
            assert ended == 1
        finally:
            await admin.close()
        await asyncio.wait_for(waiting, 5)
        holding.cancel()
        await asyncio.gather(holding, return_exceptions=True)


async def _enter(store: PostgresStore, name: str) -> None:
    async with store.exclusive(name):
        pass


async def _hold(store: PostgresStore, name: str, entered: asyncio.Event) -> None:
    async with store.exclusive(name):
        entered.set()
        await asyncio.Event().wait()
