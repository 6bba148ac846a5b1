"""`/describe` and `/blend` on Slack, end to end: each opens an upload form; the vision LLM
gets the image and its four suggestions come back with an Imagine button each (a press imagines
that prompt); /blend sends two to five images in order, and one or six are refused with a clear
reason before anything is downloaded; refusals take nothing."""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal
from typing import Any

import pytest

from adapters.fal.simulator import FalSimulator
from core.quota import BucketLimits, QuotaScope
from tests.fakes.slack import Call, FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, CHANNEL, TEAM, SlackStack, png

COLORS = ("red", "green", "blue", "yellow", "purple", "orange")


def is_done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


def _bytes(uri: str) -> bytes:
    return base64.b64decode(uri.split(",", 1)[1])


async def _submit(
    stack: SlackStack, command: str, files: list[dict[str, Any]], text: str = "", prompt: str = ""
) -> None:
    await stack.command(command, text)
    await stack.fake.wait_for("views.open")
    view = stack.fake.views[-1]
    assert view["callback_id"] == "falbot_image_verb_modal"
    values: dict[str, Any] = {"image": {"image_input": p.file_input(files)}}
    if prompt:
        values["blend_prompt"] = {"blend_prompt_input": p.plain_text_input(prompt)}
    await stack.interaction(p.view_submission(view, values, team_id=TEAM, user_id=ANN))


def _uploads(fake: FakeSlack, count: int) -> list[dict[str, Any]]:
    return [
        fake.add_file(png(48 + i, 40, COLORS[i]), name=f"in{i}.png", mimetype="image/png")
        for i in range(count)
    ]


async def test_describe_gives_four_suggestions_and_a_button_imagines_one(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    (photo,) = [fake.add_file(png(80, 60, "teal"), name="scene.png", mimetype="image/png")]
    await _submit(stack, "/describe", [photo])
    final = await fake.wait_for("chat.update", is_done)

    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "openrouter/router/vision"
    assert [_bytes(u) for u in arguments["image_urls"]] == [png(80, 60, "teal")]
    text = json.dumps(final.params["blocks"], ensure_ascii=False)
    suggestions = re.findall(r"\*(\d)\.\* ([^\\]+)", text)
    assert [n for n, _ in suggestions] == ["1", "2", "3", "4"]
    assert all("80x60 scene" in s for _, s in suggestions)
    assert "describe · about $0.003" in text
    await stack.wait_delivered(ANN)
    result = fake.message(CHANNEL, fake.calls_to("chat.postMessage")[0].answer["ts"])
    assert result is not None

    await stack.interaction(
        p.block_actions(
            p.button_action(result, "falbot_imagine_3"),
            message=result,
            team_id=TEAM,
            user_id=ANN,
            channel_id=CHANNEL,
            response_url=fake.response_url(),
        )
    )
    await fake.wait_for("chat.update", is_done, count=2)
    endpoint, arguments = fal_sim.submits[1]
    assert endpoint == "fal-ai/flux/schnell"
    assert arguments["prompt"] == suggestions[2][1]


@pytest.mark.parametrize("count", [2, 5])
async def test_blend_sends_every_image_in_order(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator, count: int
) -> None:
    files = _uploads(fake, count)
    await _submit(stack, "/blend", files, text="--aspect 16:9", prompt="one cosy room")
    await fake.wait_for("chat.update", is_done)
    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "fal-ai/flux-pro/kontext/multi"
    assert [_bytes(u) for u in arguments["image_urls"]] == [
        png(48 + i, 40, COLORS[i]) for i in range(count)
    ]
    assert (arguments["prompt"], arguments["aspect_ratio"]) == ("one cosy room", "16:9")


@pytest.mark.parametrize(("count", "said"), [(1, "at least 2 images"), (6, "at most 5")])
async def test_blend_of_one_or_six_images_is_refused_clearly(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator, count: int, said: str
) -> None:
    await _submit(stack, "/blend", _uploads(fake, count))
    refused = await fake.wait_for("chat.postEphemeral")
    text = json.dumps(refused.params["blocks"])
    assert f"kontext-blend takes {said}" in text and f"you gave {count}" in text
    await stack.quiesce()
    assert not fal_sim.submits
    assert not fake.calls_to("files.download")
    assert await stack.jobs_of(ANN) == []


@pytest.mark.parametrize("command", ["/describe", "/blend"])
async def test_refusals_take_nothing(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator, command: str
) -> None:
    files = _uploads(fake, 1 if command == "/describe" else 3)
    model = "describe" if command == "/describe" else "kontext-blend"
    store = stack.store

    await store.set_banned(TEAM, ANN, True)
    await _submit(stack, command, files)
    banned = await fake.wait_for("chat.postEphemeral")
    assert "not allowed to use falbot" in json.dumps(banned.params["blocks"])
    await store.set_banned(TEAM, ANN, False)

    await store.set_model_denied(TEAM, model, True)
    await _submit(stack, command, files)
    denied = await fake.wait_for("chat.postEphemeral", count=2)
    assert f"{model} is not allowed" in json.dumps(denied.params["blocks"])
    await store.set_model_denied(TEAM, model, False)

    await store.set_quota(TEAM, QuotaScope.USER, ANN, BucketLimits(Decimal("0.01"), Decimal(0)))
    await _submit(stack, command, files)
    broke = await fake.wait_for("chat.postEphemeral", count=3)
    assert "Out of credits" in json.dumps(broke.params["blocks"])

    await stack.quiesce()
    assert not fal_sim.submits
    assert not fake.calls_to("files.download")
    assert await stack.jobs_of(ANN) == []
    assert await stack.credits_of(ANN) == Decimal("0.01")
