"""Progress edits: at most one per interval, the latest view wins, the end always shows."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

from core.errors import BotError, ErrorCode
from core.jobs import Delivery, Job, JobResult, ProgressView, Stage
from core.progress import ThrottledReply
from tests.fakes.asking import submit
from tests.fakes.builders import make_job
from tests.fakes.clock import FakeClock
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import EngineFactory, request


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
    await clock.wait_for_sleepers(1)
    await clock.advance(1.0)  # the coalesced view's turn
    job = make_job()
    result = JobResult(outputs=(), cost_usd=Decimal("0.01"))
    await reply.deliver(Delivery(job, result, (), 1.0))
    progress = [t for t, s in inner.edits if s != "delivered"]
    assert all(b - a >= 1.5 for a, b in itertools.pairwise(progress))
    assert inner.edits[0][1] == "queued"
    # the coalesced stages collapse to the latest one; the result follows it at once
    assert [s for _, s in inner.edits] == ["queued", "uploading", "delivered"]
    assert inner.edits[-1][0] == inner.edits[-2][0] == 1.5


async def test_a_result_is_not_held_by_the_progress_interval() -> None:
    """The last progress edit was just made: the result still goes out at once, the clock
    standing still (before, it waited out the rest of the 1.5 s interval)."""
    clock = FakeClock()
    inner = TimedReply(clock)
    reply = ThrottledReply(inner, clock=clock, interval=1.5)
    await reply.progress(view(Stage.RUNNING))
    await asyncio.sleep(0)
    await reply.progress(view(Stage.UPLOADING))  # waits its turn, 1.5 s away
    await clock.wait_for_sleepers(1)
    result = JobResult(outputs=(), cost_usd=Decimal("0.01"))
    await asyncio.wait_for(reply.deliver(Delivery(make_job(), result, (), 1.0)), 1.0)
    assert inner.edits == [(0.0, "running"), (0.0, "delivered")]


async def test_a_failure_is_not_held_by_the_progress_interval() -> None:
    clock = FakeClock()
    inner = TimedReply(clock)
    reply = ThrottledReply(inner, clock=clock, interval=1.5)
    await reply.progress(view(Stage.RUNNING))
    await asyncio.sleep(0)
    error = BotError(ErrorCode.TIMEOUT, "slow")
    await asyncio.wait_for(reply.fail(make_job(), error, credits_returned=True), 1.0)
    assert inner.edits == [(0.0, "running"), (0.0, "failed")]


async def test_a_failing_progress_edit_does_not_lose_the_failure_message() -> None:
    clock = FakeClock()

    class Flaky(TimedReply):
        async def progress(self, view: ProgressView) -> None:
            raise RuntimeError("429 Too Many Requests")

    inner = Flaky(clock)
    reply = ThrottledReply(inner, clock=clock, interval=1.5)
    await reply.progress(view(Stage.RUNNING))
    await asyncio.sleep(0)
    await reply.progress(view(Stage.RUNNING))  # its turn is 1.5 s away
    await asyncio.wait_for(
        reply.fail(make_job(), BotError(ErrorCode.TIMEOUT, "slow"), credits_returned=True), 1.0
    )
    assert inner.edits[-1][1] == "failed"


async def test_a_job_whose_last_progress_edit_was_just_made_delivers_at_once(
    make_engine: EngineFactory, clock: FakeClock
) -> None:
    """Through the engine, on a clock that never moves: the result comes right after the
    job's last progress edit, not a progress interval (1.5 s here) later."""
    engine = await make_engine()
    reply = RecordingReply()
    await submit(engine, request(), reply)
    await reply.wait(timeout=5)
    assert reply.views and reply.delivery is not None
    assert clock.monotonic() == 0.0
