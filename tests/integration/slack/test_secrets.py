"""The bot token, app token and signing secret never reach a log line, even at DEBUG."""

from __future__ import annotations

import logging

import pytest

from tests.fakes.slack import FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import (
    ANN,
    APP_TOKEN,
    BOT_TOKEN,
    CHANNEL,
    SIGNING_SECRET,
    SlackStack,
    png,
)


def is_done(call: object) -> bool:
    return str(getattr(call, "params", {}).get("text", "")).startswith("Done")


async def test_no_secret_in_debug_logs(
    socket_stack: SlackStack, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    photo = fake.add_file(png(), name="cat.png", mimetype="image/png")
    parent = fake.add_message(CHANNEL, user=ANN, files=[photo])
    await socket_stack.event(
        p.app_mention(
            "<@UBOT> add a hat",
            user=ANN,
            channel=CHANNEL,
            ts="1700000600.000001",
            thread_ts=parent["ts"],
        )
    )
    await fake.wait_for("chat.update", is_done)
    await socket_stack.command("/falbot", "admin budget set 1 2", user=ANN)  # refused
    await fake.wait_for("response_url")
    assert fake.calls_to("files.download")[0].params["authorised"] is True
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "Sending a request" in logged  # slack_sdk did log its requests at DEBUG
    for secret in (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET):
        assert secret not in logged
