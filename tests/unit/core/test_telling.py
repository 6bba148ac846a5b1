"""A chat platform that fails for a while does not lose a result or a failure notice: the engine
tries again with backoff; a result it could never hand over is delivered by the next start."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from core.catalog import build_catalog
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Delivery, Job, JobState
from tests.fakes.asking import submit
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.unit.core.conftest import EngineFactory, config, request

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


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - engine steps set no event of their own
            await asyncio.sleep(0)


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
