"""Editing an image: a mention in its thread, or the Edit image shortcut and its modal."""

from __future__ import annotations

import io
import json
import os

from PIL import Image

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import (
    ANN,
    BOT_TOKEN,
    CHANNEL,
    MAX_INPUT_BYTES,
    TEAM,
    SlackStack,
    png,
)


def is_done(call: object) -> bool:
    return str(getattr(call, "params", {}).get("text", "")).startswith("Done")


async def test_mention_in_a_thread_edits_its_parent_image(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    image = png(color="green")
    photo = fake.add_file(image, name="cat.png", mimetype="image/png")
    parent = fake.add_message(CHANNEL, user=ANN, text="my cat", files=[photo])
    mention = fake.add_message(
        CHANNEL, user=ANN, text="<@UBOT> give it a hat", thread_ts=parent["ts"]
    )

    answer = await stack.event(
        p.app_mention(
            mention["text"], user=ANN, channel=CHANNEL, ts=mention["ts"], thread_ts=parent["ts"]
        )
    )
    assert answer.status == 200

    replies = await fake.wait_for("conversations.replies")
    assert replies.params["ts"] == parent["ts"]
    download = await fake.wait_for("files.download")
    assert download.params == {"file": photo["id"], "authorised": True}
    assert download.headers["Authorization"] == f"Bearer {BOT_TOKEN}"

    await fake.wait_for("chat.update", is_done)
    post = fake.calls_to("chat.postMessage")[0]
    assert post.params["thread_ts"] == parent["ts"]  # the job lives in the image's thread
    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "fal-ai/nano-banana/edit"
    assert arguments["prompt"] == "give it a hat"
    assert arguments["image_urls"][0].startswith("data:image/png;base64,")
    complete = fake.calls_to("files.completeUploadExternal")[0]
    assert complete.params["thread_ts"] == parent["ts"]


async def test_mention_upscale_in_a_thread(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    photo = fake.add_file(png(), name="small.png", mimetype="image/png")
    parent = fake.add_message(CHANNEL, user=ANN, files=[photo])
    await stack.event(
        p.app_mention(
            "<@UBOT> upscale --scale 4",
            user=ANN,
            channel=CHANNEL,
            ts="1700000100.000001",
            thread_ts=parent["ts"],
        )
    )
    await fake.wait_for("chat.update", is_done)
    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "fal-ai/esrgan"
    assert arguments["scale"] == 4


async def test_mention_upscale_it_is_an_upscale_as_on_discord(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    # One rule for both platforms (core.commands.asks_upscale): "upscale it" upscales.
    photo = fake.add_file(png(), name="small.png", mimetype="image/png")
    parent = fake.add_message(CHANNEL, user=ANN, files=[photo])
    await stack.event(
        p.app_mention(
            "<@UBOT> upscale it",
            user=ANN,
            channel=CHANNEL,
            ts="1700000100.000001",
            thread_ts=parent["ts"],
        )
    )
    await fake.wait_for("chat.update", is_done)
    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "fal-ai/esrgan"
    assert arguments["scale"] == 2


async def test_edit_image_shortcut_opens_a_modal_and_edits(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    photo = fake.add_file(png(color="blue"), name="dog.png", mimetype="image/png")
    message = fake.add_message(CHANNEL, user=ANN, text="the dog", files=[photo])

    await stack.interaction(
        p.message_action(
            message,
            team_id=TEAM,
            user_id=ANN,
            channel_id=CHANNEL,
            response_url=fake.response_url(),
        )
    )
    opened = await fake.wait_for("views.open")
    view = fake.views[-1]
    assert opened.params["trigger_id"]
    assert view["callback_id"] == "falbot_edit_modal"
    models = [o["value"] for o in view["blocks"][1]["element"]["options"]]
    assert "nano-banana-edit" in models
    assert "flux-dev" not in models  # only edit models
    assert not fake.calls_to("files.download")  # nothing fetched before the prompt is given

    values = {
        "prompt": {"prompt_input": {"type": "plain_text_input", "value": "make it a watercolour"}},
        "model": {
            "model_input": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "gpt-image-edit"},
                    "value": "gpt-image-edit",
                },
            }
        },
    }
    answer = await stack.interaction(p.view_submission(view, values, team_id=TEAM, user_id=ANN))
    assert answer.status == 200
    assert answer.text == ""  # a plain ack closes the modal

    download = await fake.wait_for("files.download")
    assert download.params["authorised"] is True
    done = await fake.wait_for("chat.update", is_done)
    post = fake.calls_to("chat.postMessage")[0]
    assert post.params["thread_ts"] == message["ts"]
    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "fal-ai/gpt-image-1.5/edit"
    assert arguments["prompt"] == "make it a watercolour"
    assert arguments["input_fidelity"] == "high"  # sent, never left to fal's default
    # fal bills tokens falbot cannot see: the cost is an estimate, and said so
    assert "gpt-image-edit · about $0.0" in str(done.params["text"])
    metadata = json.loads(view["private_metadata"])
    assert metadata["c"] == CHANNEL


async def test_a_large_image_goes_to_fal_storage(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    noise = Image.frombytes("RGB", (420, 420), os.urandom(420 * 420 * 3))
    buf = io.BytesIO()
    noise.save(buf, "PNG")
    assert 256 * 1024 < len(buf.getvalue()) < MAX_INPUT_BYTES
    photo = fake.add_file(buf.getvalue(), name="noise.png", mimetype="image/png")
    parent = fake.add_message(CHANNEL, user=ANN, files=[photo])
    await stack.event(
        p.app_mention(
            "<@UBOT> calm it down",
            user=ANN,
            channel=CHANNEL,
            ts="1700000700.000001",
            thread_ts=parent["ts"],
        )
    )
    await fake.wait_for("chat.update", is_done)
    _, arguments = fal_sim.submits[0]
    url = arguments["image_urls"][0]
    assert url.startswith(fal_sim.cdn_url)  # uploaded to fal storage, not inlined
    assert await stack.output_bytes(url) == buf.getvalue()
