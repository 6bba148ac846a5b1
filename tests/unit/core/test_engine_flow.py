"""A job's whole way through the engine, on fakes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.commands import Cancel
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import JobState, Stage
from core.ports import UsageFilter
from core.quota import BucketKey, BucketLimits
from tests.fakes.asking import submit
from tests.fakes.clock import START
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ALICE, request

pytestmark = pytest.mark.usefixtures("ticking")


async def test_image_job_is_delivered_with_its_cost(
    engine: Engine, store: MemoryStore, fal: FakeFal
) -> None:
    reply = RecordingReply()
    job = await submit(engine, request(num_images=2), reply)
    await reply.wait()

    assert reply.error is None and reply.delivery is not None
    assert [f.data is not None for f in reply.delivery.files] == [True, True]
    # flux-schnell: 2 images of 1024×1024 at $0.003 per megapixel
    assert reply.delivery.result.cost_usd == Decimal("0.006")
    assert "flux-schnell · $0.006" in reply.delivery.footer()
    assert f"job {job.short_id}" in reply.delivery.footer()
    assert fal.submits == [
        (
            "fal-ai/flux/schnell",
            {"prompt": "a lighthouse at dawn", "num_images": 2, "image_size": "square_hd"},
        )
    ]
    stored = await store.get_job(job.id)
    assert stored is not None and stored.state is JobState.DELIVERED
    ledger = await store.ledger(UsageFilter("w1", START))
    assert [(e.job_id, e.cost_usd, e.credits) for e in ledger] == [
        (job.id, Decimal("0.006"), Decimal("0.6"))
    ]
    bucket = await store.bucket(
        BucketKey("w1", "alice"), BucketLimits(Decimal(100), Decimal(0)), START
    )
    assert bucket.level == Decimal("99.4")
    assert reply.views[0].stage is Stage.QUEUED


async def test_estimate_is_reconciled_with_the_actual_cost(
    engine: Engine, store: MemoryStore, fal: FakeFal
) -> None:
    # 1:1 is estimated at one megapixel, but fal returns 1536×1024 (two, rounded up as fal
    # bills): the bucket pays the difference.
    fal.image_size = (1536, 1024)
    reply = RecordingReply()
    job = await submit(engine, request(aspect_ratio="1:1"), reply)
    assert job.credits == Decimal("0.3")  # 1 MP × $0.003
    await reply.wait()
    assert reply.delivery is not None and reply.delivery.result.cost_usd == Decimal("0.006")
    bucket = await store.bucket(
        BucketKey("w1", "alice"), BucketLimits(Decimal(100), Decimal(0)), START
    )
    assert bucket.level == Decimal("99.4")


async def test_a_16_9_flux_image_is_billed_a_whole_megapixel(
    engine: Engine, store: MemoryStore, fal: FakeFal
) -> None:
    # fal bills each image "rounding up to the nearest megapixel": 1024×576 is one, not 0.57.
    fal.image_size = (1024, 576)
    reply = RecordingReply()
    job = await submit(engine, request(aspect_ratio="16:9"), reply)
    assert job.credits == Decimal("0.3")
    await reply.wait()
    assert reply.delivery is not None and reply.delivery.result.cost_usd == Decimal("0.003")
    assert "flux-schnell · $0.003 ·" in reply.delivery.footer()


async def test_fal_failure_returns_the_credits(
    engine: Engine, store: MemoryStore, fal: FakeFal
) -> None:
    fal.result_error = BotError(ErrorCode.PROVIDER_UNAVAILABLE, "runner failed")
    reply = RecordingReply()
    job = await submit(engine, request(), reply)
    await reply.wait()
    assert reply.error is not None and reply.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert reply.credits_returned is True
    stored = await store.get_job(job.id)
    assert stored is not None and stored.state is JobState.FAILED
    assert stored.error is not None and stored.error.request_id == "req-1"
    assert await store.ledger(UsageFilter("w1", START)) == []
    bucket = await store.bucket(
        BucketKey("w1", "alice"), BucketLimits(Decimal(100), Decimal(0)), START
    )
    assert bucket.level == Decimal(100)


async def test_edit_uploads_large_inputs_and_inlines_small_ones(
    engine: Engine, fal: FakeFal
) -> None:
    from core.media import validate_image
    from tests.fakes.fal import png_bytes

    small = validate_image(png_bytes(8, 8), max_bytes=10**7)
    reply = RecordingReply()
    await submit(
        engine,
        request(model="nano-banana-edit", prompt="make it red").__class__(
            ALICE, "nano-banana-edit", {"prompt": "make it red"}, (small,)
        ),
        reply,
    )
    await reply.wait()
    args = fal.submits[0][1]
    assert args["image_urls"][0].startswith("data:image/png;base64,")
    assert fal.uploads == []


async def test_cancel_a_waiting_job_returns_its_credits(
    make_engine: object, store: MemoryStore, fal: FakeFal
) -> None:
    fal.auto_finish = False
    engine = await make_engine(max_concurrency=1)  # type: ignore[operator]
    first, second = RecordingReply(), RecordingReply()
    await submit(engine, request(), first)
    waiting = await submit(engine, request(), second)
    await fal.wait_for_submits(1)
    cancelled = await engine.cancel(Cancel(waiting.short_id), actor=ALICE)
    assert cancelled.state is JobState.CANCELLED
    await second.wait()
    assert second.error is not None and second.error.code is ErrorCode.CANCELLED
    assert second.credits_returned is True
    fal.finish()
    await first.wait()
    assert len(fal.submits) == 1


async def test_cancel_a_job_at_fal_cancels_it_there(engine: Engine, fal: FakeFal) -> None:
    fal.auto_finish = False
    fal.hold_queue = True  # still in fal's queue: free (one fal had started is charged)
    reply = RecordingReply()
    job = await submit(engine, request(), reply)
    await fal.wait_for_submits(1)
    await engine.cancel(Cancel(job.id), actor=ALICE)
    await reply.wait()
    assert fal.requests["req-1"].cancelled
    assert reply.error is not None and reply.error.code is ErrorCode.CANCELLED
    assert reply.credits_returned is True


async def test_nobody_else_can_cancel_or_see_a_job(engine: Engine, fal: FakeFal) -> None:
    from core.jobs import Actor

    fal.auto_finish = False
    job = await submit(engine, request(), RecordingReply())
    bob = Actor("console", "w1", "bob")
    other_workspace_admin = Actor("console", "w2", "root", is_admin=True)
    for actor in (bob, other_workspace_admin):
        with pytest.raises(BotError) as err:
            await engine.cancel(Cancel(job.id), actor=actor)
        assert err.value.code is ErrorCode.NOT_FOUND


async def test_job_events_carry_the_prompt_redacted(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="falbot.events")
    reply = RecordingReply()
    await submit(engine, request(prompt="my secret birthday plan"), reply)
    await reply.wait()
    fields = [r.falbot for r in caplog.records if hasattr(r, "falbot")]  # type: ignore[attr-defined]
    assert [f["event"] for f in fields if f["event"] != "job_progress"] == [
        "job_queued",
        "job_started",
        "job_succeeded",
    ]
    queued = fields[0]
    assert queued["prompt_len"] == len("my secret birthday plan")
    assert "birthday" not in repr(fields)


async def test_a_held_job_starts_only_when_released_and_keeps_its_named_reply(
    engine: Engine, store: MemoryStore, fal: FakeFal
) -> None:
    reply = RecordingReply()
    job = await submit(engine, request(), reply, hold=True)
    assert engine.waiting == 0 and not fal.submits and not reply.views  # not in the line
    named = await engine.set_reply_ref(job, {"message_ts": "1.000001"})
    assert named.reply_ref["message_ts"] == "1.000001"
    await engine.release(job)
    await reply.wait()
    assert reply.delivery is not None
    stored = await store.get_job(job.id)
    assert stored is not None and stored.state is JobState.DELIVERED
    assert stored.reply_ref["message_ts"] == "1.000001"  # saves along the way kept the name


async def test_a_withdrawn_job_never_reaches_fal_and_gets_its_credits_back(
    engine: Engine, store: MemoryStore, fal: FakeFal
) -> None:
    reply = RecordingReply()
    job = await submit(engine, request(), reply, hold=True)
    key, limits = BucketKey("w1", "alice"), BucketLimits(Decimal(100), Decimal(0))
    assert (await store.bucket(key, limits, START)).level < 100
    await engine.withdraw(job, BotError(ErrorCode.NOT_ALLOWED, "I can't post there."))
    stored = await store.get_job(job.id)
    assert stored is not None and stored.state is JobState.CANCELLED
    assert (await store.bucket(key, limits, START)).level == 100
    assert not fal.submits
