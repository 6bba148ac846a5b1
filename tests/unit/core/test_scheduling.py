"""The line: fair across users, bounded, and never more than max_concurrency jobs at fal."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import BotError, ErrorCode
from core.jobs import Actor
from core.scheduler import FairLine
from tests.fakes.asking import submit
from tests.fakes.fal import FakeFal
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import EngineFactory, request

pytestmark = pytest.mark.usefixtures("ticking")

A, B, C = (Actor("console", "w1", name) for name in ("a", "b", "c"))


async def test_a_user_with_50_jobs_does_not_hold_up_two_others(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    fal.auto_finish = False
    engine = await make_engine(max_concurrency=1)
    for i in range(50):
        await submit(engine, request(A, prompt=f"a-{i}"), RecordingReply())
    await submit(engine, request(B, prompt="b-0"), RecordingReply())
    await submit(engine, request(C, prompt="c-0"), RecordingReply())
    for n in range(1, 6):
        await fal.wait_for_submits(n)
        fal.finish()
    order = [args["prompt"] for _, args in fal.submits]
    assert order.index("b-0") < order.index("a-2")
    assert order.index("c-0") < order.index("a-2")
    assert fal.peak_at_fal == 1


async def test_never_more_than_max_concurrency_at_fal(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    fal.auto_finish = False
    engine = await make_engine(max_concurrency=3)
    replies = [RecordingReply() for _ in range(12)]
    for i, reply in enumerate(replies):
        await submit(engine, request(Actor("console", "w1", f"u{i % 4}")), reply)
    for n in range(1, 13):
        await fal.wait_for_submits(min(n + 2, 12))
        assert fal.at_fal <= 3
        fal.finish()
    for reply in replies:
        await reply.wait()
    assert fal.peak_at_fal == 3


async def test_a_slot_is_free_once_fal_is_done_not_once_the_result_is_read(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    """fal's concurrency counts requests in its queue; reading a finished one's result (and
    settling it) takes no place there, so the next job goes meanwhile."""
    fal.result_gate = asyncio.Event()  # results are slow to read
    engine = await make_engine(max_concurrency=1)
    first, second = RecordingReply(), RecordingReply()
    await submit(engine, request(A, prompt="first"), first)
    await submit(engine, request(B, prompt="second"), second)
    await fal.wait_for_submits(2)  # the second went while the first's result was unread
    assert fal.peak_at_fal == 1
    fal.result_gate.set()
    await first.wait()
    await second.wait()
    assert first.delivery is not None and second.delivery is not None


async def test_a_full_line_refuses_with_busy_and_a_retry_time(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    fal.auto_finish = False
    engine = await make_engine(max_concurrency=1, max_waiting=3)
    for i in range(4):  # one goes to fal, three wait
        await submit(engine, request(Actor("console", "w1", f"u{i}")), RecordingReply())
        await fal.wait_for_submits(1)
    with pytest.raises(BotError) as err:
        await submit(engine, request(), RecordingReply())
    assert err.value.code is ErrorCode.BUSY
    assert err.value.retry_after is not None and err.value.retry_after > 0


async def test_fair_line_order_is_round_robin() -> None:
    line = FairLine(100)
    for job in ("a1", "a2", "a3"):
        line.put("a", job, reserved=False)
    line.put("b", "b1", reserved=False)
    assert list(line.order()) == ["a1", "b1", "a2", "a3"]
    assert [await line.get() for _ in range(4)] == ["a1", "b1", "a2", "a3"]


async def test_an_idle_engine_has_no_job_at_fal(make_engine: EngineFactory, fal: FakeFal) -> None:
    engine = await make_engine(max_concurrency=2)
    reply = RecordingReply()
    await submit(engine, request(), reply)
    await reply.wait()  # by now the dispatcher is back, holding a slot for the next job
    assert engine.at_fal == 0
