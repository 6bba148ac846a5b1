"""User text the bot echoes on Slack is escaped: a prompt, an option or fal's error about them
can never become a live @channel, a user ping or a disguised link."""

from __future__ import annotations

import json

from adapters.fal.sim.faults import Fault
from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import Call, FakeSlack
from tests.integration.slack.harness import ANN, SlackStack

INJECTIONS = ("<!channel>", "<!here>", "<@UVICTIM>", "<https://evil.example|google.com>")


def said(call: Call) -> str:
    """Everything a message call would show: its text and its blocks (not alt text)."""
    return json.dumps({k: call.params.get(k) for k in ("text", "blocks", "initial_comment")})


def assert_escaped(fake: FakeSlack) -> None:
    shown = [c for c in fake.calls if c.method not in {"files.download", "users.info"}]
    assert shown
    for call in shown:
        for raw in INJECTIONS:
            assert raw not in said(call), (call.method, raw, said(call))


async def test_an_option_cannot_ping_the_channel(stack: SlackStack, fake: FakeSlack) -> None:
    await stack.command("/imagine", "hi --model <!channel>")
    answer = await fake.wait_for("response_url")
    assert "&lt;!channel&gt;" in said(answer)  # shown as typed, not as a mention
    await stack.quiesce()
    assert_escaped(fake)


async def test_a_prompt_and_fals_error_about_it_stay_text(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    fal_sim.fail_next(Fault.content_policy("<!channel> <@UVICTIM> is not allowed"))
    prompt = "look <@UVICTIM> <https://evil.example|google.com> <!here> <!channel>"
    await stack.command("/imagine", f"{prompt} --model nano-banana")
    await fake.wait_for("chat.update", lambda c: str(c.params.get("text")).startswith("Failed"))
    await stack.quiesce()
    posted = fake.calls_to("chat.postMessage")[0]
    assert "&lt;https://evil.example|google.com&gt;" in said(posted)
    assert_escaped(fake)


async def test_a_delivered_result_echoes_the_prompt_escaped(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.command("/imagine", "a fox <!channel> <@UVICTIM> --model flux-schnell")
    await stack.wait_delivered(ANN)
    await stack.quiesce()
    assert_escaped(fake)
