"""Price before spending on Slack, through slack-bolt against the fake Slack and fal-client
against the simulator: the quote is an ephemeral Block Kit message with Confirm and Cancel;
Confirm starts the job once however often it is pressed (racing presses, after a restart);
Cancel and lapse take nothing; a lapsed Confirm says so; only the requester answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.fal.simulator import FalSimulator
from bot.clock import SystemClock
from core.jobs import Actor
from tests.fakes.slack import Call, FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, BOSS, CHANNEL, TEAM, SlackStack, png

THRESHOLD = {"FALBOT_CONFIRM_ABOVE_USD": Decimal("0.20")}  # the product's default


class ShiftedClock:
    """Real time plus an offset the test moves."""

    def __init__(self) -> None:
        self._real = SystemClock()
        self.offset = timedelta(0)

    def monotonic(self) -> float:
        return self._real.monotonic() + self.offset.total_seconds()

    def now(self) -> datetime:
        return self._real.now() + self.offset

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


@pytest.fixture
async def quoting(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> AsyncIterator[SlackStack]:
    opened = await SlackStack.open(fake, fal_sim, db_path, settings=THRESHOLD)
    try:
        yield opened
    finally:
        await opened.close()


async def _quote(stack: SlackStack, text: str = "waves") -> dict[str, Any]:
    """/video (wan-2.5, $0.50): its quote, as the ephemeral message Slack shows."""
    before = len(stack.fake.calls_to("chat.postEphemeral"))
    await stack.command("/video", text)
    call = await stack.fake.wait_for("chat.postEphemeral", count=before + 1)
    blocks = call.params["blocks"]
    return {
        "ts": call.answer["message_ts"],
        "text": call.params["text"],
        "user": call.params["user"],
        "channel": call.params["channel"],
        "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
    }


async def _press(stack: SlackStack, quote: dict[str, Any], label: str, user: str = ANN) -> None:
    action_id = f"falbot_quote_{label}"
    await stack.interaction(
        p.block_actions(
            p.button_action(quote, action_id),
            message=quote,
            team_id=TEAM,
            user_id=user,
            channel_id=CHANNEL,
            response_url=stack.fake.response_url(),
        )
    )


async def _said(stack: SlackStack, words: str) -> Call:
    """The ephemeral answer (through the press's response_url) that contains `words`."""
    return await stack.fake.wait_for("response_url", lambda c: words in json.dumps(c.params))


async def _level(stack: SlackStack, user: str = ANN) -> Decimal:
    return (await stack.engine.quota(Actor("slack", TEAM, user))).level


def _took(before: Decimal, after: Decimal, credits: int) -> bool:
    return before - credits <= after < before - credits + 1


async def test_a_job_above_the_threshold_shows_its_quote_to_its_requester_only(
    quoting: SlackStack,
) -> None:
    before = await _level(quoting)

    quote = await _quote(quoting)

    assert quote["user"] == ANN and quote["channel"] == CHANNEL
    shown = json.dumps(quote["blocks"])
    assert "*wan-2.5* will cost about *$0.50* (50 credits). You have 100 credits." in shown
    assert "Nothing is taken until you confirm" in shown
    assert "<!date^" in shown  # when it lapses, in the reader's own time
    actions = next(b for b in quote["blocks"] if b["type"] == "actions")
    assert [e["text"]["text"] for e in actions["elements"]] == ["Confirm $0.50", "Cancel"]
    assert quoting.fake.calls_to("chat.postMessage") == []  # nothing public
    assert quoting.sim.submits == []
    assert _took(before, await _level(quoting), 0)


async def test_confirm_starts_the_job_once_however_often_it_is_pressed(
    quoting: SlackStack,
) -> None:
    quote = await _quote(quoting)
    before = await _level(quoting)

    await _press(quoting, quote, "confirm")
    await quoting.wait_delivered(ANN)
    replaced = await _said(quoting, "Confirmed: wan-2.5 for $0.50 is starting.")
    assert replaced.params["replace_original"] is True
    await _press(quoting, quote, "confirm")
    await _said(quoting, "You already confirmed this quote")

    assert len(quoting.sim.submits) == 1
    assert len(await quoting.jobs_of(ANN)) == 1
    assert _took(before, await _level(quoting), 50)
    posted = quoting.fake.calls_to("chat.postMessage")
    assert [c.params["channel"] for c in posted] == [CHANNEL]  # the job, where it was asked


async def test_racing_confirms_start_one_job(quoting: SlackStack) -> None:
    quote = await _quote(quoting)
    before = await _level(quoting)

    await asyncio.gather(*(_press(quoting, quote, "confirm") for _ in range(3)))
    await quoting.wait_delivered(ANN)
    await _said(quoting, "already")

    assert len(quoting.sim.submits) == 1
    assert len(await quoting.jobs_of(ANN)) == 1
    assert _took(before, await _level(quoting), 50)


async def test_cancel_takes_nothing_and_a_later_confirm_starts_nothing(
    quoting: SlackStack,
) -> None:
    quote = await _quote(quoting)
    before = await _level(quoting)

    await _press(quoting, quote, "cancel")
    cancelled = await _said(quoting, "Cancelled: wan-2.5 for $0.50 was not started")
    assert cancelled.params["replace_original"] is True
    await _press(quoting, quote, "confirm")
    await _said(quoting, "You cancelled this quote; nothing was taken.")

    assert quoting.sim.submits == []
    assert await quoting.jobs_of(ANN) == []
    assert _took(before, await _level(quoting), 0)


async def test_a_lapsed_quote_says_so_and_takes_nothing(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    clock = ShiftedClock()
    stack = await SlackStack.open(fake, fal_sim, db_path, settings=THRESHOLD, clock=clock)
    try:
        quote = await _quote(stack)
        before = await _level(stack)
        clock.offset += timedelta(minutes=5, seconds=1)

        await _press(stack, quote, "confirm")

        said = await _said(
            stack, "This quote lapsed: quotes last 5 minutes, and nothing was taken."
        )
        assert "Ask again for a new quote." in json.dumps(said.params)
        assert stack.sim.submits == []
        assert await _level(stack) >= before
    finally:
        await stack.close()


async def test_confirm_after_a_restart_starts_the_job(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    first = await SlackStack.open(fake, fal_sim, db_path, settings=THRESHOLD)
    try:
        quote = await _quote(first)
    finally:
        await first.close()
    second = await SlackStack.open(fake, fal_sim, db_path, settings=THRESHOLD)
    try:
        await _press(second, quote, "confirm")
        await second.wait_delivered(ANN)
        assert len(second.sim.submits) == 1
    finally:
        await second.close()


async def test_only_the_requester_can_answer_a_quote(quoting: SlackStack) -> None:
    quote = await _quote(quoting)

    await _press(quoting, quote, "confirm", user=BOSS)
    await _press(quoting, quote, "cancel", user=BOSS)

    refusal = "Only the person who asked for this quote can confirm or cancel it."
    await quoting.fake.wait_for("response_url", lambda c: refusal in json.dumps(c.params), count=2)
    assert quoting.sim.submits == []
    await _press(quoting, quote, "confirm")
    await quoting.wait_delivered(ANN)


async def test_admin_confirm_above_sets_the_threshold(quoting: SlackStack) -> None:
    await quoting.command("/falbot", "admin confirm-above 0.02", user=BOSS)
    await quoting.fake.wait_for(
        "response_url",
        lambda c: "Jobs estimated above $0.02 show their price" in json.dumps(c.params),
    )

    await quoting.command("/imagine", "a fox --model flux-dev")

    call = await quoting.fake.wait_for("chat.postEphemeral")
    assert "*flux-dev* will cost about" in json.dumps(call.params["blocks"])
    assert quoting.sim.submits == []


async def test_a_mention_in_a_thread_is_quoted_then_runs_in_that_thread(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    settings = {"FALBOT_CONFIRM_ABOVE_USD": Decimal("0.01")}
    stack = await SlackStack.open(fake, fal_sim, db_path, settings=settings)
    try:
        photo = fake.add_file(png(), name="cat.png", mimetype="image/png")
        parent = fake.add_message(CHANNEL, user=ANN, text="my cat", files=[photo])
        mention = fake.add_message(
            CHANNEL, user=ANN, text="<@UBOT> give it a hat", thread_ts=parent["ts"]
        )
        await stack.event(
            p.app_mention(
                mention["text"], user=ANN, channel=CHANNEL, ts=mention["ts"], thread_ts=parent["ts"]
            )
        )
        call = await fake.wait_for("chat.postEphemeral")
        assert call.params["thread_ts"] == parent["ts"] and call.params["user"] == ANN
        blocks = call.params["blocks"]
        quote = {
            "ts": call.answer["message_ts"],
            "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
        }
        assert "*nano-banana-edit* will cost about *$0.039*" in json.dumps(quote["blocks"])
        assert fal_sim.submits == []

        await _press(stack, quote, "confirm")
        await stack.wait_delivered(ANN)

        post = fake.calls_to("chat.postMessage")[0]
        assert post.params["thread_ts"] == parent["ts"]  # where it was asked
        assert [s[0] for s in fal_sim.submits] == ["fal-ai/nano-banana/edit"]
        assert fal_sim.submits[0][1]["image_urls"][0].startswith("data:image/png;base64,")
    finally:
        await stack.close()
