"""Four engines, each on its own store and pool, admit on one PostgreSQL database at once: the
row locks of admission's unit of work are all that keeps them within a bucket and a budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from decimal import Decimal

import pytest

from adapters.postgres import PostgresStore
from core.config import EngineConfig
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Actor, Job
from core.model_table import build_catalog
from core.ports import UsageFilter
from core.quota import BucketKey, BucketLimits, Budget, QuotaScope
from tests.fakes.asking import Ask, submit
from tests.fakes.clock import START, FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.integration.postgres.database import postgres_store

ENGINES = 4
ATTEMPTS = 200
BIG = BucketLimits(Decimal(1_000_000), Decimal(0))
BUCKET = BucketLimits(Decimal(12), Decimal(0))  # 40 jobs of flux-schnell (0.3 credits)


@pytest.fixture
async def engines() -> AsyncIterator[list[Engine]]:
    """Four engines on one emptied database, each with a pool of its own (as four processes
    would have); jobs are held after admission, so only admission touches the database."""
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(postgres_store(max_size=5))
        stores: list[PostgresStore] = [first]
        for _ in range(ENGINES - 1):
            stores.append(
                await stack.enter_async_context(await PostgresStore.open(first.dsn, max_size=5))
            )
        opened = []
        for store in stores:
            engine = Engine(
                store=store,
                fal=FakeFal(auto_finish=False),
                clock=FakeClock(),
                catalog=build_catalog(),
                config=EngineConfig(
                    default_limits=BUCKET,
                    max_in_flight_per_user=ATTEMPTS,
                ),
            )
            engine.add_reply_factory(RecordingReplyFactory())
            await engine.start()
            stack.push_async_callback(engine.stop)
            opened.append(engine)
        yield opened


async def attempt_all(engines: list[Engine], actors: list[Actor]) -> list[Job]:
    """`ATTEMPTS` admissions at once, spread over the engines and the actors; the jobs admitted
    (every refusal must be the bucket's or the budget's)."""

    async def attempt(i: int) -> Job | None:
        ask = Ask(actors[i % len(actors)], "flux-schnell", {"prompt": f"a lighthouse {i}"})
        try:
            return await submit(engines[i % len(engines)], ask, RecordingReply(), hold=True)
        except BotError as error:
            assert error.code in (ErrorCode.QUOTA_EXHAUSTED, ErrorCode.BUDGET_EXHAUSTED), error
            return None

    results = await asyncio.gather(*(attempt(i) for i in range(ATTEMPTS)))
    return [job for job in results if job is not None]


async def test_one_users_admissions_through_four_engines_never_take_more_than_the_bucket(
    engines: list[Engine],
) -> None:
    alice = Actor("console", "w1", "alice")
    admitted = await attempt_all(engines, [alice])

    credits = admitted[0].credits
    assert len(admitted) == int(BUCKET.capacity // credits) < ATTEMPTS
    store = engines[0].store
    left = await store.bucket(BucketKey("w1", "alice"), BUCKET, START)
    assert left.level == BUCKET.capacity - len(admitted) * credits >= 0
    assert len(await store.user_jobs("w1", "alice", limit=1000)) == len(admitted)


async def test_a_workspace_budget_is_never_exceeded_by_four_engines_at_once(
    engines: list[Engine],
) -> None:
    store = engines[0].store
    probe = Ask(Actor("console", "w3", "probe"), "flux-schnell", {"prompt": "a lighthouse"})
    estimate = (await submit(engines[0], probe, RecordingReply(), hold=True)).estimate_usd
    budget = estimate * 25 + estimate / 2  # room for 25 jobs and a half
    await store.set_budget("w2", Budget(daily_usd=budget))
    actors = [Actor("console", "w2", f"user-{n}") for n in range(20)]
    for actor in actors:  # buckets that never bind: only the budget can refuse
        await store.set_quota("w2", QuotaScope.USER, actor.user_id, BIG)

    admitted = await attempt_all(engines, actors)

    assert len(admitted) == 25
    assert sum(job.estimate_usd for job in admitted) <= budget
    assert not await store.ledger(UsageFilter("w2", since=START.replace(day=1)))
