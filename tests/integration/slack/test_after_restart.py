"""Result buttons and running jobs survive a restart: their state is in the store, not memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.fal.simulator import FalSimulator
from core.jobs import JobState
from tests.fakes.slack import Call, FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, BOSS, CHANNEL, TEAM, SlackStack


def is_done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


@pytest.fixture
async def restarted(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> AsyncIterator[tuple[SlackStack, dict[str, Any]]]:
    """One /imagine delivered by a first process; then a second process on the same database."""
    first = await SlackStack.open(fake, fal_sim, db_path)
    try:
        await first.command("/imagine", "a paper boat --model flux-dev --seed 7")
        await fake.wait_for("chat.update", is_done)
        await first.wait_delivered(ANN)
    finally:
        await first.close()
    post = fake.calls_to("chat.postMessage")[0]
    result = fake.message(CHANNEL, post.answer["ts"])
    assert result is not None
    second = await SlackStack.open(fake, fal_sim, db_path)
    try:
        yield second, result
    finally:
        await second.close()


async def click(
    stack: SlackStack, message: dict[str, Any], action_id: str, user: str = ANN
) -> None:
    fake = stack.fake
    await stack.interaction(
        p.block_actions(
            p.button_action(message, action_id),
            message=message,
            team_id=TEAM,
            user_id=user,
            channel_id=CHANNEL,
            response_url=fake.response_url(),
        )
    )


async def test_rerun_after_a_restart(
    restarted: tuple[SlackStack, dict[str, Any]], fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    stack, result = restarted
    await click(stack, result, "falbot_rerun")
    await fake.wait_for("chat.update", is_done, count=2)
    rerun_post = fake.calls_to("chat.postMessage")[1]
    assert rerun_post.params["thread_ts"] == result["ts"]  # in the result's thread
    (_, first), (_, again) = fal_sim.submits
    assert again["prompt"] == first["prompt"] == "a paper boat"
    assert first["seed"] == 7
    assert again["seed"] != 7  # a new seed
    jobs = await stack.jobs_of(ANN)
    assert jobs[0].parent_job_id == jobs[1].id


async def test_vary_strong_after_a_restart(
    restarted: tuple[SlackStack, dict[str, Any]], fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    stack, result = restarted
    await click(stack, result, "falbot_vary_strong")
    await fake.wait_for("chat.update", is_done, count=2)
    assert fake.calls_to("chat.postMessage")[1].params["thread_ts"] == result["ts"]
    endpoint, varied = fal_sim.submits[1]
    assert endpoint == "fal-ai/flux/dev/image-to-image"
    assert varied["prompt"] == "a paper boat" and varied["strength"] == 0.9
    assert varied["num_images"] == 4 and varied["seed"] != 7  # four new images, a new seed
    jobs = await stack.jobs_of(ANN)
    assert jobs[0].parent_job_id == jobs[1].id


async def test_a_variations_button_from_before_the_vary_pair_varies_strongly(
    restarted: tuple[SlackStack, dict[str, Any]], fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    """Issue 12's Variations button (`falbot_vary`) on a result already posted."""
    stack, result = restarted
    old = {"type": "button", "text": {"type": "plain_text", "text": "Variations"}}
    legacy = {
        **old,
        "action_id": "falbot_vary",
        "value": result["blocks"][-2]["elements"][0]["value"],
    }
    result["blocks"][-1]["elements"].append(legacy)
    await click(stack, result, "falbot_vary")
    await fake.wait_for("chat.update", is_done, count=2)
    endpoint, varied = fal_sim.submits[1]
    assert endpoint == "fal-ai/flux/dev/image-to-image" and varied["strength"] == 0.9


async def test_upscale_after_a_restart(
    restarted: tuple[SlackStack, dict[str, Any]], fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    stack, result = restarted
    await click(stack, result, "falbot_upscale")
    await fake.wait_for("chat.update", is_done, count=2)
    endpoint, arguments = fal_sim.submits[1]
    assert endpoint == "fal-ai/esrgan"
    jobs = await stack.jobs_of(ANN)
    original = jobs[1]
    assert original.result is not None
    assert arguments["image_url"] == original.result.outputs[0].url


async def test_edit_button_after_a_restart(
    restarted: tuple[SlackStack, dict[str, Any]], fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    stack, result = restarted
    await click(stack, result, "falbot_edit")
    await fake.wait_for("views.open")
    values = {
        "prompt": {"prompt_input": {"type": "plain_text_input", "value": "add a lighthouse"}},
        "model": {"model_input": {"type": "static_select", "selected_option": None}},
    }
    await stack.interaction(p.view_submission(fake.views[-1], values, team_id=TEAM, user_id=ANN))
    await fake.wait_for("chat.update", is_done, count=2)
    endpoint, arguments = fal_sim.submits[1]
    assert endpoint == "fal-ai/nano-banana/edit"
    assert arguments["prompt"] == "add a lighthouse"
    assert fake.calls_to("chat.postMessage")[1].params["thread_ts"] == result["ts"]


async def test_delete_is_for_the_requester_or_an_admin(
    restarted: tuple[SlackStack, dict[str, Any]], fake: FakeSlack
) -> None:
    stack, result = restarted
    fake.add_user("UOTHER", name="other")
    await click(stack, result, "falbot_delete", user="UOTHER")
    refused = await fake.wait_for("response_url")
    said = refused.params["blocks"][0]["text"]["text"]
    # Core's one rule and one text, as on Discord: it names what was refused.
    assert "Only the person who asked for this result, or an admin, can delete it." in said
    assert fake.message(CHANNEL, result["ts"]) is not None

    await click(stack, result, "falbot_delete", user=BOSS)  # a workspace admin may
    await fake.wait_for("chat.delete")
    assert fake.message(CHANNEL, result["ts"]) is None
    uploaded = fake.calls_to("files.completeUploadExternal")[0].answer["files"][0]["id"]
    deleted = await fake.wait_for("files.delete")
    assert deleted.params["file"] == uploaded
    assert uploaded not in fake.files


async def test_a_running_job_is_finished_in_its_message_after_a_restart(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    fal_sim.hold = True
    first = await SlackStack.open(fake, fal_sim, db_path)
    try:
        await first.command("/imagine", "slow clouds")
        post = await fake.wait_for("chat.postMessage")
        await fake.wait_for("chat.update", lambda c: "running" in str(c.params.get("text")))
    finally:
        await first.close()  # the process goes away while fal works

    second = await SlackStack.open(fake, fal_sim, db_path)
    try:
        fal_sim.release()
        final = await fake.wait_for("chat.update", is_done)
        assert final.params["ts"] == post.answer["ts"]  # the same message, rebuilt from reply_ref
        complete = fake.calls_to("files.completeUploadExternal")[0]
        assert complete.params["thread_ts"] == post.answer["ts"]
        assert len(fal_sim.submits) == 1  # resumed, never submitted twice
    finally:
        await second.close()


async def test_a_restart_between_admission_and_its_message_still_shows_the_job(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    """Killed after the job was admitted but before its message was posted: the next start
    runs it and posts its message then (no job is left without one, none runs unseen)."""
    gate = fake.hold("chat.postMessage")
    first = await SlackStack.open(fake, fal_sim, db_path)
    try:
        await first.command("/imagine", "a fox at the window --model flux-schnell")
        await fake.wait_for("held:chat.postMessage")
        (held,) = await first.jobs_of(ANN)
        assert held.state is JobState.QUEUED
        assert not held.reply_ref.get("message_ts")
    finally:
        await first.close()
    assert not fal_sim.submits  # held until its message was named

    gate.set()
    second = await SlackStack.open(fake, fal_sim, db_path)
    try:
        await second.wait_delivered(ANN)
        final = await fake.wait_for("chat.update", is_done)
        posted = [c for c in fake.calls_to("chat.postMessage") if c.answer.get("ok")]
        assert final.params["ts"] == posted[-1].answer["ts"]  # the message posted after restart
        complete = fake.calls_to("files.completeUploadExternal")[0]
        assert complete.params["thread_ts"] == final.params["ts"]
        assert len(fal_sim.submits) == 1
        # The job now names that message, so a later restart finds it again.
        (job,) = await second.jobs_of(ANN)
        assert job.reply_ref["message_ts"] == final.params["ts"]
    finally:
        await second.close()
