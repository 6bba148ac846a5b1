"""Taking images in on Slack: a banned user's mention or Edit image modal downloads nothing (the
refusal comes first, in admission's words), and one request's images may not add up past the
pixel cap; nothing is posted, no job starts, no credit goes."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from PIL import Image

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, CHANNEL, TEAM, SlackStack, png


@pytest.fixture(scope="module")
def big_webp() -> bytes:
    """40 MP in about 100 KB: cheap to send, costly to decode."""
    buf = io.BytesIO()
    Image.new("RGB", (8000, 5000), (30, 90, 200)).save(buf, "WEBP", quality=50, method=0)
    return buf.getvalue()


async def refusal(stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator) -> str:
    """The ephemeral answer, once the adapter is done; and nothing else happened."""
    ephemeral = await fake.wait_for("chat.postEphemeral")
    await stack.quiesce()
    assert ephemeral.params["user"] == ANN
    assert not fake.calls_to("chat.postMessage")
    assert not fal_sim.submits
    assert await stack.jobs_of(ANN) == []
    assert await stack.credits_of(ANN) == Decimal(100)
    return str(ephemeral.params["blocks"][0]["text"]["text"])


async def test_a_banned_users_mention_in_a_thread_downloads_nothing(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator, big_webp: bytes
) -> None:
    await stack.store.set_banned(TEAM, ANN, True)
    photos = [
        fake.add_file(big_webp, name=f"big-{i}.webp", mimetype="image/webp") for i in range(10)
    ]
    parent = fake.add_message(CHANNEL, user=ANN, files=photos)

    await stack.event(
        p.app_mention(
            "<@UBOT> make it night",
            user=ANN,
            channel=CHANNEL,
            ts="1700000500.000001",
            thread_ts=parent["ts"],
        )
    )

    assert "not allowed to use falbot" in await refusal(stack, fake, fal_sim)
    assert not fake.calls_to("files.download")
    assert not fake.calls_to("conversations.replies")  # not even looked for


async def test_a_banned_users_edit_image_modal_downloads_nothing(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    photo = fake.add_file(png(), name="dog.png", mimetype="image/png")
    message = fake.add_message(CHANNEL, user=ANN, files=[photo])
    await stack.interaction(
        p.message_action(
            message, team_id=TEAM, user_id=ANN, channel_id=CHANNEL, response_url=fake.response_url()
        )
    )
    await fake.wait_for("views.open")
    await stack.store.set_banned(TEAM, ANN, True)  # banned while the modal was open

    values = {
        "prompt": {"prompt_input": {"type": "plain_text_input", "value": "brighter"}},
        "model": {"model_input": {"type": "static_select", "selected_option": None}},
    }
    await stack.interaction(p.view_submission(fake.views[-1], values, team_id=TEAM, user_id=ANN))

    assert "not allowed to use falbot" in await refusal(stack, fake, fal_sim)
    assert not fake.calls_to("files.download")


async def test_a_mention_past_the_pixel_cap_is_refused(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator, big_webp: bytes
) -> None:
    photos = [fake.add_file(big_webp, name=f"{n}.webp", mimetype="image/webp") for n in "ab"]

    await stack.event(
        p.app_mention(
            "<@UBOT> put them side by side",
            user=ANN,
            channel=CHANNEL,
            ts="1700000600.000001",
            files=photos,
        )
    )

    shown = await refusal(stack, fake, fal_sim)
    assert "Your images add up to 80 megapixels; the limit is 64 megapixels" in shown
    assert len(fake.calls_to("files.download")) == 2


async def test_a_banned_users_upload_modal_downloads_nothing(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator, big_webp: bytes
) -> None:
    await stack.command("/edit", "--model gpt-image-edit")
    await fake.wait_for("views.open")
    await stack.store.set_banned(TEAM, ANN, True)  # banned while the modal was open
    uploads = [fake.add_file(big_webp, name=f"{n}.webp", mimetype="image/webp") for n in "abc"]
    values = {
        "image": {"image_input": p.file_input([{"id": f["id"]} for f in uploads])},
        "prompt": {"prompt_input": p.plain_text_input("make it night")},
    }

    await stack.interaction(p.view_submission(fake.views[-1], values, team_id=TEAM, user_id=ANN))

    assert "not allowed to use falbot" in await refusal(stack, fake, fal_sim)
    assert not fake.calls_to("files.info")  # not even looked up
    assert not fake.calls_to("files.download")
