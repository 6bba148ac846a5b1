"""Progress edits: at most one per interval, the latest view wins, the end always shows."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from decimal import Decimal

from core.errors import BotError, ErrorCode
from core.jobs import Delivery, Job, JobResult, ProgressView, Stage
from core.progress import ThrottledReply
from tests.fakes.builders import make_job
from tests.fakes.clock import FakeClock


class TimedReply:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.edits: list[tuple[float, str]] = []
        self.done = asyncio.Event()

    async def progress(self, view: ProgressView) -> None:
        self.edits.append((self.clock.monotonic(), view.stage.value))

    async def deliver(self, delivery: Delivery) -> None:
        self.edits.append((self.clock.monotonic(), "delivered"))
        self.done.set()

    async def fail(self, job: Job, error: BotError, *, credits_returned: bool) -> None:
        self.edits.append((self.clock.monotonic(), "failed"))
        self.done.set()


def view(stage: Stage) -> ProgressView:
    return ProgressView("job", "flux-dev", stage)


async def test_edits_are_throttled_and_the_final_state_always_shows() -> None:
    clock = FakeClock()
    inner = TimedReply(clock)
    reply = ThrottledReply(inner, clock=clock, interval=1.5)
    await reply.progress(view(Stage.QUEUED))
    await asyncio.sleep(0)
    for stage in (Stage.SUBMITTED, Stage.RUNNING, Stage.RUNNING):
        await reply.progress(view(stage))
    await clock.wait_for_sleepers(1)
    await clock.advance(0.5)
    await reply.progress(view(Stage.UPLOADING))
    job = make_job()
    result = JobResult(outputs=(), cost_usd=Decimal("0.01"))
    delivering = asyncio.create_task(reply.deliver(Delivery(job, result, (), 1.0)))
    while not inner.done.is_set():
        await clock.wait_for_sleepers(1)
        await clock.advance(0.25)
    await delivering
    times = [t for t, _ in inner.edits]
    assert all(b - a >= 1.5 for a, b in itertools.pairwise(times))
    assert inner.edits[0][1] == "queued"
    assert inner.edits[-1][1] == "delivered"
    # the coalesced stages collapse to the latest one before the end
    assert [s for _, s in inner.edits] in (
        ["queued", "uploading", "delivered"],
        ["queued", "delivered"],
    )


async def test_a_failing_progress_edit_does_not_lose_the_failure_message() -> None:
    clock = FakeClock()

    class Flaky(TimedReply):
        async def progress(self, view: ProgressView) -> None:
            raise RuntimeError("429 Too Many Requests")

    inner = Flaky(clock)
    reply = ThrottledReply(inner, clock=clock, interval=1.5)
    await reply.progress(view(Stage.RUNNING))
    await asyncio.sleep(0)
    failing = asyncio.create_task(
        reply.fail(make_job(), BotError(ErrorCode.TIMEOUT, "slow"), credits_returned=True)
    )
    while not inner.done.is_set():
        await clock.wait_for_sleepers(1)
        await clock.advance(timedelta(seconds=1).total_seconds())
    await failing
    assert inner.edits[-1][1] == "failed"
