"""/settings in core, on the real engine with fakes: a person's defaults shape their next
/imagine and nobody else's; remix's decision and its changed prompt; a describe's suggestion
imagined on the presser's defaults; the private-mode preference read for private mode."""

from __future__ import annotations

import pytest

from core.commands import FollowUp, Generate
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Actor, Delivery, InputImage, JobKind
from core.preferences import private_preference, remixes
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ADMIN, ALICE, EngineFactory

BOB = Actor("console", "w1", "bob")
PHOTO = InputImage(content_type="image/png", url="https://fal.media/files/photo.png")


async def _deliver(engine: Engine, command: Generate | FollowUp, actor: Actor = ALICE) -> Delivery:
    reply = RecordingReply()
    await engine.submit(command, reply, actor=actor)
    await reply.wait()
    assert reply.delivery is not None, reply.error
    return reply.delivery


async def test_defaults_shape_the_next_job_of_their_owner_only(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    engine = await make_engine(progress_interval=0)
    await engine.preferences.change(ALICE, {"model": "flux-dev", "num_images": 2})
    imagine = Generate(JobKind.IMAGE, "", {"prompt": "a fox"})

    mine = await _deliver(engine, imagine)
    theirs = await _deliver(engine, imagine, BOB)

    assert (mine.job.model, len(mine.files)) == ("flux-dev", 2)
    assert (theirs.job.model, len(theirs.files)) == ("flux-schnell", 1)
    assert [endpoint for endpoint, _ in fal.submits] == ["fal-ai/flux/dev", "fal-ai/flux/schnell"]
    # an edit is not an image job: the image defaults leave it alone
    edit = Generate(JobKind.EDIT, "", {"prompt": "make it blue"}, (PHOTO,))
    assert (await _deliver(engine, edit)).job.model == "nano-banana-edit"


async def test_a_default_model_denied_later_is_skipped_not_refused(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    engine = await make_engine(progress_interval=0)
    await engine.preferences.change(ALICE, {"model": "flux-dev"})
    await store.set_model_denied("w1", "flux-dev", True)
    done = await _deliver(engine, Generate(JobKind.IMAGE, "", {"prompt": "a fox"}))
    assert done.job.model == "flux-schnell"
    with pytest.raises(BotError) as caught:
        await engine.preferences.change(ALICE, {"model": "flux-dev"})
    assert caught.value.code is ErrorCode.NOT_ALLOWED


async def test_bad_values_and_other_peoples_workspace_defaults_are_refused(
    make_engine: EngineFactory,
) -> None:
    engine = await make_engine()
    book = engine.preferences
    for change in (
        {"model": "esrgan"},
        {"aspect_ratio": "5:4"},
        {"num_images": 9},
        {"remix": "maybe"},
    ):
        with pytest.raises(BotError) as caught:
            await book.change(ALICE, change)
        assert caught.value.code is ErrorCode.INVALID_INPUT, change
    with pytest.raises(BotError) as caught:
        await book.change(ALICE, {"aspect_ratio": "16:9"}, scope="workspace")
    assert caught.value.code is ErrorCode.NOT_ALLOWED
    assert (await book.settings(ALICE)).own == (await book.settings(BOB)).own  # nothing kept
    await book.change(ADMIN, {"aspect_ratio": "16:9"}, scope="workspace")
    assert (await book.effective(BOB)).aspect_ratio == "16:9"


async def test_remix_mode_is_one_decision_and_the_changed_prompt_reaches_fal(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    engine = await make_engine(progress_interval=0)
    first = await _deliver(engine, Generate(JobKind.IMAGE, "", {"prompt": "a fox"}))
    book = engine.preferences
    assert not await book.wants_remix(ALICE, "rerun", first.job)
    await book.change(ALICE, {"remix": True})
    for action in ("rerun", "vary", "vary_strong", "pan_left", "zoom_1.5"):
        assert await book.wants_remix(ALICE, action, first.job), action
    for action in ("upscale", "edit", "animate", "imagine"):
        assert not await book.wants_remix(ALICE, action, first.job), action
    assert not await book.wants_remix(BOB, "rerun", first.job)  # BOB's remix mode is off
    assert remixes("pan_up") and not remixes("upscale_creative")

    again = await _deliver(engine, FollowUp(first.job.id, "rerun", prompt="a wolf"))
    assert again.job.parent_job_id == first.job.id
    assert fal.submits[1][1]["prompt"] == "a wolf"


async def test_a_suggestion_is_imagined_on_the_pressers_defaults(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    engine = await make_engine(progress_interval=0)
    described = await _deliver(engine, Generate(JobKind.DESCRIBE, images=(PHOTO,)))
    assert described.files == () and len(described.result.texts) == 4
    assert described.job.estimate_usd == described.result.cost_usd  # about $0.003, as estimated
    await engine.preferences.change(ALICE, {"aspect_ratio": "16:9"})

    imagined = await _deliver(engine, FollowUp(described.job.id, "imagine", image_index=1))

    assert imagined.job.parent_job_id == described.job.id
    endpoint, arguments = fal.submits[1]
    assert endpoint == "fal-ai/flux/schnell"
    assert arguments["prompt"] == "suggested prompt number 2"
    assert arguments["image_size"] == "landscape_16_9"
    with pytest.raises(BotError):  # not BOB's describe
        await engine.submit(
            FollowUp(described.job.id, "imagine", image_index=0), RecordingReply(), actor=BOB
        )


async def test_the_private_preference_is_the_persons_else_the_workspaces(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    engine = await make_engine()
    assert await private_preference(store, ALICE) is None
    await engine.preferences.change(ADMIN, {"private": True}, scope="workspace")
    await engine.preferences.change(ALICE, {"private": "off"})
    assert await private_preference(store, ALICE) is False
    assert await private_preference(store, BOB) is True
    assert await engine.preferences.wants_private(BOB)
