"""Jobs through the real fal-client and the simulator: results, costs, every failure class."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from PIL import Image

from adapters.fal.simulator import FalSimulator, Fault
from core.errors import ErrorCode
from core.jobs import Actor, JobState
from core.media import validate_image
from core.ports import UsageFilter
from core.quota import BucketKey, BucketLimits
from tests.fakes.asking import Ask, submit
from tests.fakes.reply import RecordingReply
from tests.integration.engine.conftest import EngineFactory
from tests.waits import until

ALICE = Actor("console", "w1", "alice")
LIMITS = BucketLimits(Decimal(1000), Decimal(0))


def noisy_png(side: int) -> bytes:
    """A PNG too large to inline as a data URI, so it goes through fal storage."""
    img = Image.effect_noise((side, side), 64).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


async def test_image_job_end_to_end(make_engine: EngineFactory, fal_sim: FalSimulator) -> None:
    engine = await make_engine()
    fal_sim.hold = True
    fal_sim.log_lines = ["loading", "denoising"]
    reply = RecordingReply()
    job = await submit(
        engine, Ask(ALICE, "flux-dev", {"prompt": "a red fox", "aspect_ratio": "16:9"}), reply
    )
    running = await reply.wait_for_stage("running")
    assert running.last_log in ("loading", "denoising")
    fal_sim.release(None)
    await reply.wait(10)
    assert reply.error is None and reply.delivery is not None
    (file,) = reply.delivery.files
    assert file.data is not None
    image = Image.open(io.BytesIO(file.data))
    assert image.format == "PNG" and image.size == (file.output.width, file.output.height)
    # the bytes delivered are the simulator's own output
    stored = [f for f in fal_sim.files.values() if f.data == file.data]
    assert stored
    # 1024×576 is billed as one megapixel: fal rounds each image up to whole megapixels
    assert reply.delivery.result.cost_usd == Decimal("0.025")
    assert "$0.025" in reply.delivery.footer()
    done = await engine.store.get_job(job.id)
    assert done is not None and done.state is JobState.DELIVERED
    assert done.request_id in fal_sim.requests
    stages = [v.stage.value for v in reply.views]
    assert stages[0] == "queued"
    assert stages.index("running") > 0
    # status came through the stream: submit, stream, result (≤ 4 requests for the job)
    assert sum(fal_sim.http_by_request[done.request_id].values()) <= 4


async def test_edit_job_uploads_its_input_to_fal_storage(
    make_engine: EngineFactory, fal_sim: FalSimulator
) -> None:
    engine = await make_engine()
    source = validate_image(noisy_png(400), max_bytes=20 * 1024 * 1024)
    assert source.data is not None and len(source.data) > 256 * 1024
    reply = RecordingReply()
    await submit(
        engine, Ask(ALICE, "nano-banana-edit", {"prompt": "make it blue"}, (source,)), reply
    )
    await reply.wait(10)
    assert reply.error is None and reply.delivery is not None
    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "fal-ai/nano-banana/edit"
    (url,) = arguments["image_urls"]
    assert url.startswith(fal_sim.cdn_url)
    uploaded = [f for f in fal_sim.files.values() if f.data == source.data]
    assert uploaded, "the input reached fal storage byte for byte"
    assert reply.delivery.result.cost_usd == Decimal("0.039")


async def test_video_job_end_to_end(make_engine: EngineFactory, fal_sim: FalSimulator) -> None:
    engine = await make_engine()
    reply = RecordingReply()
    await submit(
        engine,
        Ask(ALICE, "wan-2.5", {"prompt": "waves", "duration": 5, "resolution": "1080p"}),
        reply,
    )
    await reply.wait(10)
    assert reply.error is None and reply.delivery is not None
    (file,) = reply.delivery.files
    assert file.data is not None and file.data[4:8] == b"ftyp"
    assert file.file_name.endswith(".mp4")
    assert reply.delivery.result.cost_usd == Decimal("0.75")  # 5 s × $0.15


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault.validation(), ErrorCode.PROVIDER_REJECTED),
        (Fault.content_policy(), ErrorCode.PROVIDER_REJECTED),
        (Fault.server_error("runner_server_error"), ErrorCode.PROVIDER_UNAVAILABLE),
        (Fault.server_error("runner_scheduling_failure"), ErrorCode.PROVIDER_UNAVAILABLE),
        (Fault.timeout(), ErrorCode.TIMEOUT),
        (Fault.completed_error(), ErrorCode.PROVIDER_UNAVAILABLE),
    ],
)
async def test_fal_failures_fail_the_job_and_return_credits(
    make_engine: EngineFactory, fal_sim: FalSimulator, fault: Fault, code: ErrorCode
) -> None:
    engine = await make_engine()
    fal_sim.fail_next(fault)
    reply = RecordingReply()
    job = await submit(engine, Ask(ALICE, "nano-banana", {"prompt": "a cat"}), reply)
    await reply.wait(10)
    assert reply.error is not None and reply.error.code is code, reply.error
    assert reply.credits_returned is True
    assert reply.error.request_id
    if fault == Fault.content_policy():
        assert "content policy" in reply.error.message.lower()
    stored = await engine.store.get_job(job.id)
    assert stored is not None and stored.state is JobState.FAILED
    assert await engine.store.ledger(UsageFilter("w1", job.created_at)) == []
    bucket = await engine.store.bucket(BucketKey("w1", "alice"), LIMITS, job.created_at)
    assert bucket.level == Decimal(1000)


async def test_never_more_than_max_concurrency_at_the_simulator(
    make_engine: EngineFactory, fal_sim: FalSimulator
) -> None:
    fal_sim.hold = True  # the first jobs stay at fal until every slot is taken
    engine = await make_engine(max_concurrency=3)
    replies = [RecordingReply() for _ in range(15)]
    for i, reply in enumerate(replies):
        actor = Actor("console", "w1", f"user{i % 5}")
        await submit(engine, Ask(actor, "flux-schnell", {"prompt": f"job {i}"}), reply)
    await until(lambda: fal_sim.in_flight == 3, timeout=10)
    fal_sim.hold = False
    fal_sim.release()
    for reply in replies:
        await reply.wait(20)
    assert all(r.delivery is not None for r in replies)
    assert fal_sim.peak_in_flight == 3
    assert len(fal_sim.submits) == 15
