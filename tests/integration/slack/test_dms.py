"""Slack DMs belong to their workspace: a command sent from a DM carries the workspace's
`team_id`, so the workspace's bans and quotas apply there as in any channel."""

from __future__ import annotations

from decimal import Decimal

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import Call, FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, TEAM, SlackStack, png

DM = "D0ANN"  # ann's DM with the bot


async def _dm_command(stack: SlackStack, fake: FakeSlack, text: str) -> Call:
    before = len(fake.calls_to("response_url"))
    form = p.slash_command(
        "/imagine", text, team_id=TEAM, user_id=ANN, channel_id=DM, response_url=fake.response_url()
    )
    form["channel_name"] = "directmessage"
    await stack._send("slash_commands", form, form=True)
    return await fake.wait_for("response_url", count=before + 1)


async def test_a_user_banned_in_the_workspace_is_refused_in_a_dm(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.store.set_banned(TEAM, ANN, True)

    answer = await _dm_command(stack, fake, "a fox --model flux-dev")

    assert answer.params["response_type"] == "ephemeral"
    assert "not allowed to use falbot here" in str(answer.params["blocks"])
    assert fal_sim.submits == []
    assert await stack.jobs_of(ANN) == []


async def test_a_dm_job_takes_the_workspace_bucket(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    before = await stack.credits_of(ANN)
    form = p.slash_command(
        "/imagine",
        "a fox --model flux-dev",
        team_id=TEAM,
        user_id=ANN,
        channel_id=DM,
        response_url=fake.response_url(),
    )
    await stack._send("slash_commands", form, form=True)
    await stack.wait_delivered(ANN)

    (job,) = await stack.jobs_of(ANN)
    assert job.workspace_id == TEAM
    assert await stack.credits_of(ANN) < before - Decimal(1)


async def test_an_image_dmed_by_a_banned_user_is_refused(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.store.set_banned(TEAM, ANN, True)
    photo = fake.add_file(png(color="blue"), name="cat.png", mimetype="image/png")
    sent = fake.add_message(DM, user=ANN, text="make it a painting", files=[photo])

    await stack.event(
        p.direct_message(sent["text"], user=ANN, channel=DM, ts=sent["ts"], files=[photo])
    )

    refused = await fake.wait_for("chat.postEphemeral")
    assert "not allowed to use falbot here" in str(refused.params.get("blocks"))
    assert fal_sim.submits == []
    assert await stack.jobs_of(ANN) == []
