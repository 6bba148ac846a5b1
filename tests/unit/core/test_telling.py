"""A chat platform that fails for a while does not lose a result or a failure notice: the engine
tries again with backoff; a result it could never hand over is delivered by the next start."""

from __future__ import annotations

import pytest

from core.engine import Engine
from core.errors import BotError, ErrorCode, RetryLater, Undeliverable
from core.jobs import Delivery, Job, JobState
from core.model_table import build_catalog
from tests.fakes.asking import submit
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.unit.core.conftest import EngineFactory, config, request
from tests.waits import until

pytestmark = pytest.mark.usefixtures("ticking")


class FlakyReply(RecordingReply):
    """Its platform is down for the first `down` final messages."""

    def __init__(self, down: int) -> None:
        super().__init__()
        self.down = down
        self.tries = 0

    async def deliver(self, delivery: Delivery) -> None:
        self.tries += 1
        if self.tries <= self.down:
            raise ConnectionError("the chat platform is down")
        await super().deliver(delivery)

    async def fail(self, job: Job, error: BotError, *, credits_returned: bool) -> None:
        self.tries += 1
        if self.tries <= self.down:
            raise ConnectionError("the chat platform is down")
        await super().fail(job, error, credits_returned=credits_returned)


async def test_a_result_is_delivered_once_the_platform_is_back(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    engine = await make_engine()
    reply = FlakyReply(down=5)
    job = await submit(engine, request(), reply)
    await reply.wait(timeout=10)
    assert reply.delivery is not None and reply.tries == 6
    await until(lambda: store.jobs[job.id].state is JobState.DELIVERED)


async def test_a_failure_notice_is_retried_too(make_engine: EngineFactory, fal: FakeFal) -> None:
    engine = await make_engine()
    fal.submit_error = BotError(ErrorCode.PROVIDER_REJECTED, "fal said no")
    reply = FlakyReply(down=3)
    await submit(engine, request(), reply)
    await reply.wait(timeout=10)
    assert reply.error is not None and reply.credits_returned is True
    assert reply.tries == 4


async def test_a_result_never_handed_over_is_delivered_by_the_next_start(
    store: MemoryStore, fal: FakeFal, clock: FakeClock
) -> None:
    first = Engine(store=store, fal=fal, clock=clock, catalog=build_catalog(), config=config())
    first.add_reply_factory(RecordingReplyFactory())
    await first.start()
    reply = FlakyReply(down=1000)
    job = await submit(first, request(), reply)
    await until(lambda: reply.tries == 8, timeout=20)  # every try spent
    await first.stop()
    assert store.jobs[job.id].state is JobState.COMPLETED
    assert store.jobs[job.id].credits_settled  # charged once, and only once

    factory = RecordingReplyFactory()
    second = Engine(store=store, fal=fal, clock=clock, catalog=build_catalog(), config=config())
    second.add_reply_factory(factory)
    await second.start()
    try:
        await until(lambda: job.id in factory.replies)
        await factory.replies[job.id].wait()
        await until(lambda: store.jobs[job.id].state is JobState.DELIVERED)
    finally:
        await second.stop()
    assert len(store.entries) == 1


class RateLimitedReply(RecordingReply):
    """Its platform says "retry after `after` s" to the first `limited` final messages, and
    remembers on the engine's clock when each try came."""

    def __init__(self, clock: FakeClock, *, limited: int, after: float) -> None:
        super().__init__()
        self.clock = clock
        self.limited = limited
        self.after = after
        self.tries: list[float] = []

    async def deliver(self, delivery: Delivery) -> None:
        self.tries.append(self.clock.monotonic())
        if len(self.tries) <= self.limited:
            raise RetryLater("rate limited", after=self.after)
        await super().deliver(delivery)


class RefusingReply(RecordingReply):
    def __init__(self) -> None:
        super().__init__()
        self.tries = 0

    async def deliver(self, delivery: Delivery) -> None:
        self.tries += 1
        raise Undeliverable("the bot may not post here")


async def test_a_rate_limited_result_waits_as_long_as_the_platform_asked_on_the_clock(
    make_engine: EngineFactory, clock: FakeClock
) -> None:
    engine = await make_engine(progress_interval=0)
    reply = RateLimitedReply(clock, limited=3, after=7.0)
    await submit(engine, request(), reply)
    await reply.wait(timeout=10)
    assert reply.delivery is not None
    start = reply.tries[0]
    assert [t - start for t in reply.tries] == [0.0, 7.0, 14.0, 21.0]


async def test_an_undeliverable_result_is_not_tried_again(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    engine = await make_engine()
    reply = RefusingReply()
    job = await submit(engine, request(), reply)
    await until(lambda: reply.tries == 1)
    assert await engine.drain(grace=5)  # the delivery step ended without another try
    assert reply.tries == 1
    assert store.jobs[job.id].state is JobState.COMPLETED  # the next start tries once more


class StoreOutOnce(MemoryStore):
    """Its database is out of reach the first time a job is written delivered."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def save_job(self, job: Job) -> None:
        if job.state is JobState.DELIVERED and not self.failed:
            self.failed = True
            raise ConnectionError("the database is out of reach")
        await super().save_job(job)


async def test_a_delivery_the_store_fails_is_tried_again_while_the_process_lives(
    fal: FakeFal, clock: FakeClock
) -> None:
    # Not left completed (paid for, undelivered) until a restart: a process on a shared line
    # lives on and keeps holding the job, so nobody else would deliver it.
    store = StoreOutOnce()
    engine = Engine(store=store, fal=fal, clock=clock, catalog=build_catalog(), config=config())
    engine.add_reply_factory(RecordingReplyFactory())
    await engine.start()
    try:
        reply = RecordingReply()
        job = await submit(engine, request(), reply)
        await until(lambda: store.jobs[job.id].state is JobState.DELIVERED, timeout=10)
        assert store.failed and reply.delivery is not None
    finally:
        await engine.stop()
