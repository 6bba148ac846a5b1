"""Edit region on Slack, end to end: `falbot run` (the composition root) in HTTP mode on the
fake Slack and the fal simulator, a result's Edit region button answered ephemerally with a
link, the page opened in headless Chromium in a phone-sized viewport with touch, a stroke
painted with a finger, a prompt typed, Submit; the inpainted result then comes back in the
result's thread with its cost, and the simulator got a mask painted where the stroke went."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.fal.simulator import FalSimulator
from bot.run import serving
from bot.settings import Settings
from tests.browser import Browser
from tests.e2e.process import free_port
from tests.fakes.slack import Call, FakeSlack, SignedSender
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, CHANNEL, SIGNING_SECRET, TEAM, settings_for
from tests.painting import LINK, STROKE, check_mask, falbot_log

REGION = "falbot_region"


def _done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


@pytest.fixture
async def running(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> AsyncIterator[tuple[Settings, SignedSender]]:
    port = free_port()
    settings = settings_for(
        fake,
        fal_sim,
        db_path,
        mode="http",
        overrides={
            "FALBOT_HTTP_PORT": port,
            "FALBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "FALBOT_FAL_JWKS_URL": fal_sim.jwks_url,
        },
    )
    async with serving(settings):
        sender = SignedSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
        try:
            yield settings, sender
        finally:
            await sender.close()


async def _result(fake: FakeSlack, sender: SignedSender) -> dict[str, Any]:
    form = p.slash_command(
        "/imagine",
        "a lighthouse at dawn",
        team_id=TEAM,
        user_id=ANN,
        channel_id=CHANNEL,
        response_url=fake.response_url(),
    )
    assert (await sender.command(form)).status == 200
    update = await fake.wait_for("chat.update", _done, timeout=10)
    message = fake.message(CHANNEL, str(update.params["ts"]))
    assert message is not None
    return message


async def test_a_result_is_repainted_through_the_page_on_a_phone(
    fake: FakeSlack,
    fal_sim: FalSimulator,
    running: tuple[Settings, SignedSender],
    browser: Browser,
) -> None:
    _, sender = running
    with falbot_log() as log:
        message = await _result(fake, sender)
        click = p.block_actions(
            p.button_action(message, REGION),
            message=message,
            team_id=TEAM,
            user_id=ANN,
            channel_id=CHANNEL,
            response_url=fake.response_url(),
        )
        assert (await sender.interaction(click)).status == 200
        answer = await fake.wait_for("response_url", lambda c: "/paint/" in str(c.params))
        assert answer.params.get("response_type") == "ephemeral"
        url = LINK.search(str(answer.params))
        assert url is not None, answer.params

        await browser.phone()
        await browser.open(url[0])
        await browser.wait_js(
            "const i = document.getElementById('photo'); return i.complete && i.naturalWidth > 0"
        )
        await browser.screenshot("painter-slack-phone.png")
        await browser.stroke("paint", STROKE, touch=True)
        await browser.type("prompt", "a field of sunflowers")
        await browser.wait_js("return !document.getElementById('submit').disabled")
        await browser.click("submit")
        said = await browser.wait_js(
            "const s = document.getElementById('status').textContent;"
            "return s.startsWith('Done') || s.startsWith('The job failed') ? s : null",
            timeout=30,
        )
        await browser.screenshot("painter-slack-phone-done.png")
        assert said == "Done: posted in #general. You can close this page."

        done = await fake.wait_for("chat.update", _done, count=2, timeout=10)
        uploaded = await fake.wait_for(
            "files.completeUploadExternal",
            lambda c: c.params.get("thread_ts") == message["ts"],
            count=2,
            timeout=10,
        )
        endpoint, arguments = fal_sim.submits[-1]
        parent = next(iter(fal_sim.requests.values())).output["images"][0]  # type: ignore[index]
        path = arguments["mask_url"].split("/cdn/files/", 1)[1]
        mask = Image.open(io.BytesIO(await fal_sim.files[path].read()))

    assert endpoint == "fal-ai/flux-pro/v1/fill"
    assert arguments["prompt"] == "a field of sunflowers"
    assert arguments["image_url"] == parent["url"]
    check_mask(mask, (parent["width"], parent["height"]))
    assert "flux-fill" in str(done.params["text"]) and "$" in str(done.params["text"])
    assert uploaded.params.get("channel_id") == CHANNEL
    token = url[0].rsplit("/", 1)[1]
    ours = log.getvalue()
    assert "painting link" in ours and "/paint/***" in ours  # slack_sdk logged the answer
    assert token not in ours
