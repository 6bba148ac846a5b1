"""A role's quota holds through settlement: every settlement, refund and admin refund uses the
limits resolved (roles included) when the job was admitted. The engine on fakes of fal and the
clock, over both stores (the in-memory fake and SQLite)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from core.admin import AdminService
from core.admin_commands import Refund, SetQuota
from core.commands import Cancel
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Actor, JobState, Stage
from core.model_table import build_catalog
from core.ports import Store
from core.quota import BucketKey, BucketLimits, QuotaScope
from tests.fakes.asking import submit
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.unit.core.conftest import ADMIN, config, request

# The default refills fast: settling with it (and not the role's) would show at once.
DEFAULT = BucketLimits(Decimal(100), Decimal(100))
ARTIST = Actor("console", "w1", "ann", roles=("artists",))
PATRON = Actor("console", "w1", "pat", roles=("patrons",))
ARTISTS = BucketLimits(Decimal(10), Decimal(1))
PATRONS = BucketLimits(Decimal(1000), Decimal(0))
VEO = {"duration": 8, "generate_audio": True, "prompt": "waves"}  # $3.20: 320 credits


@pytest.fixture
async def setup(store: Store) -> AsyncIterator[tuple[Engine, AdminService, FakeFal, FakeClock]]:
    clock, fal = FakeClock(), FakeFal(auto_finish=False)
    engine = Engine(
        store=store,
        fal=fal,
        clock=clock,
        catalog=build_catalog(),
        config=config(default_limits=DEFAULT, max_concurrency=10),
    )
    engine.add_reply_factory(RecordingReplyFactory())
    await engine.start()

    async def tick() -> None:  # throttled replies sleep on the clock: let them through
        while True:
            await clock.wait_for_sleepers(1)
            await clock.advance(0.5)

    admin = AdminService(engine=engine, clock=clock)
    await admin.handle(SetQuota("artists", "10", "1", QuotaScope.ROLE), actor=ADMIN)
    await admin.handle(SetQuota("patrons", "1000", "0", QuotaScope.ROLE), actor=ADMIN)
    ticking = asyncio.create_task(tick())
    try:
        yield engine, admin, fal, clock
    finally:
        ticking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticking
        await engine.stop()


async def _level(store: Store, actor: Actor, limits: BucketLimits, clock: FakeClock) -> Decimal:
    return (await store.bucket(BucketKey("w1", actor.user_id), limits, clock.now())).level


async def test_a_job_settling_an_hour_later_leaves_the_role_bucket_within_the_role(
    store: Store, setup: tuple[Engine, AdminService, FakeFal, FakeClock]
) -> None:
    engine, _, fal, clock = setup
    reply = RecordingReply()
    await submit(engine, request(ARTIST, model="nano-banana"), reply)  # 3.9 credits
    await reply.wait_for_stage(Stage.RUNNING)
    assert await _level(store, ARTIST, ARTISTS, clock) < Decimal("6.11")

    await clock.advance(3600)
    fal.finish()
    await reply.wait()

    assert reply.delivery is not None
    # One credit came back in the hour, at the role's rate: not the default's hundred.
    assert Decimal("7.1") <= await _level(store, ARTIST, ARTISTS, clock) < Decimal("7.11")
    with pytest.raises(BotError) as refused:  # a 50-credit video the role never allows
        await submit(engine, request(ARTIST, model="wan-2.5", duration=10), RecordingReply())
    assert refused.value.code is ErrorCode.QUOTA_EXHAUSTED


async def test_cancelled_jobs_do_not_inflate_a_role_bucket(
    store: Store, setup: tuple[Engine, AdminService, FakeFal, FakeClock]
) -> None:
    engine, _, fal, clock = setup
    fal.hold_queue = True  # still in fal's queue when cancelled: free, credits back
    replies = [RecordingReply() for _ in range(4)]
    jobs = [await submit(engine, request(ARTIST, model="flux-schnell"), r) for r in replies]
    await fal.wait_for_submits(4)
    await clock.advance(1800)

    for job, reply in zip(jobs, replies, strict=True):
        await engine.cancel(Cancel(job.id), actor=ARTIST)
        await reply.wait()
        assert reply.credits_returned is True

    assert await _level(store, ARTIST, ARTISTS, clock) == 10


async def test_a_failed_job_refunds_into_a_generous_role_bucket(
    store: Store, setup: tuple[Engine, AdminService, FakeFal, FakeClock]
) -> None:
    engine, _, fal, clock = setup
    reply = RecordingReply()
    job = await submit(engine, request(PATRON, model="veo3", **VEO), reply)
    assert await _level(store, PATRON, PATRONS, clock) == 680
    await fal.wait_for_submits(1)
    fal.finish(error=BotError(ErrorCode.PROVIDER_UNAVAILABLE, "runner failed"))
    await reply.wait()

    assert reply.credits_returned is True
    assert await _level(store, PATRON, PATRONS, clock) == 1000
    stored = await store.get_job(job.id)
    assert stored is not None and stored.state is JobState.FAILED


async def test_an_admin_refund_goes_back_into_the_role_bucket(
    store: Store, setup: tuple[Engine, AdminService, FakeFal, FakeClock]
) -> None:
    engine, admin, fal, clock = setup
    reply = RecordingReply()
    job = await submit(engine, request(PATRON, model="veo3", **VEO), reply)
    await fal.wait_for_submits(1)
    fal.finish()
    await reply.wait()
    assert reply.delivery is not None
    assert await _level(store, PATRON, PATRONS, clock) == 680

    await admin.handle(Refund(job.short_id), actor=ADMIN)

    assert await _level(store, PATRON, PATRONS, clock) == 1000
