"""fal webhooks as the engine uses them (on fakes): a job ends from its webhook without asking fal
again, a webhook that comes first is kept, a replay changes nothing, a lost one falls back to
watching the status."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import JobState
from core.ports import UsageFilter
from core.webhooks import FalOutcome
from tests.fakes.asking import submit
from tests.fakes.clock import START, FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import EngineFactory, request
from tests.waits import until

HOOK = "https://falbot.example/fal/webhook"
NO_RESULT = BotError(ErrorCode.INTERNAL, "the result was fetched although the webhook had it")


def output(url: str = "https://fal.media/from-webhook.png") -> dict[str, Any]:
    image = {"url": url, "width": 512, "height": 512, "content_type": "image/png"}
    return {"images": [image], "seed": 7, "has_nsfw_concepts": [False]}


@pytest.fixture
async def engine(make_engine: EngineFactory) -> Engine:
    return await make_engine(progress_interval=0, webhook_url=HOOK, webhook_wait=60)


async def test_a_job_ends_from_its_webhook_without_fetching_the_result(
    engine: Engine, fal: FakeFal, store: MemoryStore
) -> None:
    fal.result_error = NO_RESULT
    reply = RecordingReply()
    job = await submit(engine, request(), reply)
    await fal.wait_for_submits(1)
    await reply.wait_for_stage("submitted")

    assert engine.fal_webhook(FalOutcome("req-1", data=output())) is True
    await reply.wait()

    assert reply.delivery is not None
    assert reply.delivery.result.outputs[0].url == "https://fal.media/from-webhook.png"
    assert reply.delivery.result.seed == 7
    stored = await store.get_job(job.id)
    assert stored is not None and stored.state is JobState.DELIVERED
    assert fal.webhook_urls == [HOOK]  # the submit named the webhook


async def test_a_replayed_webhook_changes_nothing(
    engine: Engine, fal: FakeFal, store: MemoryStore
) -> None:
    fal.result_error = NO_RESULT
    reply = RecordingReply()
    job = await submit(engine, request(), reply)
    await reply.wait_for_stage("submitted")
    assert engine.fal_webhook(FalOutcome("req-1", data=output())) is True
    await reply.wait()
    ledger = await store.ledger(UsageFilter("w1", START))

    replay = FalOutcome("req-1", data=output("https://fal.media/something-else.png"))
    engine.fal_webhook(replay)  # the adapter drops replays first; even so nothing moves

    assert await store.ledger(UsageFilter("w1", START)) == ledger
    assert len(ledger) == 1 and ledger[0].job_id == job.id
    stored = await store.get_job(job.id)
    assert stored is not None and stored.result is not None
    assert stored.result.outputs[0].url == "https://fal.media/from-webhook.png"


async def test_a_webhook_that_comes_before_the_submit_answer_is_kept(
    engine: Engine, fal: FakeFal
) -> None:
    fal.result_error = NO_RESULT
    fal.submit_gate = asyncio.Event()  # fal ran it before falbot read the submit's answer
    reply = RecordingReply()
    await submit(engine, request(), reply)
    await until(lambda: fal.submit_calls == 1)
    assert engine.expects_webhook("req-1") is True
    assert engine.fal_webhook(FalOutcome("req-1", data=output())) is True
    assert engine.fal_webhook(FalOutcome("req-1", data=output())) is False  # a replay
    fal.submit_gate.set()
    await reply.wait()
    assert reply.delivery is not None
    assert reply.delivery.result.outputs[0].url == "https://fal.media/from-webhook.png"


async def test_a_webhook_for_a_request_falbot_did_not_send_is_not_kept(
    engine: Engine, fal: FakeFal, clock: FakeClock
) -> None:
    # Another fal account points its webhooks here: genuinely signed, but not ours.
    assert engine.expects_webhook("req-1") is False
    stranger = FalOutcome("req-1", data=output("https://evil.example/x.png"))
    assert engine.fal_webhook(stranger) is False  # not kept

    # Even when falbot later sends a request that gets that id, the stranger's is gone.
    reply = RecordingReply()
    await submit(engine, request(), reply)
    await reply.wait_for_stage("submitted")
    await clock.wait_for_sleepers(1)
    await clock.advance(60)  # no webhook came: the status is watched
    await reply.wait()
    assert reply.delivery is not None
    assert reply.delivery.result.outputs[0].url == "https://fal.media/req-1-0.png"


async def test_a_webhook_is_expected_only_while_its_job_waits_for_it(
    engine: Engine, fal: FakeFal
) -> None:
    reply = RecordingReply()
    await submit(engine, request(), reply)
    await reply.wait_for_stage("submitted")
    assert engine.expects_webhook("req-1") is True
    assert engine.expects_webhook("req-2") is False
    assert engine.fal_webhook(FalOutcome("req-1", data=output())) is True
    await reply.wait()
    assert engine.expects_webhook("req-1") is False  # fal's retries are answered, not kept
    assert engine.fal_webhook(FalOutcome("req-1", data=output())) is False


async def test_outcomes_nobody_claims_are_dropped_once_no_submit_is_under_way(
    engine: Engine, fal: FakeFal
) -> None:
    fal.submit_gate = asyncio.Event()
    reply = RecordingReply()
    await submit(engine, request(), reply)
    await until(lambda: fal.submit_calls == 1)
    assert engine.fal_webhook(FalOutcome("req-stranger", data=output())) is True  # may be ours
    fal.submit_gate.set()
    await reply.wait_for_stage("submitted")  # the answer said req-1
    assert engine.expects_webhook("req-stranger") is False
    assert engine.fal_webhook(FalOutcome("req-stranger", data=output())) is False


async def test_after_a_restart_the_webhooks_of_jobs_at_fal_are_expected_at_once(
    make_engine: EngineFactory, store: MemoryStore, fal: FakeFal
) -> None:
    first = await make_engine(progress_interval=0, webhook_url=HOOK, webhook_wait=60)
    fal.auto_finish = False
    reply = RecordingReply()
    await submit(first, request(), reply)
    await reply.wait_for_stage("submitted")
    await first.stop()

    again = await make_engine(progress_interval=0, webhook_url=HOOK, webhook_wait=60)
    assert again.expects_webhook("req-1") is True


async def test_an_error_webhook_fails_the_job_with_fals_error_and_returns_the_credits(
    engine: Engine, fal: FakeFal, store: MemoryStore
) -> None:
    reply = RecordingReply()
    job = await submit(engine, request(), reply)
    await reply.wait_for_stage("submitted")
    refused = BotError(ErrorCode.PROVIDER_REJECTED, "fal flagged the prompt", hint="Rephrase it.")
    engine.fal_webhook(FalOutcome("req-1", error=refused))
    await reply.wait()

    assert reply.error is not None and reply.error.code is ErrorCode.PROVIDER_REJECTED
    assert reply.error.request_id == "req-1"
    assert reply.credits_returned is True
    stored = await store.get_job(job.id)
    assert stored is not None and stored.state is JobState.FAILED
    assert await store.ledger(UsageFilter("w1", START)) == []


async def test_a_webhook_without_its_payload_fetches_the_result(
    engine: Engine, fal: FakeFal
) -> None:
    reply = RecordingReply()
    await submit(engine, request(), reply)
    await reply.wait_for_stage("submitted")
    engine.fal_webhook(FalOutcome("req-1"))  # fal's payload_error: nothing inline
    await reply.wait()
    assert reply.delivery is not None
    assert reply.delivery.result.outputs[0].url == "https://fal.media/req-1-0.png"


async def test_without_a_webhook_in_time_the_job_falls_back_to_watching_its_status(
    engine: Engine, fal: FakeFal, clock: FakeClock
) -> None:
    reply = RecordingReply()
    await submit(engine, request(), reply)
    await reply.wait_for_stage("submitted")
    await clock.wait_for_sleepers(1)
    await clock.advance(59)
    assert not reply.ended.is_set()
    await clock.advance(1)
    await reply.wait()
    assert reply.delivery is not None
    assert reply.delivery.result.cost_usd == Decimal("0.003")  # 1024×1024 from the result
