"""Slack's rate limits and lost messages never cost the final result."""

from __future__ import annotations

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import Call, FakeSlack
from tests.integration.slack.harness import CHANNEL, SlackStack


def is_done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


def is_running(call: Call) -> bool:
    return "running" in str(call.params.get("text", ""))


async def test_429_on_chat_update_does_not_lose_the_final_result(
    stack: SlackStack, fake: FakeSlack, fal: FalSimulator
) -> None:
    fal.hold = True
    await stack.command("/imagine", "a storm over the sea")
    post = await fake.wait_for("chat.postMessage")
    await fake.wait_for("chat.update", is_running)
    # From here every chat.update is refused for a while: more 429s than a last progress edit
    # can use up, so the final edit meets some too.
    fake.rate_limit("chat.update", times=6, retry_after=0)
    fal.release()

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
    stack: SlackStack, fake: FakeSlack, fal: FalSimulator
) -> None:
    fal.hold = True
    await stack.command("/imagine", "a storm over the sea")
    post = await fake.wait_for("chat.postMessage")
    await fake.wait_for("chat.update", is_running)
    message = fake.message(CHANNEL, post.answer["ts"])
    assert message is not None
    fake.messages[CHANNEL].remove(message)  # deleted in Slack while the job ran
    fal.release()

    final = await fake.wait_for("chat.postMessage", is_done)
    assert final.params["thread_ts"] == post.answer["ts"]
    actions = [b for b in final.params["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == [
        "falbot_rerun",
        "falbot_vary",
        "falbot_upscale",
        "falbot_edit",
        "falbot_delete",
    ]
    assert len(fake.calls_to("files.completeUploadExternal")) == 1
