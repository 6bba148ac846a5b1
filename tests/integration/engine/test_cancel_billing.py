"""fal's billing of jobs that end early, through fal-client against the simulator and SQLite:
cancelled (or timed out by falbot) once running at fal is charged and counts in the budget;
cancelled while still in fal's queue is free."""

from __future__ import annotations

from decimal import Decimal

from adapters.fal.simulator import FalSimulator
from core.commands import Cancel
from core.errors import BotError, ErrorCode
from core.jobs import Actor, JobState
from core.ports import UsageFilter
from core.quota import Budget
from core.render import render_error
from tests.fakes.asking import Ask, submit
from tests.fakes.clock import START
from tests.fakes.reply import RecordingReply
from tests.integration.engine.conftest import EngineFactory

ALICE = Actor("console", "w1", "alice")
VEO_AUDIO = {"prompt": "waves at dusk", "duration": 8, "generate_audio": True}  # $3.20 at fal


def veo(actor: Actor = ALICE) -> Ask:
    return Ask(actor, "veo3", VEO_AUDIO)


async def test_veo3_cancelled_while_running_is_charged_and_the_budget_refuses_the_next(
    make_engine: EngineFactory, fal_sim: FalSimulator
) -> None:
    engine = await make_engine()
    await engine.store.set_budget("w1", Budget(daily_usd=Decimal(5)))
    fal_sim.hold = True  # every request stays IN_PROGRESS until released
    charged: list[RecordingReply] = []
    refusals: list[BotError] = []

    for _ in range(5):
        reply = RecordingReply()
        try:
            job = await submit(engine, veo(), reply)
        except BotError as refused:
            refusals.append(refused)
            continue
        await reply.wait_for_stage("running", timeout=10)
        await engine.cancel(Cancel(job.short_id), actor=ALICE)
        await reply.wait(10)
        charged.append(reply)

    assert len(charged) == 1 and len(refusals) == 4
    (reply,) = charged
    assert [r.code for r in refusals] == [ErrorCode.BUDGET_EXHAUSTED] * 4
    assert reply.error is not None and reply.error.code is ErrorCode.CANCELLED
    assert reply.credits_returned is False
    text = render_error(reply.error, credits_returned=False)
    assert "fal had started it, so it costs $3.20" in text and "This job was charged" in text
    (request,) = fal_sim.requests.values()
    assert request.cancelled_while == "IN_PROGRESS"
    ledger = await engine.store.ledger(UsageFilter("w1", START))
    assert [(e.cost_usd, e.kind) for e in ledger] == [(Decimal("3.2"), "charge")]
    usage = await engine.usage(ALICE)
    assert usage.total_usd == Decimal("3.2")


async def test_cancelled_while_in_fals_queue_is_free(
    make_engine: EngineFactory, fal_sim: FalSimulator
) -> None:
    engine = await make_engine()
    fal_sim.hold_queue = True  # requests wait IN_QUEUE until admitted
    reply = RecordingReply()
    job = await submit(engine, veo(), reply)
    await reply.wait_for_stage("submitted", timeout=10)
    (request,) = fal_sim.requests.values()

    await engine.cancel(Cancel(job.short_id), actor=ALICE)
    await reply.wait(10)

    assert request.cancelled_while == "IN_QUEUE"
    assert reply.error is not None and reply.error.code is ErrorCode.CANCELLED
    assert reply.credits_returned is True
    assert "Cancelled before it started" in render_error(reply.error, credits_returned=True)
    assert await engine.store.ledger(UsageFilter("w1", START)) == []
    stored = await engine.store.get_job(job.id)
    assert stored is not None and stored.state is JobState.CANCELLED and stored.result is None


async def test_a_running_job_falbot_gives_up_on_is_cancelled_at_fal_and_charged(
    make_engine: EngineFactory, fal_sim: FalSimulator
) -> None:
    engine = await make_engine(job_timeout=1.0)
    fal_sim.hold = True
    reply = RecordingReply()
    job = await submit(engine, veo(), reply)
    await reply.wait(10)

    (request,) = fal_sim.requests.values()
    assert request.cancelled_while == "IN_PROGRESS"
    assert reply.error is not None and reply.error.code is ErrorCode.TIMEOUT
    assert reply.credits_returned is False
    assert "so it costs $3.20" in reply.error.message
    ledger = await engine.store.ledger(UsageFilter("w1", START))
    assert [(e.job_id, e.cost_usd) for e in ledger] == [(job.id, Decimal("3.2"))]
