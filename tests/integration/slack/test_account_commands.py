"""/models, /quota, /usage, /jobs, /cancel and /video through Slack; account answers are private."""

from __future__ import annotations

import pytest

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import Call, FakeSlack
from tests.integration.slack.harness import ANN, BOSS, SlackStack


def shown(call: Call) -> str:
    return "\n".join(b["text"]["text"] for b in call.params["blocks"] if b["type"] == "section")


async def answer(stack: SlackStack, command: str, text: str = "", user: str = ANN) -> str:
    before = len(stack.fake.calls_to("response_url"))
    await stack.command(command, text, user=user)
    call = await stack.fake.wait_for("response_url", count=before + 1)
    assert call.params["response_type"] == "ephemeral"
    return shown(call)


def is_done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


async def test_models_lists_what_is_allowed_here(stack: SlackStack) -> None:
    before = await answer(stack, "/falbot", "models")
    assert "`veo3` (video)" in before
    assert "$0.15 per image" in before
    await answer(stack, "/falbot", "admin models deny veo3", user=BOSS)
    after = await answer(stack, "/falbot", "models")
    assert "veo3" not in after
    assert "`flux-dev` (image)" in after


async def test_quota_usage_and_jobs_after_a_job(stack: SlackStack, fake: FakeSlack) -> None:
    assert "You have 100.00 of 100 credits" in await answer(stack, "/falbot", "quota")
    await stack.command("/imagine", "a kite --model nano-banana")
    await fake.wait_for("chat.update", is_done)
    await stack.wait_delivered(ANN)
    quota = await answer(stack, "/falbot", "quota")
    assert "You have 96.1" in quota
    usage = await answer(stack, "/falbot", "usage 7")
    assert "$0.039 over 1 job." in usage
    assert "nano-banana: $0.039" in usage
    job = (await stack.jobs_of(ANN))[0]
    jobs = await answer(stack, "/falbot", "jobs")
    assert f"`{job.short_id}` nano-banana · delivered · $0.039" in jobs


async def test_usage_with_a_bad_period(stack: SlackStack) -> None:
    text = await answer(stack, "/falbot", "usage forever")
    assert "not a number of days" in text
    assert "/falbot usage [days]" in text


async def test_cancel_a_running_job(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    fal_sim.hold = True
    await stack.command("/imagine", "a very slow painting")
    await fake.wait_for("chat.update", lambda c: "running" in str(c.params.get("text")))
    job = (await stack.jobs_of(ANN))[0]
    text = await answer(stack, "/falbot", f"cancel {job.short_id}")
    assert f"job `{job.short_id}`" in text
    failed = await fake.wait_for("chat.update", lambda c: "Failed" in str(c.params.get("text")))
    # fal had started running it, so fal bills it and so does falbot.
    assert "fal had started it, so it costs $0.003" in shown(failed)
    assert "This job was charged" in shown(failed)
    assert (await stack.jobs_of(ANN))[0].state.value == "cancelled"


async def test_cancel_someone_elses_job_is_not_found(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    fal_sim.hold = True
    await stack.command("/imagine", "mine", user=BOSS)
    await fake.wait_for("chat.update", lambda c: "running" in str(c.params.get("text")))
    job = (await stack.jobs_of(BOSS))[0]
    text = await answer(stack, "/falbot", f"cancel {job.short_id}", user=ANN)
    assert "I found no job" in text
    fal_sim.release()
    await fake.wait_for("chat.update", is_done)


async def test_video_with_options(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await answer(stack, "/falbot", f"admin quota set <@{ANN}> 500 50", user=BOSS)  # veo3 is dear
    await stack.command("/video", "waves at night —model veo3 --duration 4s --audio")
    final = await fake.wait_for("chat.update", is_done)
    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "fal-ai/veo3"
    assert arguments["duration"] == "4s"
    assert arguments["generate_audio"] is True
    assert arguments["prompt"] == "waves at night"
    actions = [b for b in final.params["blocks"] if b["type"] == "actions"]
    buttons = [e["action_id"] for e in actions[0]["elements"]]
    assert buttons == ["falbot_rerun", "falbot_delete"]  # nothing to upscale or edit in a video
    complete = fake.calls_to("files.completeUploadExternal")[0]
    assert fake.uploads[complete.answer["files"][0]["id"]]["filename"].endswith(".mp4")


async def test_invalid_option_value_is_explained(stack: SlackStack, fake: FakeSlack) -> None:
    text = await answer(stack, "/imagine", "a fox --count 9")
    assert "`--count` must be 1–4, not `9`" in text  # the option typed, not fal's num_images
    assert "num_images" not in text
    await stack.quiesce()
    # refused at admission: nothing was posted, so nothing needs removing
    assert not fake.calls_to("chat.postMessage", status=None)
    assert not fake.calls_to("chat.delete", status=None)


async def test_hints_name_the_slack_commands(stack: SlackStack) -> None:
    await answer(stack, "/falbot", "admin models deny veo3", user=BOSS)
    text = await answer(stack, "/video", "waves --model veo3")
    assert "/falbot models" in text
    assert "See /models" not in text


async def test_a_crash_is_answered_with_the_one_internal_error(
    stack: SlackStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(workspace_id: str) -> list[object]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(stack.engine, "models", broken)
    said = await answer(stack, "/falbot", "models")
    assert "Something went wrong on my side." in said
    assert "if it keeps happening, tell an admin" in said
    assert "a bug" not in said and "RuntimeError" not in said
