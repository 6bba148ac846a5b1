"""Which buttons a result gets and what they may take, decided in core for every adapter: a grid
with outputs 1 and 3 flagged (FakeFal's `nsfw_flags`), under each NSFW mode."""

from __future__ import annotations

import pytest

from core.admin import AdminService
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.followups import follow_up_menu, result_file
from core.jobs import Delivery, JobRequest
from core.nsfw import NSFW_INPUT
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ADMIN, ALICE, EngineFactory, request


@pytest.fixture
def fal() -> FakeFal:
    flagging = FakeFal()
    flagging.nsfw_flags = [True, False, True]
    return flagging


async def _deliver(engine: Engine, job_request: JobRequest) -> Delivery:
    reply = RecordingReply()
    await engine.submit(job_request, reply)
    await reply.wait()
    assert reply.delivery is not None, reply.error
    return reply.delivery


async def test_withheld_outputs_get_no_buttons(make_engine: EngineFactory) -> None:
    engine = await make_engine(progress_interval=0)
    delivery = await _deliver(engine, request(num_images=3))
    menu = follow_up_menu(delivery, spoilers=True)
    assert menu.grid and menu.rerun
    assert menu.images == (1,)  # only the image that was shown


async def test_spoilered_outputs_get_buttons_only_where_spoilers_exist(
    make_engine: EngineFactory, clock: FakeClock
) -> None:
    engine = await make_engine(progress_interval=0)
    await AdminService(engine=engine, clock=clock).nsfw_set(ADMIN, "spoiler")
    delivery = await _deliver(engine, request(num_images=3))
    assert follow_up_menu(delivery, spoilers=True).images == (0, 1, 2)
    assert follow_up_menu(delivery, spoilers=False).images == (1,)


async def test_everything_withheld_leaves_nothing_but_delete(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    fal.nsfw_flags = [True]
    engine = await make_engine(progress_interval=0)
    delivery = await _deliver(engine, request(num_images=1))
    menu = follow_up_menu(delivery, spoilers=True)
    assert (menu.rerun, menu.images, menu.grid) == (False, (), False)


async def test_a_flagged_image_is_refused_as_input_where_it_is_withheld(
    make_engine: EngineFactory,
) -> None:
    engine = await make_engine(progress_interval=0)
    job = (await _deliver(engine, request(num_images=3))).job
    flagged = engine.follow_up(job, action="upscale", actor=ALICE, reply_ref={}, index=0)
    assert flagged.flagged_input

    with pytest.raises(BotError) as refused:
        await engine.submit(flagged, RecordingReply())
    assert refused.value.code is ErrorCode.NOT_ALLOWED
    assert "withheld" in refused.value.message

    clean = engine.follow_up(job, action="edit", actor=ALICE, reply_ref={}, index=1, prompt="x")
    assert not clean.flagged_input
    assert [i.url for i in clean.images] == [job.result.outputs[1].url]  # type: ignore[union-attr]
    await engine.submit(clean, RecordingReply())

    with pytest.raises(BotError) as missing:
        engine.follow_up(job, action="upscale", actor=ALICE, reply_ref={}, index=7)
    assert missing.value.code is ErrorCode.INVALID_INPUT


async def test_what_is_made_from_a_flagged_image_is_flagged_too(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock
) -> None:
    engine = await make_engine(progress_interval=0)
    await AdminService(engine=engine, clock=clock).nsfw_set(ADMIN, "spoiler")
    job = (await _deliver(engine, request(num_images=3))).job
    fal.nsfw_flags = []  # the upscaler flags nothing itself
    upscale = engine.follow_up(job, action="upscale", actor=ALICE, reply_ref={}, index=0)

    delivery = await _deliver(engine, upscale)

    assert delivery.job.reply_ref[NSFW_INPUT] is True
    assert [f.spoiler for f in delivery.files] == [True]
    rerun = engine.follow_up(delivery.job, action="rerun", actor=ALICE, reply_ref={})
    assert rerun.flagged_input  # it takes the same flagged image again


async def test_screen_files_knows_falbot_results_by_name(make_engine: EngineFactory) -> None:
    engine = await make_engine(progress_interval=0)
    job = (await _deliver(engine, request(num_images=3))).job
    names = [f"falbot-{job.short_id}-{n}.png" for n in (1, 2, 3)]
    assert result_file(names[2]) == (job.short_id, 2)
    assert result_file("holiday.png") is None

    assert not await engine.screen_files("w1", [names[1], "cat.png"], **_here())
    with pytest.raises(BotError) as refused:
        await engine.screen_files("w1", [names[0]], **_here())
    assert refused.value.code is ErrorCode.NOT_ALLOWED
    assert await engine.screen_files("w1", [names[2]], nsfw_channel=True, spoilers=True)


def _here() -> dict[str, bool]:
    return {"nsfw_channel": False, "spoilers": True}
