"""The typed commands at core's boundary, and what core decides once for every adapter: the
model of a kind, whose job a button may use, and what a mention that asks for an upscale says."""

from __future__ import annotations

import pytest

from core.commands import FollowUp, Generate, asks_upscale
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Actor, InputImage, JobKind
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ALICE, EngineFactory

BOB = Actor("console", "w1", "bob")
BOSS = Actor("console", "w1", "boss", is_admin=True)
PHOTO = InputImage(content_type="image/png", url="https://fal.media/files/photo.png")


async def _done(engine: Engine, command: Generate | FollowUp, actor: Actor = ALICE) -> str:
    reply = RecordingReply()
    job = await engine.submit(command, reply, actor=actor)
    await reply.wait()
    return job.id


async def test_an_edit_refuses_an_upscale_model(make_engine: EngineFactory) -> None:
    engine = await make_engine(progress_interval=0)
    edit = Generate(JobKind.EDIT, "esrgan", {"prompt": "make it blue"}, (PHOTO,))
    with pytest.raises(BotError) as refused:
        await engine.submit(edit, RecordingReply(), actor=ALICE)
    assert refused.value.code is ErrorCode.INVALID_INPUT
    assert refused.value.message == "esrgan is an upscale model, not an edit one."

    made = await _done(engine, Generate(JobKind.IMAGE, "", {"prompt": "a fox"}))
    with pytest.raises(BotError) as also:  # the Edit button's model field alike
        await engine.submit(
            FollowUp(made, "edit", prompt="blue", model="esrgan"), RecordingReply(), actor=ALICE
        )
    assert also.value.code is ErrorCode.INVALID_INPUT


async def test_a_kind_without_a_model_runs_on_its_default(engine: Engine) -> None:
    job = await engine.submit(
        Generate(JobKind.UPSCALE, "", {}, (PHOTO,)), RecordingReply(), actor=ALICE
    )
    assert (job.kind, job.model) == (JobKind.UPSCALE, "esrgan")


async def test_a_result_button_is_for_its_requester_or_an_admin(
    make_engine: EngineFactory,
) -> None:
    engine = await make_engine(progress_interval=0)
    made = await _done(engine, Generate(JobKind.IMAGE, "", {"prompt": "a fox"}))
    with pytest.raises(BotError) as refused:
        await engine.submit(FollowUp(made, "rerun"), RecordingReply(), actor=BOB)
    assert refused.value.code is ErrorCode.NOT_ALLOWED
    assert refused.value.message == (
        "Only the person who asked for this result, or an admin, can rerun it."
    )
    with pytest.raises(BotError) as early:  # before an Edit modal opens, the same rule
        await engine.check_follow_up(FollowUp(made, "edit"), actor=BOB)
    assert early.value.code is ErrorCode.NOT_ALLOWED

    rerun = await engine.submit(FollowUp(made, "rerun"), RecordingReply(), actor=BOSS)
    assert rerun.parent_job_id == made and rerun.user_id == "boss"


@pytest.mark.parametrize(
    ("text", "upscale"),
    [
        ("upscale", True),
        ("Upscale it", True),
        ("upscale this!", True),
        ("enhance", True),
        ("upscale --scale 4", True),
        ("upscale it --scale 3", True),
        ("upscale the sky a little", False),
        ("make it upscale", False),
        ("", False),
    ],
)
def test_one_rule_says_when_a_mention_asks_for_an_upscale(text: str, upscale: bool) -> None:
    assert asks_upscale(text) is upscale
