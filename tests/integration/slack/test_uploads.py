"""`/edit` and `/upscale` open a modal with Slack's file_input element, whose submission carries
the uploaded files; an image sent to falbot in a DM (`message.im`) with a prompt is edited."""

from __future__ import annotations

import json

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import Call, FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, BOT_TOKEN, CHANNEL, TEAM, SlackStack, png

DM = "DANN"


def is_done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


async def test_edit_command_opens_a_file_input_modal_and_edits_the_upload(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    answer = await stack.command("/edit", "--model gpt-image-edit")
    assert answer.status == 200
    opened = await fake.wait_for("views.open")
    assert opened.params["trigger_id"]
    view = fake.views[-1]
    assert view["callback_id"] == "falbot_upload_modal"
    element = view["blocks"][0]["element"]
    assert element["type"] == "file_input"
    assert "png" in element["filetypes"]
    assert view["blocks"][1]["element"]["type"] == "plain_text_input"
    assert json.loads(view["private_metadata"])["c"] == CHANNEL

    # What Slack sends when the person has uploaded an image and typed a prompt.
    uploaded = fake.add_file(png(color="green"), name="dog.png", mimetype="image/png")
    values = {
        "image": {"image_input": p.file_input([uploaded])},
        "prompt": {"prompt_input": p.plain_text_input("give it a scarf")},
    }
    submitted = await stack.interaction(p.view_submission(view, values, team_id=TEAM, user_id=ANN))
    assert submitted.status == 200

    download = await fake.wait_for("files.download")
    assert download.params == {"file": uploaded["id"], "authorised": True}
    assert download.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    final = await fake.wait_for("chat.update", is_done)
    assert final.params["channel"] == CHANNEL
    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "fal-ai/gpt-image-1.5/edit"
    assert arguments["prompt"] == "give it a scarf"
    assert arguments["image_urls"][0].startswith("data:image/png;base64,")
    await stack.wait_delivered(ANN)


async def test_upscale_command_upscales_the_uploaded_image(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.command("/upscale", "--scale 4")
    await fake.wait_for("views.open")
    view = fake.views[-1]
    assert [b["element"]["type"] for b in view["blocks"]] == ["file_input"]
    assert view["blocks"][0]["element"]["max_files"] == 1

    uploaded = fake.add_file(png(), name="small.png", mimetype="image/png")
    # A file input may give a file by id and name only: falbot asks files.info for the rest.
    by_id = {"id": uploaded["id"], "name": uploaded["name"]}
    values = {"image": {"image_input": p.file_input([by_id])}}
    await stack.interaction(p.view_submission(view, values, team_id=TEAM, user_id=ANN))
    await fake.wait_for("chat.update", is_done)
    assert (await fake.wait_for("files.info")).params["file"] == uploaded["id"]
    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "fal-ai/esrgan"
    assert arguments["scale"] == 4


async def test_upload_modal_refuses_a_file_that_is_not_an_image(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.command("/edit", "")
    await fake.wait_for("views.open")
    pdf = fake.add_file(b"%PDF-1.7", name="report.pdf", mimetype="application/pdf")
    values = {
        "image": {"image_input": p.file_input([pdf])},
        "prompt": {"prompt_input": p.plain_text_input("make it blue")},
    }
    await stack.interaction(p.view_submission(fake.views[-1], values, team_id=TEAM, user_id=ANN))
    refused = await fake.wait_for("chat.postEphemeral")
    assert "not an image" in json.dumps(refused.params["blocks"])
    await stack.quiesce()
    assert not fal_sim.submits
    assert not fake.calls_to("chat.postMessage")


async def test_an_image_sent_in_a_dm_is_edited(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    photo = fake.add_file(png(color="blue"), name="cat.png", mimetype="image/png")
    sent = fake.add_message(DM, user=ANN, text="make it a painting", files=[photo])
    answer = await stack.event(
        p.direct_message(sent["text"], user=ANN, channel=DM, ts=sent["ts"], files=[photo])
    )
    assert answer.status == 200
    final = await fake.wait_for("chat.update", is_done)
    assert final.params["channel"] == DM
    endpoint, arguments = fal_sim.submits[0]
    assert endpoint == "fal-ai/nano-banana/edit"
    assert arguments["prompt"] == "make it a painting"
    (job,) = await stack.jobs_of(ANN)
    assert job.workspace_id == TEAM  # a Slack DM belongs to its workspace


async def test_falbots_own_dm_messages_and_other_channels_start_nothing(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    photo = fake.add_file(png(), name="cat.png", mimetype="image/png")
    own = p.direct_message("Done", user="UBOT", channel=DM, ts="1700000900.000001", files=[photo])
    own["bot_id"] = "B0001"
    channel = p.direct_message("make it red", user=ANN, channel=CHANNEL, ts="1700000900.000002")
    channel["channel_type"] = "channel"
    channel["files"] = [photo]
    for event in (own, channel):
        assert (await stack.event(event)).status == 200
    await stack.quiesce()
    assert not fal_sim.submits
    assert not [c for c in fake.calls if c.method.startswith("chat.")]
