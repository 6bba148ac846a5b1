"""Which buttons a result gets and what they may take, decided in core for every adapter: a grid
with outputs 1 and 3 flagged (FakeFal's `nsfw_flags`), under each NSFW mode."""

from __future__ import annotations

import pytest

from core.admin import AdminService
from core.admin_commands import SetNsfw
from core.commands import FollowUp
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.followups import follow_up_menu, result_file
from core.jobs import Channel, Delivery, JobKind
from tests.fakes.asking import Ask, submit
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ADMIN, ALICE, EngineFactory, request


@pytest.fixture
def fal() -> FakeFal:
    flagging = FakeFal()
    flagging.nsfw_flags = [True, False, True]
    return flagging


async def _deliver(engine: Engine, asked: Ask | FollowUp) -> Delivery:
    reply = RecordingReply()
    if isinstance(asked, FollowUp):
        await engine.submit(asked, reply, actor=ALICE)
    else:
        await submit(engine, asked, reply)
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
    await AdminService(engine=engine, clock=clock).handle(SetNsfw("spoiler"), actor=ADMIN)
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
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    engine = await make_engine(progress_interval=0)
    job = (await _deliver(engine, request(num_images=3))).job
    flagged = FollowUp(job.id, "upscale", image_index=0)
    with pytest.raises(BotError) as refused:
        await engine.submit(flagged, RecordingReply(), actor=ALICE)
    assert refused.value.code is ErrorCode.NOT_ALLOWED
    assert "withheld" in refused.value.message
    with pytest.raises(BotError) as early:  # the same refusal, before an edit's modal opens
        await engine.check_follow_up(FollowUp(job.id, "edit", image_index=0), actor=ALICE)
    assert early.value.code is ErrorCode.NOT_ALLOWED

    clean = FollowUp(job.id, "edit", image_index=1, prompt="x")
    edit = (await _deliver(engine, clean)).job
    assert edit.kind is JobKind.EDIT and edit.parent_job_id == job.id
    assert not edit.nsfw_input
    (_, arguments), *_ = reversed(fal.submits)
    assert arguments["image_urls"] == [job.result.outputs[1].url]  # type: ignore[union-attr]

    with pytest.raises(BotError) as missing:
        await engine.submit(
            FollowUp(job.id, "upscale", image_index=7), RecordingReply(), actor=ALICE
        )
    assert missing.value.code is ErrorCode.INVALID_INPUT


async def test_what_is_made_from_a_flagged_image_is_flagged_too(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock
) -> None:
    engine = await make_engine(progress_interval=0)
    await AdminService(engine=engine, clock=clock).handle(SetNsfw("spoiler"), actor=ADMIN)
    job = (await _deliver(engine, request(num_images=3))).job
    fal.nsfw_flags = []  # the upscaler flags nothing itself
    delivery = await _deliver(engine, FollowUp(job.id, "upscale", image_index=0))

    assert delivery.job.nsfw_input
    assert [f.spoiler for f in delivery.files] == [True]
    rerun = await _deliver(engine, FollowUp(delivery.job.id, "rerun"))
    assert rerun.job.nsfw_input  # it takes the same flagged image again


async def test_screen_files_knows_falbot_results_by_name(make_engine: EngineFactory) -> None:
    engine = await make_engine(progress_interval=0)
    job = (await _deliver(engine, request(num_images=3))).job
    names = [f"falbot-{job.short_id}-{n}.png" for n in (1, 2, 3)]
    assert result_file(names[2]) == (job.short_id, 2)
    assert result_file("holiday.png") is None

    assert not await engine.screen_files("w1", [names[1], "cat.png"])
    with pytest.raises(BotError) as refused:
        await engine.screen_files("w1", [names[0]])
    assert refused.value.code is ErrorCode.NOT_ALLOWED
    assert await engine.screen_files("w1", [names[2]], channel=Channel(nsfw=True))
