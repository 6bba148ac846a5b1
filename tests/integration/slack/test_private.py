"""Private mode on Slack, through slack-bolt against the fake Slack and fal-client against the
simulator: the job's messages, progress, result, failure and buttons live in a DM with its
requester, nothing is posted in the channel, fal gets the retention headers, and a workspace
that forbids private mode refuses private jobs in clear words."""

from __future__ import annotations

import json
from typing import Any

from adapters.fal.sim.faults import Fault
from tests.fakes.slack import FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, BOSS, CHANNEL, TEAM, SlackStack

# The fake's DM with Ann (conversations.open).
DM = "D" + ANN

_POSTING = ("chat.postMessage", "chat.update", "files.completeUploadExternal")


def _channels_posted_to(fake: FakeSlack) -> set[str]:
    """Every conversation the bot posted or edited a visible message in (ephemeral answers,
    which only their reader sees, are not)."""
    seen = set()
    for call in fake.calls:
        if call.method in _POSTING and call.status == 200:
            seen.add(str(call.params.get("channel") or call.params.get("channel_id")))
    return seen


def _retention_headers(stack: SlackStack) -> list[str | None]:
    return [r.fal_headers.get("x-fal-store-io") for r in stack.sim.requests.values()]


async def test_a_private_job_happens_in_a_dm_and_never_in_the_channel(
    stack: SlackStack,
) -> None:
    await stack.command("/imagine", "a secret fox --private")
    await stack.wait_delivered(ANN)

    assert stack.fake.calls_to("conversations.open")[0].params["users"] == ANN
    assert _channels_posted_to(stack.fake) == {DM}
    assert stack.fake.messages.get(CHANNEL, []) == []
    upload = stack.fake.calls_to("files.completeUploadExternal")[0]
    assert upload.params["channel_id"] == DM
    assert _retention_headers(stack) == ["0"]
    (job,) = await stack.jobs_of(ANN)
    assert job.private and job.reply_ref["channel"] == DM


async def test_a_private_failure_is_told_in_the_dm_only(stack: SlackStack) -> None:
    stack.sim.fail_next(Fault.server_error("runner_scheduling_failure"))

    await stack.command("/imagine", "a secret fox --private")

    failed = await stack.fake.wait_for("chat.update", count=2)
    assert failed.params["channel"] == DM
    assert "credits were returned" in json.dumps(failed.params)
    assert _channels_posted_to(stack.fake) == {DM}
    assert _retention_headers(stack) == ["0"]


async def test_a_button_on_a_private_result_stays_private(stack: SlackStack) -> None:
    await stack.command("/imagine", "a secret fox --model flux-dev --private")
    await stack.wait_delivered(ANN)
    result = next(m for m in stack.fake.messages[DM] if "blocks" in m and _has(m, "falbot_rerun"))

    await stack.interaction(
        p.block_actions(
            p.button_action(result, "falbot_rerun"),
            message=result,
            team_id=TEAM,
            user_id=ANN,
            channel_id=DM,
            response_url=stack.fake.response_url(),
        )
    )
    await stack.wait_delivered(ANN, count=2)

    assert _channels_posted_to(stack.fake) == {DM}
    assert _retention_headers(stack) == ["0", "0"]


async def test_a_public_job_sends_no_retention_header(stack: SlackStack) -> None:
    await stack.command("/imagine", "a fox")
    await stack.wait_delivered(ANN)
    assert _retention_headers(stack) == [None]
    assert _channels_posted_to(stack.fake) == {CHANNEL}  # what the checks above would catch


async def test_admins_forbid_private_mode_and_private_jobs_are_refused(stack: SlackStack) -> None:
    await stack.command("/falbot", "admin private forbid", user=BOSS)
    await stack.fake.wait_for(
        "response_url", lambda c: "Private mode is forbidden here" in json.dumps(c.params)
    )

    await stack.command("/imagine", "a secret fox --private")

    refusal = await stack.fake.wait_for(
        "response_url",
        lambda c: (
            "Private mode is turned off in this workspace by its admins" in json.dumps(c.params)
        ),
    )
    assert "/falbot admin private allow" in json.dumps(refusal.params)
    assert stack.sim.submits == []
    assert _channels_posted_to(stack.fake) == set()

    await stack.command("/falbot", "admin private allow", user=BOSS)
    await stack.fake.wait_for(
        "response_url", lambda c: "Private mode is allowed here" in json.dumps(c.params)
    )
    await stack.command("/imagine", "a secret fox --private")
    await stack.wait_delivered(ANN)
    assert _retention_headers(stack) == ["0"]


def _has(message: dict[str, Any], action_id: str) -> bool:
    return action_id in json.dumps(message.get("blocks", []))


async def test_no_dm_no_private_job(stack: SlackStack) -> None:
    """Slack refuses the DM (here: rate-limited past the client's retries): nothing starts,
    nothing is posted in the channel, and the requester is told why, privately."""
    stack.fake.rate_limit("conversations.open", times=5)

    await stack.command("/imagine", "a secret fox --private")

    said = await stack.fake.wait_for(
        "response_url", lambda c: "could not open a direct message" in json.dumps(c.params)
    )
    assert said.params["response_type"] == "ephemeral"
    assert stack.sim.submits == []
    assert _channels_posted_to(stack.fake) == set()
