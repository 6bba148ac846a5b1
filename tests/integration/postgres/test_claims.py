"""The claim (migration 3's `falbot_claim`) on a real PostgreSQL: many claims at once, from
several pools as from several processes, never hold more slots than the limit, and they serve
the users in turn."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import timedelta

from adapters.postgres import PostgresStore
from adapters.postgres.jobs import insert_job
from tests.fakes.builders import make_job
from tests.integration.postgres.database import postgres_store


async def queue(store: PostgresStore, users: list[str]) -> list[str]:
    """One waiting job per entry of `users` (in that order); their ids."""
    ids = []
    for user in users:
        job = make_job(user_id=user)
        async with store._tx() as db:
            await insert_job(db, job, images=(), owner=store.instance, lease=timedelta(minutes=1))
        await store.enter_line(job.id)
        ids.append(job.id)
    return ids


async def test_claims_at_once_from_several_pools_never_pass_the_limit() -> None:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(postgres_store(max_size=6))
        stores = [first] + [
            await stack.enter_async_context(await PostgresStore.open(first.dsn, max_size=6))
            for _ in range(3)
        ]
        for n, store in enumerate(stores):
            store.serve_as(f"process-{n}", lease_seconds=15)
        await queue(first, [f"u{n % 3}" for n in range(30)])

        claims = [store.claim_next(limit=5) for store in stores for _ in range(6)]
        claimed = [job_id for job_id in await asyncio.gather(*claims) if job_id is not None]

        assert len(claimed) == len(set(claimed)) == 5
        assert await first.slots_in_use() == 5
        assert await first.claim_next(limit=5) is None  # full: no lock taken, nothing claimed
        await first.free_slot(claimed[0])
        assert await first.claim_next(limit=5) is not None


async def test_the_claim_serves_the_user_served_longest_ago_first() -> None:
    async with postgres_store() as store:
        ids = await queue(store, ["ann", "ann", "ann", "bob", "cy"])

        order = [await store.claim_next(limit=10) for _ in range(5)]

        assert order == [ids[0], ids[3], ids[4], ids[1], ids[2]]  # ann, bob, cy, ann, ann
        assert await store.claim_next(limit=10) is None  # nobody waits
