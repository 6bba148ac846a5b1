"""Variations: one command handler in core (`core.followups`), one button per adapter. It reruns
the result as one job with a new seed and four images; a model that makes one result at a time
(an upscaler, a video model) gets no Variations button, and a stale one is refused."""

from __future__ import annotations

import pytest

from core.commands import FollowUp, Generate
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.followups import follow_up_menu
from core.jobs import Delivery, InputImage, JobKind
from tests.fakes.fal import FakeFal
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ALICE, EngineFactory

PHOTO = InputImage(content_type="image/png", url="https://fal.media/files/photo.png")


async def _deliver(engine: Engine, command: Generate | FollowUp) -> Delivery:
    reply = RecordingReply()
    await engine.submit(command, reply, actor=ALICE)
    await reply.wait()
    assert reply.delivery is not None, reply.error
    return reply.delivery


async def test_variations_rerun_the_result_with_a_new_seed_and_four_images(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    engine = await make_engine(progress_interval=0)
    first = await _deliver(
        engine, Generate(JobKind.IMAGE, "flux-dev", {"prompt": "a fox", "seed": 7})
    )
    assert follow_up_menu(first, spoilers=True).vary

    varied = await _deliver(engine, FollowUp(first.job.id, "vary"))

    assert varied.job.parent_job_id == first.job.id
    assert varied.job.model == "flux-dev" and len(varied.files) == 4
    (_, before), (_, after) = fal.submits
    assert after["prompt"] == before["prompt"] == "a fox"
    assert (before["num_images"], after["num_images"]) == (1, 4)
    assert after["seed"] != 7
    assert varied.job.credits == 4 * first.job.credits  # charged for the four it makes


async def test_a_model_that_makes_one_result_at_a_time_has_no_variations(
    make_engine: EngineFactory,
) -> None:
    engine = await make_engine(progress_interval=0)
    upscaled = await _deliver(engine, Generate(JobKind.UPSCALE, "", {}, (PHOTO,)))
    assert not follow_up_menu(upscaled, spoilers=True).vary
    assert follow_up_menu(upscaled, spoilers=True).rerun

    with pytest.raises(BotError) as refused:  # a button made by an older falbot, say
        await engine.submit(FollowUp(upscaled.job.id, "vary"), RecordingReply(), actor=ALICE)
    assert refused.value.code is ErrorCode.INVALID_INPUT
    assert refused.value.message == "esrgan makes one result at a time: it has no variations."
