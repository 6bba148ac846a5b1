"""Requests Slack did not sign (or signed too long ago) start nothing; a retried event runs once."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, CHANNEL, TEAM, SlackStack, png


def imagine_form(fake: FakeSlack) -> str:
    form = p.slash_command(
        "/imagine",
        "a forged request",
        team_id=TEAM,
        user_id=ANN,
        channel_id=CHANNEL,
        response_url=fake.response_url(),
    )
    return urlencode(form)


async def assert_nothing_started(stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator) -> None:
    await stack.quiesce()
    assert [c.method for c in fake.calls] == []  # not even auth.test: Bolt stopped at the door
    assert not fal_sim.submits
    assert await stack.jobs_of(ANN) == []


async def test_bad_signature_is_refused(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    assert stack.sender is not None
    answer = await stack.sender.post(
        imagine_form(fake),
        "application/x-www-form-urlencoded",
        signature="v0=" + "0" * 64,
    )
    assert answer.status == 401
    await assert_nothing_started(stack, fake, fal_sim)


async def test_body_changed_after_signing_is_refused(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    assert stack.sender is not None
    ts = int(time.time())
    signed_for = imagine_form(fake)
    signature = stack.sender.sign(ts, signed_for)
    tampered = signed_for.replace("a+forged+request", "something+else")
    answer = await stack.sender.post(
        tampered, "application/x-www-form-urlencoded", timestamp=ts, signature=signature
    )
    assert answer.status == 401
    await assert_nothing_started(stack, fake, fal_sim)


async def test_stale_timestamp_is_refused(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    assert stack.sender is not None
    # Correctly signed, but six minutes old: outside Slack's five-minute window (a replay).
    answer = await stack.sender.post(
        imagine_form(fake), "application/x-www-form-urlencoded", timestamp=int(time.time()) - 360
    )
    assert answer.status == 401
    await assert_nothing_started(stack, fake, fal_sim)


async def test_retried_event_starts_one_job(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    photo = fake.add_file(png(), name="cat.png", mimetype="image/png")
    parent = fake.add_message(CHANNEL, user=ANN, files=[photo])
    event = p.app_mention(
        "<@UBOT> paint it blue",
        user=ANN,
        channel=CHANNEL,
        ts="1700000200.000001",
        thread_ts=parent["ts"],
    )
    body = p.event_callback(event, team_id=TEAM, event_id="Ev0RETRIED")
    assert stack.sender is not None
    first = await stack.sender.event(body)
    # Slack sends the same event again when it thinks the first delivery failed.
    again = await stack.sender.event(
        body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert first.status == again.status == 200
    await fake.wait_for("chat.update", lambda c: str(c.params.get("text", "")).startswith("Done"))
    # A third, different event afterwards is handled: the retry had its chance to show up.
    other = p.event_callback(
        p.app_mention(
            "<@UBOT> now green",
            user=ANN,
            channel=CHANNEL,
            ts="1700000201.000001",
            thread_ts=parent["ts"],
        ),
        team_id=TEAM,
    )
    await stack.sender.event(other)
    await fake.wait_for(
        "chat.update", lambda c: str(c.params.get("text", "")).startswith("Done"), count=2
    )
    await stack.quiesce()
    prompts = [a["prompt"] for _, a in fal_sim.submits]
    assert prompts == ["paint it blue", "now green"]
    assert len(await stack.jobs_of(ANN)) == 2


async def test_retried_event_over_socket_mode_runs_once(
    socket_stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    photo = fake.add_file(png(), name="cat.png", mimetype="image/png")
    parent = fake.add_message(CHANNEL, user=ANN, files=[photo])
    event = p.app_mention(
        "<@UBOT> paint it blue",
        user=ANN,
        channel=CHANNEL,
        ts="1700000300.000001",
        thread_ts=parent["ts"],
    )
    body = p.event_callback(event, team_id=TEAM, event_id="Ev0SOCKETRETRY")
    first = await fake.socket_send("events_api", body)
    await fake.wait_ack(first)
    retry = await fake.socket_send("events_api", body, retry_attempt=1)
    await fake.wait_ack(retry)
    await fake.wait_for("chat.update", lambda c: str(c.params.get("text", "")).startswith("Done"))
    await socket_stack.quiesce()
    assert len(fal_sim.submits) == 1
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert len(await socket_stack.jobs_of(ANN)) == 1
