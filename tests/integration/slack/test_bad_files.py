"""Files the bot cannot use get a clear ephemeral answer, and no job starts, no credit goes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, CHANNEL, MAX_INPUT_BYTES, TEAM, SlackStack, png

BAD_FILES: dict[str, tuple[dict[str, Any], str]] = {
    # Slack's answer to a private file the app may not read is an HTML sign-in page.
    "login page": (
        {"data": png(), "name": "cat.png", "mimetype": "image/png", "login_only": True},
        "not allowed to download",
    ),
    # Claims to be a PNG; is not one.
    "not an image": (
        {"data": b"%PDF-1.7 not a picture", "name": "cat.png", "mimetype": "image/png"},
        "not an image",
    ),
    # Says what it is: a PDF. Refused without downloading it.
    "a pdf": (
        {"data": b"%PDF-1.7", "name": "report.pdf", "mimetype": "application/pdf"},
        "not an image",
    ),
    "oversized": (
        {
            "data": b"\x89PNG" + b"\0" * (MAX_INPUT_BYTES + 1),
            "name": "huge.png",
            "mimetype": "image/png",
        },
        "limit",
    ),
}


async def assert_refused(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator, expected: str
) -> None:
    ephemeral = await fake.wait_for("chat.postEphemeral")
    assert ephemeral.params["user"] == ANN
    assert ephemeral.params["channel"] == CHANNEL
    shown = ephemeral.params["blocks"][0]["text"]["text"]
    assert expected in shown.lower()
    assert "Traceback" not in shown
    await stack.quiesce()
    assert not fake.calls_to("chat.postMessage")  # no job message
    assert not fal_sim.submits
    assert await stack.jobs_of(ANN) == []
    assert await stack.credits_of(ANN) == Decimal(100)


@pytest.mark.parametrize("case", BAD_FILES)
async def test_bad_file_in_a_mentioned_thread(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator, case: str
) -> None:
    spec, expected = BAD_FILES[case]
    bad = fake.add_file(**spec)
    parent = fake.add_message(CHANNEL, user=ANN, files=[bad])
    await stack.event(
        p.app_mention(
            "<@UBOT> make it pop",
            user=ANN,
            channel=CHANNEL,
            ts="1700000400.000001",
            thread_ts=parent["ts"],
        )
    )
    await assert_refused(stack, fake, fal_sim, expected)
    ephemeral = fake.calls_to("chat.postEphemeral")[0]
    assert ephemeral.params["thread_ts"] == parent["ts"]
    if case == "a pdf":
        assert not fake.calls_to("files.download")


async def test_login_page_through_the_shortcut_modal(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    spec, expected = BAD_FILES["login page"]
    bad = fake.add_file(**spec)
    message = fake.add_message(CHANNEL, user=ANN, files=[bad])
    await stack.interaction(
        p.message_action(
            message,
            team_id=TEAM,
            user_id=ANN,
            channel_id=CHANNEL,
            response_url=fake.response_url(),
        )
    )
    await fake.wait_for("views.open")
    values = {
        "prompt": {"prompt_input": {"type": "plain_text_input", "value": "brighter"}},
        "model": {"model_input": {"type": "static_select", "selected_option": None}},
    }
    await stack.interaction(p.view_submission(fake.views[-1], values, team_id=TEAM, user_id=ANN))
    await assert_refused(stack, fake, fal_sim, expected)


async def test_shortcut_on_a_message_without_an_image(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    message = fake.add_message(CHANNEL, user=ANN, text="just words")
    await stack.interaction(
        p.message_action(
            message,
            team_id=TEAM,
            user_id=ANN,
            channel_id=CHANNEL,
            response_url=fake.response_url(),
        )
    )
    answer = await fake.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral"
    assert "no image" in answer.params["blocks"][0]["text"]["text"]
    await stack.quiesce()
    assert not fake.calls_to("views.open")
    assert await stack.jobs_of(ANN) == []


async def test_mention_without_any_image(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    parent = fake.add_message(CHANNEL, user=ANN, text="no pictures here")
    await stack.event(
        p.app_mention(
            "<@UBOT> make it pop",
            user=ANN,
            channel=CHANNEL,
            ts="1700000500.000001",
            thread_ts=parent["ts"],
        )
    )
    await assert_refused(stack, fake, fal_sim, "no image")
