"""The image verbs (`core.verbs`): one handler in core for every adapter's buttons and the
console's commands. Each takes one image of a result (fal's URL of it) and makes a child job on
its own model: Vary on FLUX image to image at a low or high strength, Upscale on esrgan or
clarity, Zoom and Pan on bria/expand with the canvas and placement worked out here, Animate
on Wan image to video."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.commands import FollowUp, FollowUpAction, Generate
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.followups import follow_up_menu
from core.jobs import Actor, Delivery, JobKind
from core.verbs import PUBLIC, pan_canvas, zoom_canvas
from tests.fakes.fal import FakeFal
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ALICE, EngineFactory

BOB = Actor("console", "w1", "bob")


async def _deliver(engine: Engine, command: Generate | FollowUp, actor: Actor = ALICE) -> Delivery:
    reply = RecordingReply()
    await engine.submit(command, reply, actor=actor)
    await reply.wait()
    assert reply.delivery is not None, reply.error
    return reply.delivery


def test_zoom_out_centres_the_image_on_a_canvas_factor_times_each_side() -> None:
    assert zoom_canvas(1024, 768, 2) == {
        "canvas_width": 2048,
        "canvas_height": 1536,
        "image_width": 1024,
        "image_height": 768,
        "image_x": 512,
        "image_y": 384,
    }
    placed = zoom_canvas(1024, 1024, 1.5)
    assert (placed["canvas_width"], placed["image_x"], placed["image_y"]) == (1536, 256, 256)


def test_zoom_out_of_a_big_image_shrinks_canvas_and_image_together_within_fals_limit() -> None:
    placed = zoom_canvas(4096, 4096, 2)  # 8192 a side is past bria's 5000
    assert placed["canvas_width"] == placed["canvas_height"] == 5000
    assert placed["image_width"] == placed["image_height"] == 2500
    assert placed["image_x"] == placed["image_y"] == 1250


@pytest.mark.parametrize(
    ("direction", "canvas", "at"),
    [
        ("left", (1536, 1024), (512, 0)),  # new space on the left: the image at the right edge
        ("right", (1536, 1024), (0, 0)),
        ("up", (1024, 1536), (0, 512)),  # new space above: the image at the bottom
        ("down", (1024, 1536), (0, 0)),
    ],
)
def test_a_pan_grows_the_canvas_by_half_towards_its_side(
    direction: str, canvas: tuple[int, int], at: tuple[int, int]
) -> None:
    placed = pan_canvas(1024, 1024, direction)
    assert (placed["canvas_width"], placed["canvas_height"]) == canvas
    assert (placed["image_x"], placed["image_y"]) == at
    assert (placed["image_width"], placed["image_height"]) == (1024, 1024)


@pytest.mark.parametrize(
    ("action", "endpoint", "expected"),
    [
        ("vary_subtle", "fal-ai/flux/dev/image-to-image", {"strength": 0.6, "num_images": 4}),
        ("vary_strong", "fal-ai/flux/dev/image-to-image", {"strength": 0.9, "num_images": 4}),
        ("upscale", "fal-ai/esrgan", {"scale": 2}),
        ("upscale_creative", "fal-ai/clarity-upscaler", {"upscale_factor": 2, "prompt": "a fox"}),
        ("zoom_2", "fal-ai/bria/expand", {"canvas_size": [2048, 2048]}),
        ("pan_left", "fal-ai/bria/expand", {"original_image_location": [512, 0]}),
        ("animate", "fal-ai/wan-25-preview/image-to-video", {"prompt": "a fox"}),
    ],
)
async def test_each_verb_runs_its_model_on_the_picked_image_as_a_child(
    make_engine: EngineFactory,
    fal: FakeFal,
    action: FollowUpAction,
    endpoint: str,
    expected: dict[str, object],
) -> None:
    engine = await make_engine(progress_interval=0)
    grid = await _deliver(engine, Generate(JobKind.IMAGE, "flux-dev", {"prompt": "a fox", "n": 2}))
    picked = grid.result.outputs[1].url

    child = await _deliver(engine, FollowUp(grid.job.id, action, image_index=1))

    assert child.job.parent_job_id == grid.job.id
    sent_to, arguments = fal.submits[-1]
    assert sent_to == endpoint
    assert picked in (arguments.get("image_url"), *(arguments.get("image_urls") or []))
    assert {k: arguments[k] for k in expected} == expected
    assert child.result.cost_usd > 0


async def test_a_result_without_a_prompt_still_varies_and_animates(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    engine = await make_engine(progress_interval=0)
    made = await _deliver(engine, Generate(JobKind.IMAGE, "", {"prompt": "a fox"}))
    upscaled = await _deliver(engine, FollowUp(made.job.id, "upscale"))
    await _deliver(engine, FollowUp(upscaled.job.id, "vary_subtle"))
    assert fal.submits[-1][1]["prompt"]  # FLUX needs one: a neutral one stands in
    await _deliver(engine, FollowUp(upscaled.job.id, "animate"))
    assert fal.submits[-1][1]["prompt"]


async def test_every_image_verb_is_public_rerun_and_edit_are_the_requesters(
    make_engine: EngineFactory,
) -> None:
    """Public by design: the image verbs work on a picture the whole channel already sees, and
    the job is the presser's own (their quota, ban, budget, models and credits), as on
    Midjourney. Rerun replays the requester's own request and Edit continues it, so they stay
    the requester's (anyone may still edit the image through the Edit image menu); Delete
    removes the requester's message, so it is theirs or an admin's."""
    assert {
        "vary_subtle",
        "vary_strong",
        "upscale",
        "upscale_creative",
        "zoom_2",
        "zoom_1.5",
        "pan_left",
        "pan_right",
        "pan_up",
        "pan_down",
        "animate",
    } == PUBLIC
    engine = await make_engine(progress_interval=0)
    made = await _deliver(engine, Generate(JobKind.IMAGE, "", {"prompt": "a fox"}))

    zoomed = await _deliver(engine, FollowUp(made.job.id, "zoom_1.5"), actor=BOB)
    assert zoomed.job.user_id == "bob" and zoomed.job.parent_job_id == made.job.id

    for action in ("rerun", "edit"):
        with pytest.raises(BotError) as refused:
            await engine.submit(FollowUp(made.job.id, action), RecordingReply(), actor=BOB)
        assert refused.value.code is ErrorCode.NOT_ALLOWED


async def test_a_result_in_another_workspace_is_not_found(make_engine: EngineFactory) -> None:
    engine = await make_engine(progress_interval=0)
    made = await _deliver(engine, Generate(JobKind.IMAGE, "", {"prompt": "a fox"}))
    stranger = Actor("console", "w2", "eve")
    with pytest.raises(BotError) as refused:
        await engine.submit(FollowUp(made.job.id, "vary_subtle"), RecordingReply(), actor=stranger)
    assert refused.value.code is ErrorCode.NOT_FOUND


async def test_a_video_result_gets_rerun_but_no_image_verb(make_engine: EngineFactory) -> None:
    engine = await make_engine(progress_interval=0)
    video = await _deliver(engine, Generate(JobKind.VIDEO, "", {"prompt": "waves"}))
    menu = follow_up_menu(video, spoilers=True)
    assert menu.rerun and menu.images == ()
    with pytest.raises(BotError) as refused:
        await engine.submit(FollowUp(video.job.id, "zoom_2"), RecordingReply(), actor=ALICE)
    assert refused.value.message == "That result has no image to work on."


@pytest.mark.parametrize("action", ["zoom_2", "upscale_creative", "vary_subtle", "pan_up"])
async def test_a_verbs_child_can_be_rerun(
    make_engine: EngineFactory, fal: FakeFal, action: FollowUpAction
) -> None:
    engine = await make_engine(progress_interval=0)
    made = await _deliver(engine, Generate(JobKind.IMAGE, "", {"prompt": "a fox"}))
    child = await _deliver(engine, FollowUp(made.job.id, action))
    again = await _deliver(engine, FollowUp(child.job.id, "rerun"))
    (_, first), (_, second) = fal.submits[-2:]
    assert again.job.parent_job_id == child.job.id
    assert second.get("image_url") == first.get("image_url") == made.result.outputs[0].url


async def test_a_verb_given_a_prompt_uses_it_instead_of_the_parents(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    """What a remix modal sends: Vary, Zoom or Pan with the prompt changed."""
    engine = await make_engine(progress_interval=0)
    made = await _deliver(engine, Generate(JobKind.IMAGE, "", {"prompt": "a fox"}))
    await _deliver(engine, FollowUp(made.job.id, "vary_subtle", prompt="a red fox"))
    assert fal.submits[-1][1]["prompt"] == "a red fox"
    await _deliver(engine, FollowUp(made.job.id, "zoom_2", prompt="a fox in a forest"))
    assert fal.submits[-1][1]["prompt"] == "a fox in a forest"


async def test_a_verb_on_a_big_image_is_estimated_at_its_size(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    """Vary and the creative upscale bill per output megapixel: the estimate (credits taken,
    the price a quote shows) is from the parent image's own size, not a 1024×1024 guess."""
    fal.image_size = (2048, 2048)  # four megapixels
    engine = await make_engine(progress_interval=0)
    made = await _deliver(engine, Generate(JobKind.IMAGE, "", {"prompt": "a fox"}))
    varied = await _deliver(engine, FollowUp(made.job.id, "vary_subtle"))
    assert varied.job.estimate_usd == Decimal("0.40")  # 4 images × 4 MP × $0.025
    assert varied.result.cost_usd == varied.job.estimate_usd
    upscaled = await _deliver(engine, FollowUp(made.job.id, "upscale_creative"))
    assert upscaled.job.estimate_usd == Decimal("0.48")  # ×2: 4096×4096, 16 MP × $0.03
