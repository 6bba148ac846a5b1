"""Admin commands need a Slack admin or owner, or a configured admin id, on every call; an
exhausted quota says when to retry."""

from __future__ import annotations

from decimal import Decimal

from adapters.fal.simulator import FalSimulator
from core.jobs import JobState
from core.nsfw import NsfwMode
from core.quota import Budget
from tests.fakes.slack import Call, FakeSlack
from tests.integration.slack.harness import ANN, BOSS, CONFIGURED, TEAM, SlackStack


def shown(call: Call) -> str:
    return "\n".join(b["text"]["text"] for b in call.params["blocks"] if b["type"] == "section")


async def answer_to(stack: SlackStack, fake: FakeSlack, command: str, text: str, user: str) -> Call:
    before = len(fake.calls_to("response_url"))
    await stack.command(command, text, user=user)
    answer = await fake.wait_for("response_url", count=before + 1)
    assert answer.params["response_type"] == "ephemeral"
    return answer


async def test_admin_command_refused_for_a_member(stack: SlackStack, fake: FakeSlack) -> None:
    answer = await answer_to(stack, fake, "/falbot", "admin budget set 5 100", ANN)
    assert "Only falbot admins" in shown(answer)
    assert (await stack.store.policy(TEAM)).budget == Budget()
    info = fake.calls_to("users.info")
    assert [c.params["user"] for c in info] == [ANN]  # looked up, not assumed


async def test_admin_command_accepted_for_a_workspace_admin(
    stack: SlackStack, fake: FakeSlack
) -> None:
    answer = await answer_to(stack, fake, "/falbot", "admin budget set 5 100", BOSS)
    assert "Budget: $5" in shown(answer)
    budget = (await stack.store.policy(TEAM)).budget
    assert budget == Budget(Decimal(5), Decimal(100))


async def test_admin_rights_are_checked_on_every_call(stack: SlackStack, fake: FakeSlack) -> None:
    first = await answer_to(stack, fake, "/falbot", "admin models deny veo3", BOSS)
    assert "no longer allowed" in shown(first)
    fake.users[BOSS]["is_admin"] = False  # demoted in Slack
    second = await answer_to(stack, fake, "/falbot", "admin models allow veo3", BOSS)
    assert "Only falbot admins" in shown(second)
    assert "veo3" in (await stack.store.policy(TEAM)).denied_models


async def test_configured_admin_sets_and_shows_a_users_quota(
    stack: SlackStack, fake: FakeSlack
) -> None:
    await answer_to(stack, fake, "/falbot", f"admin quota set <@{ANN}|ann> 10 5", CONFIGURED)
    answer = await answer_to(stack, fake, "/falbot", f"admin quota show <@{ANN}|ann>", CONFIGURED)
    assert f"<@{ANN}>: 10" in shown(answer)  # a mention, not the raw id
    assert "refilling 5 an hour" in shown(answer)
    assert not [c for c in fake.calls_to("users.info") if c.params["user"] == CONFIGURED]


async def test_unknown_admin_command_shows_usage(stack: SlackStack, fake: FakeSlack) -> None:
    answer = await answer_to(stack, fake, "/falbot", "admin quota frobnicate", BOSS)
    text = shown(answer)
    assert "I don't know `/falbot admin quota frobnicate`" in text
    assert "/falbot admin quota set" in text


async def test_exhausted_quota_says_when_to_retry(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await answer_to(stack, fake, "/falbot", f"admin quota set <@{ANN}> 5 60", BOSS)
    await stack.command("/imagine", "a red fox --model nano-banana")  # 3.9 credits of 5
    await fake.wait_for("chat.update", lambda c: str(c.params["text"]).startswith("Done"))
    left = await stack.credits_of(ANN)

    answer = await answer_to(stack, fake, "/imagine", "another fox --model nano-banana", ANN)
    text = shown(answer)
    assert "Out of credits" in text
    assert "Try again in 3 min" in text  # 2.8 credits short at 60 an hour
    await stack.quiesce()
    assert len(fake.calls_to("chat.postMessage")) == 1  # the first job's only
    assert not fake.calls_to("chat.delete")
    assert len(await stack.jobs_of(ANN)) == 1
    assert await stack.credits_of(ANN) - left < Decimal("0.1")  # only the refill since
    assert len(fal_sim.submits) == 1


async def test_a_banned_users_prompt_is_never_posted(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await answer_to(stack, fake, "/falbot", f"admin ban <@{ANN}|ann>", BOSS)
    answer = await answer_to(stack, fake, "/imagine", "a secret plan --model nano-banana", ANN)
    assert "not allowed to use falbot" in shown(answer)
    await stack.quiesce()
    # Nothing public, not even for a moment: only the ephemeral answer.
    assert not fake.calls_to("chat.postMessage", status=None)
    assert not fake.calls_to("chat.delete", status=None)
    assert "secret plan" not in str([c.params for c in fake.calls if c.method != "response_url"])
    assert await stack.jobs_of(ANN) == []
    assert not fal_sim.submits


async def test_usage_error_on_a_bad_option(stack: SlackStack, fake: FakeSlack) -> None:
    answer = await answer_to(stack, fake, "/imagine", "a fox --colour red", ANN)
    text = shown(answer)
    assert "I don't know the option `--colour`" in text
    assert "(options: --aspect, --count, --model, --private, --seed)" in text
    assert "Usage: `/imagine &lt;prompt&gt;" in text  # escaped for Slack, shown as <prompt>
    await stack.quiesce()
    assert not fake.calls_to("chat.postMessage")


async def test_admin_usage_answers_privately_and_dms_the_chart(
    stack: SlackStack, fake: FakeSlack
) -> None:
    await stack.command("/imagine", "a kite --model nano-banana")
    await fake.wait_for("chat.update", lambda c: str(c.params["text"]).startswith("Done"))
    await stack.wait_delivered(ANN)
    refused = await answer_to(stack, fake, "/falbot", "admin usage 7", ANN)
    assert "Only falbot admins" in shown(refused)

    answer = await answer_to(stack, fake, "/falbot", "admin usage 7", BOSS)
    text = shown(answer)
    assert "Spend by everyone" in text
    assert "$0.039 over 1 job." in text
    assert "in your DMs" in text
    opened = fake.calls_to("conversations.open")
    assert [c.params["users"] for c in opened] == [BOSS]
    complete = fake.calls_to("files.completeUploadExternal")[-1]
    assert complete.params["channel_id"] == opened[0].answer["channel"]["id"]
    chart, ledger = (fake.uploads[f["id"]] for f in complete.answer["files"])
    assert chart["data"].startswith(b"\x89PNG")
    assert b"nano-banana" in ledger["data"]


def context_text(call: Call) -> str:
    return "\n".join(
        e["text"] for b in call.params["blocks"] if b["type"] == "context" for e in b["elements"]
    )


async def flagged_result(stack: SlackStack, fake: FakeSlack, count: int) -> Call:
    """The final message of an /imagine the fal simulator flags (its prompt holds the marker)."""
    await stack.command("/imagine", "an nsfw fox --model flux-dev")
    return await fake.wait_for(
        "chat.update", lambda c: str(c.params["text"]).startswith("Done"), count=count
    )


async def test_admin_nsfw_sets_what_happens_to_flagged_outputs(
    stack: SlackStack, fake: FakeSlack
) -> None:
    held = await flagged_result(stack, fake, 1)  # the default: withheld
    assert "1 output(s) withheld" in context_text(held)
    assert not fake.calls_to("files.completeUploadExternal")

    spoiler = await answer_to(stack, fake, "/falbot", "admin nsfw Spoiler", BOSS)
    assert "shown behind a spoiler" in shown(spoiler)
    assert (await stack.store.policy(TEAM)).nsfw is NsfwMode.SPOILER
    spoilered = await flagged_result(stack, fake, 2)  # Slack has no spoilers: held back
    assert "1 output(s) withheld" in context_text(spoilered)
    assert not fake.calls_to("files.completeUploadExternal")

    allow = await answer_to(stack, fake, "/falbot", "admin nsfw allow", CONFIGURED)
    assert "are shown outside NSFW channels" in shown(allow)
    allowed = await flagged_result(stack, fake, 3)
    assert "withheld" not in context_text(allowed)
    assert "flagged an output as possibly NSFW" in context_text(allowed)
    (upload,) = fake.calls_to("files.completeUploadExternal")
    (file,) = upload.answer["files"]
    assert fake.uploads[file["id"]]["data"].startswith(b"\x89PNG")


async def test_admin_nsfw_refuses_a_member_and_a_bad_mode_and_changes_nothing(
    stack: SlackStack, fake: FakeSlack
) -> None:
    await answer_to(stack, fake, "/falbot", "admin nsfw spoiler", BOSS)

    refused = await answer_to(stack, fake, "/falbot", "admin nsfw allow", ANN)
    assert "Only falbot admins" in shown(refused)
    bad = await answer_to(stack, fake, "/falbot", "admin nsfw sometimes", BOSS)
    assert "`sometimes` is not an NSFW mode" in shown(bad)
    assert "withhold, spoiler or allow" in shown(bad)
    missing = await answer_to(stack, fake, "/falbot", "admin nsfw", BOSS)
    assert "`/falbot admin nsfw &lt;withhold|spoiler|allow&gt;`" in shown(missing)

    assert (await stack.store.policy(TEAM)).nsfw is NsfwMode.SPOILER


async def test_a_job_in_a_channel_the_bot_is_not_in_is_withdrawn(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    """Admitted, then Slack refuses its message: the job is cancelled, its credits come back,
    and only the requester is told."""
    await stack.command("/imagine", "a hidden fox --model nano-banana", channel="CNOTIN1")
    answer = await fake.wait_for("response_url")
    assert "I can't post in this conversation" in shown(answer)
    assert "/invite @falbot" in shown(answer)
    await stack.quiesce()
    (job,) = await stack.jobs_of(ANN)  # withdrawn before the requester was told
    assert job.state is JobState.CANCELLED
    assert await stack.credits_of(ANN) == Decimal(100)
    assert not fal_sim.submits  # held until its message was named: fal never saw it
    (refused,) = fake.calls_to("chat.postMessage")  # Slack refused it: nothing was shown
    assert refused.answer == {"ok": False, "error": "not_in_channel"}
    assert not fake.calls_to("chat.update", status=None)
