"""Slack's rate limits and lost messages never cost the final result."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.fal.simulator import FalSimulator
from tests.fakes.clock import FakeClock
from tests.fakes.slack import Call, FakeSlack
from tests.integration.slack.harness import CHANNEL, ONE_IMAGE_ACTIONS, SlackStack


def is_done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


def is_running(call: Call) -> bool:
    return "running" in str(call.params.get("text", ""))


async def test_429_on_chat_update_does_not_lose_the_final_result(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    fal_sim.hold = True
    await stack.command("/imagine", "a storm over the sea")
    post = await fake.wait_for("chat.postMessage")
    await fake.wait_for("chat.update", is_running)
    # From here every chat.update is refused for a while: more 429s than a last progress edit
    # can use up, so the final edit meets some too.
    fake.rate_limit("chat.update", times=6, retry_after=0)
    fal_sim.release()

    final = await fake.wait_for("chat.update", is_done, timeout=15)
    limited = fake.calls_to("chat.update", status=429)
    assert len(limited) == 6
    assert final.params["ts"] == post.answer["ts"]
    assert fake.calls.index(final) > fake.calls.index(limited[-1])
    shown = fake.message(CHANNEL, post.answer["ts"])
    assert shown is not None
    assert shown["text"].startswith("Done")
    assert len(fake.calls_to("files.completeUploadExternal")) == 1
    assert len(fake.calls_to("chat.postMessage")) == 1  # no duplicate final message


async def test_final_result_is_posted_when_the_job_message_is_gone(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    fal_sim.hold = True
    await stack.command("/imagine", "a storm over the sea")
    post = await fake.wait_for("chat.postMessage")
    await fake.wait_for("chat.update", is_running)
    message = fake.message(CHANNEL, post.answer["ts"])
    assert message is not None
    fake.messages[CHANNEL].remove(message)  # deleted in Slack while the job ran
    fal_sim.release()

    final = await fake.wait_for("chat.postMessage", is_done)
    assert final.params["thread_ts"] == post.answer["ts"]
    actions = [b for b in final.params["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for b in actions for e in b["elements"]] == ONE_IMAGE_ACTIONS
    assert len(fake.calls_to("files.completeUploadExternal")) == 1


async def test_a_rate_limited_final_edit_waits_on_the_engines_clock(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    """Slack's Retry-After on the final edit is waited out by core, on the engine's clock: the
    result lands only once that clock has moved 30 s (no SDK or adapter sleeps in real time)."""
    clock = FakeClock()
    stack = await SlackStack.open(fake, fal_sim, db_path, clock=clock)
    try:
        fal_sim.hold = True
        await stack.command("/imagine", "a storm over the sea")
        post = await fake.wait_for("chat.postMessage")
        await fake.wait_for("chat.update")  # the first progress edit; the next wait the clock
        await fal_sim.wait_for(lambda: fal_sim.running >= 1)
        fake.rate_limit("chat.update", times=1, retry_after=30)
        fal_sim.release()

        await fake.wait_for("chat.update", is_done, status=429)
        waited = 0
        async with asyncio.timeout(10):
            while not [c for c in fake.calls_to("chat.update") if is_done(c)]:
                await asyncio.sleep(0.01)
                await clock.advance(1)
                waited += 1
        assert waited >= 30  # not before the clock had moved as long as Slack asked
        final = await fake.wait_for("chat.update", is_done)
        assert final.params["ts"] == post.answer["ts"]
        assert len(fake.calls_to("files.completeUploadExternal")) == 1
    finally:
        await stack.close()


async def test_a_rate_limited_upload_is_uploaded_when_tried_again(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    """A 429 on the upload is not a reason to link the image instead: core tries the
    delivery again after Slack's Retry-After, and the file is uploaded once."""
    fake.rate_limit("files.getUploadURLExternal", times=1, retry_after=0)
    await stack.command("/imagine", "a storm over the sea")

    final = await fake.wait_for("chat.update", is_done, timeout=15)
    assert len(fake.calls_to("files.getUploadURLExternal", status=429)) == 1
    assert len(fake.calls_to("files.completeUploadExternal")) == 1
    assert "fal_sim.media" not in str(final.params) and "/cdn/" not in str(final.params)
