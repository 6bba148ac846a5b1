"""What people read on Slack (issue 10, items 14-18), through slack-bolt against the fake Slack:
real mentions instead of ids, the workspace's and people's names in the chart, one wait with
Slack's own date token, options as typed, /models with ranges, fal's failures in plain words."""

from __future__ import annotations

import io
import re

from PIL import Image

from adapters.fal.sim.faults import Fault
from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import Call, FakeSlack
from tests.integration.slack.harness import ANN, BOSS, SlackStack

_SLACK_TIME = re.compile(
    r"Try again in (\d+ h )?\d+ min \(<!date\^\d+\^\{time\}\|\d\d:\d\d UTC>\)\."
)


def shown(call: Call) -> str:
    return "\n".join(b["text"]["text"] for b in call.params["blocks"] if b["type"] == "section")


async def answer_to(stack: SlackStack, fake: FakeSlack, command: str, text: str, user: str) -> str:
    before = len(fake.calls_to("response_url"))
    await stack.command(command, text, user=user)
    answer = await fake.wait_for("response_url", count=before + 1)
    assert answer.params["response_type"] == "ephemeral"
    return shown(answer)


async def test_admin_replies_mention_people_and_the_chart_names_them(
    stack: SlackStack, fake: FakeSlack
) -> None:
    banned = await answer_to(stack, fake, "/falbot", f"admin ban <@{ANN}|ann>", BOSS)
    assert banned == f"<@{ANN}> can no longer use falbot here."  # a mention, not escaped
    await answer_to(stack, fake, "/falbot", f"admin unban <@{ANN}|ann>", BOSS)
    await stack.command("/imagine", "a kite --model nano-banana")
    await stack.wait_delivered(ANN)

    text = await answer_to(stack, fake, "/falbot", "admin usage 7", BOSS)
    assert f"  <@{ANN}>: $0.039" in text
    complete = fake.calls_to("files.completeUploadExternal")[-1]
    chart = fake.uploads[complete.answer["files"][0]["id"]]
    with Image.open(io.BytesIO(chart["data"])) as image:
        title, table = image.text["Title"], image.text["Description"]
    assert "Spend per day by user · Fake Team ·" in title  # the workspace's name, not T0001
    assert "ann · 1 · $0.039" in table.splitlines()  # the display name, not UANN
    assert ANN not in title + table


async def test_a_refusal_says_its_wait_once_with_slacks_date_token(
    stack: SlackStack, fake: FakeSlack
) -> None:
    await answer_to(stack, fake, "/falbot", f"admin quota set <@{ANN}> 5 60", BOSS)
    await stack.command("/imagine", "a red fox --model nano-banana")  # 3.9 credits of 5
    await stack.wait_delivered(ANN)

    text = await answer_to(stack, fake, "/imagine", "another fox --model nano-banana", ANN)
    assert _SLACK_TIME.search(text), text
    assert text.count("Try again") == 1 and " s;" not in text

    quota = await answer_to(stack, fake, "/falbot", "quota", ANN)
    assert "Your next job fits now" not in quota
    assert "One image with flux-schnell costs 0.3 credits ($0.003)" in quota


async def test_a_tiny_budget_is_never_shown_as_zero(stack: SlackStack, fake: FakeSlack) -> None:
    said = await answer_to(stack, fake, "/falbot", "admin budget set 0.004 none", BOSS)
    assert "Budget: $0.004 a day, no limit a month." in said
    text = await answer_to(stack, fake, "/imagine", "a fox --model nano-banana", ANN)
    assert "$0.004 is left and this job needs about $0.039." in text
    assert "$0.00 " not in text


async def test_models_lists_each_models_options_with_their_ranges(
    stack: SlackStack, fake: FakeSlack
) -> None:
    text = await answer_to(stack, fake, "/falbot", "models", ANN)
    assert "`--count` 1–4" in text and "`--duration` 4|6|8" in text
    assert "num_images" not in text and "aspect_ratio" not in text


async def test_a_fal_failure_is_told_in_plain_words(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    fal_sim.fail_endpoint("fal-ai/nano-banana", Fault.server_error("runner_scheduling_failure"))
    await stack.command("/imagine", "a kite --model nano-banana")
    failed = await fake.wait_for("chat.update", lambda c: "Failed" in str(c.params.get("text")))
    text = shown(failed)
    assert "The model's servers were busy." in text
    assert "Your credits were returned." in text
    assert "runner_scheduling_failure" not in str(failed.params)
    assert re.search(r"\nDetails: fal request `[^`]+`$", text), text
