"""fal's billing for jobs that end early: cancelled (or given up on by falbot) while still
queued is free; once fal has started running it, it is charged, written to the ledger once,
counted in the budget, and the user is told which."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from core.admin import AdminService
from core.admin_commands import Refund, SetBudget, SetQuota
from core.commands import Cancel
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import JobState, Stage
from core.ports import UsageFilter
from core.quota import BucketKey, BucketLimits
from core.render import render_error
from tests.fakes.asking import submit
from tests.fakes.clock import START
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ADMIN, ALICE, EngineFactory, request
from tests.waits import until

pytestmark = pytest.mark.usefixtures("ticking")

VEO = {"model": "veo3", "prompt": "waves on a beach", "duration": 8, "generate_audio": True}
ROOMY = BucketLimits(Decimal(1000), Decimal(0))


def veo() -> Any:
    return request(**VEO)  # $0.40 a second with audio: $3.20, 320 credits


async def _level(store: MemoryStore) -> Decimal:
    return (await store.bucket(BucketKey("w1", "alice"), ROOMY, START)).level


async def _charges(store: MemoryStore) -> list[tuple[str, Decimal, str]]:
    entries = await store.ledger(UsageFilter("w1", START))
    return [(e.job_id, e.cost_usd, e.kind) for e in entries]


async def test_cancelled_while_running_at_fal_is_charged_and_counts_in_the_budget(
    engine: Engine, admin: AdminService, store: MemoryStore, fal: FakeFal
) -> None:
    await admin.handle(SetQuota("alice", "1000", "0"), actor=ADMIN)
    await admin.handle(SetBudget("5", "none"), actor=ADMIN)
    fal.auto_finish = False
    reply = RecordingReply()
    job = await submit(engine, veo(), reply)
    await reply.wait_for_stage(Stage.RUNNING)

    await engine.cancel(Cancel(job.short_id), actor=ALICE)
    await reply.wait()

    assert reply.error is not None and reply.error.code is ErrorCode.CANCELLED
    assert reply.credits_returned is False
    text = render_error(reply.error, credits_returned=reply.credits_returned)
    assert "fal had started it, so it costs $3.20" in text
    assert await _charges(store) == [(job.id, Decimal("3.2"), "charge")]
    assert await _level(store) == 1000 - 320
    stored = await store.get_job(job.id)
    assert stored is not None and stored.state is JobState.CANCELLED
    assert stored.result is not None and stored.result.cost_usd == Decimal("3.20")

    # $3.20 spent of a $5 day: the next $3.20 job does not fit, however often it is tried.
    for _ in range(4):
        with pytest.raises(BotError) as refused:
            await submit(engine, veo(), RecordingReply())
        assert refused.value.code is ErrorCode.BUDGET_EXHAUSTED
    assert len(fal.submits) == 1


async def test_cancelled_while_queued_at_fal_is_free(
    engine: Engine, admin: AdminService, store: MemoryStore, fal: FakeFal
) -> None:
    await admin.handle(SetQuota("alice", "1000", "0"), actor=ADMIN)
    fal.auto_finish = False
    fal.hold_queue = True
    reply = RecordingReply()
    job = await submit(engine, veo(), reply)
    await reply.wait_for_stage(Stage.SUBMITTED)

    await engine.cancel(Cancel(job.short_id), actor=ALICE)
    await reply.wait()

    assert fal.cancels == ["req-1"]
    assert reply.error is not None and reply.error.code is ErrorCode.CANCELLED
    assert reply.credits_returned is True
    text = render_error(reply.error, credits_returned=True)
    assert "Cancelled before it started" in text and "credits were returned" in text
    assert await _charges(store) == []
    assert await _level(store) == 1000


async def test_a_job_cancelled_on_its_way_to_fal_is_cancelled_there_and_free(
    engine: Engine, store: MemoryStore, fal: FakeFal
) -> None:
    fal.auto_finish = False
    fal.hold_queue = True
    fal.submit_gate = asyncio.Event()
    reply = RecordingReply()
    job = await submit(engine, request(model="nano-banana"), reply)
    await until(lambda: fal.submit_calls == 1)

    await engine.cancel(Cancel(job.short_id), actor=ALICE)
    fal.submit_gate.set()
    await reply.wait()

    assert fal.cancels == ["req-1"]
    assert reply.error is not None and reply.error.code is ErrorCode.CANCELLED
    assert reply.credits_returned is True
    assert await _charges(store) == []


async def test_a_cancel_fal_answers_already_completed_leaves_the_job_delivered_and_charged(
    engine: Engine, store: MemoryStore, fal: FakeFal
) -> None:
    fal.result_gate = asyncio.Event()  # completed at fal; its result not read yet
    reply = RecordingReply()
    job = await submit(engine, request(model="nano-banana"), reply)
    await until(lambda: fal.requests.get("req-1") is not None and fal.requests["req-1"].completed)

    with pytest.raises(BotError) as too_late:
        await engine.cancel(Cancel(job.short_id), actor=ALICE)
    fal.result_gate.set()
    await reply.wait()

    assert too_late.value.code is ErrorCode.INVALID_INPUT and "too late" in too_late.value.message
    assert fal.cancels == ["req-1"]
    assert reply.delivery is not None and reply.delivery.result.cost_usd == Decimal("0.039")
    assert await _charges(store) == [(job.id, Decimal("0.039"), "charge")]


async def test_a_cancelled_job_is_charged_once_and_an_admin_can_refund_it(
    engine: Engine, admin: AdminService, store: MemoryStore, fal: FakeFal
) -> None:
    await admin.handle(SetQuota("alice", "1000", "0"), actor=ADMIN)
    fal.auto_finish = False
    reply = RecordingReply()
    job = await submit(engine, veo(), reply)
    await reply.wait_for_stage(Stage.RUNNING)
    await engine.cancel(Cancel(job.short_id), actor=ALICE)
    await reply.wait()
    stored = await store.get_job(job.id)
    assert stored is not None
    assert not await store.settle_job(stored, _nothing())  # settled once, never again

    refunded = await admin.handle(Refund(job.short_id), actor=ADMIN)

    assert "$3.20" in refunded
    assert await _charges(store) == [
        (job.id, Decimal("3.2"), "charge"),
        (job.id, Decimal("-3.2"), "refund"),
    ]
    assert await _level(store) == 1000


async def test_falbot_giving_up_on_a_running_job_charges_it(
    make_engine: EngineFactory, admin: AdminService, store: MemoryStore, fal: FakeFal
) -> None:
    engine = await make_engine(job_timeout=0.2)
    await AdminService(engine=engine, clock=admin._clock).handle(
        SetQuota("alice", "1000", "0"), actor=ADMIN
    )
    fal.auto_finish = False
    reply = RecordingReply()
    job = await submit(engine, veo(), reply)
    await reply.wait()

    assert fal.cancels == ["req-1"]
    assert reply.error is not None and reply.error.code is ErrorCode.TIMEOUT
    assert reply.credits_returned is False
    assert "fal had started it, so it costs $3.20" in reply.error.message
    assert await _charges(store) == [(job.id, Decimal("3.2"), "charge")]
    assert await _level(store) == 1000 - 320


async def test_falbot_giving_up_on_a_job_still_in_fals_queue_is_free(
    make_engine: EngineFactory, store: MemoryStore, fal: FakeFal
) -> None:
    engine = await make_engine(job_timeout=0.2)
    fal.auto_finish = False
    fal.hold_queue = True
    reply = RecordingReply()
    await submit(engine, request(model="nano-banana"), reply)
    await reply.wait()

    assert fal.cancels == ["req-1"]
    assert reply.error is not None and reply.error.code is ErrorCode.TIMEOUT
    assert reply.credits_returned is True
    assert await _charges(store) == []


async def test_a_job_fal_completed_as_falbot_gave_up_is_delivered_and_charged(
    make_engine: EngineFactory, store: MemoryStore, fal: FakeFal
) -> None:
    engine = await make_engine(job_timeout=0.2)
    fal.result_gate = fal.cancel_asked  # the result is slow to read until falbot cancels
    reply = RecordingReply()
    job = await submit(engine, request(model="nano-banana"), reply)
    await reply.wait()

    assert fal.cancels == ["req-1"]  # answered ALREADY_COMPLETED
    assert reply.error is None and reply.delivery is not None
    assert reply.delivery.result.cost_usd == Decimal("0.039")
    assert await _charges(store) == [(job.id, Decimal("0.039"), "charge")]


def _nothing() -> Any:
    from core.ports import JobSettlement

    return JobSettlement(Decimal(320), ROOMY)
