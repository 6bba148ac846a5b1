"""Price before spending on Discord, through discord.py against the fake Discord and fal-client
against the simulator: a job above the threshold answers with its quote (ephemeral, Confirm and
Cancel); Confirm starts it once however often it is pressed (racing presses too, and after a
restart); Cancel and lapse take nothing; a lapsed Confirm says so; only the requester answers."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

from core.jobs import Actor
from tests.fakes.discord import Issued, Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env, ShiftedClock

THRESHOLD = {"FALBOT_CONFIRM_ABOVE_USD": Decimal("0.20")}  # the product's default


def _actor(env: Env, person: Person) -> Actor:
    return Actor("discord", env.fake.guild_id, person.id)


async def _video(env: Env, person: Person) -> tuple[Issued, Recorded]:
    """/video (wan-2.5, 5 s: $0.50) and its answer: the quote."""
    issued = await env.slash(person, "video", options=[p.option("prompt", p.STRING, "waves")])
    return issued, await env.callback(issued)


async def _press(env: Env, person: Person, message: dict[str, Any], label: str) -> Issued:
    ids = env.fake.button_ids(message)
    custom_id = next(cid for name, cid in ids.items() if name.startswith(label))
    return await env.fake.send_interaction(env.fake.click(person, message, custom_id))


async def _level(env: Env, person: Person) -> Decimal:
    return (await env.bots[-1].app.engine.quota(_actor(env, person))).level


def _took(before: Decimal, after: Decimal, credits: int) -> bool:
    """`credits` were taken once between two reads (the bucket refills a little meanwhile)."""
    return before - credits <= after < before - credits + 1


async def test_a_job_above_the_threshold_shows_its_quote_and_takes_nothing(env: Env) -> None:
    await env.start_bot(settings=THRESHOLD)
    before = await _level(env, env.alice)

    issued, answer = await _video(env, env.alice)

    assert answer.json["type"] == 4
    data = answer.json["data"]
    assert data["flags"] & EPHEMERAL  # only the requester sees it
    content = data["content"]
    assert "**wan-2.5** will cost about **$0.50** (50 credits)" in content
    assert "You have 100 credits." in content
    assert "Nothing is taken until you confirm" in content
    assert "<t:" in content  # when it lapses, in the reader's own time
    labels = env.fake.button_ids(env.fake.original(issued))
    assert set(labels) == {"Confirm $0.50", "Cancel"}
    assert env.sim.submits == []
    assert _took(before, await _level(env, env.alice), 0)
    assert await env.bots[0].app.engine.jobs(_actor(env, env.alice)) == []


async def test_confirm_starts_the_job_and_takes_its_credits_once(env: Env) -> None:
    await env.start_bot(settings=THRESHOLD)
    issued, _ = await _video(env, env.alice)
    quote = copy.deepcopy(env.fake.original(issued))
    before = await _level(env, env.alice)

    confirm = await _press(env, env.alice, quote, "Confirm")

    callback = await env.callback(confirm)
    assert callback.json["type"] == 5  # a new, public message for the job
    assert not (callback.json.get("data") or {}).get("flags", 0) & EPHEMERAL
    final = await env.final_edit(confirm)
    assert final.files and final.files[0].filename.endswith(".mp4")
    assert [s[0] for s in env.sim.submits] == ["fal-ai/wan-25-preview/text-to-video"]
    assert _took(before, await _level(env, env.alice), 50)

    again = await _press(env, env.alice, quote, "Confirm")
    said = await env.callback(again)
    assert said.json["data"]["flags"] & EPHEMERAL
    assert "You already confirmed this quote" in said.json["data"]["content"]
    assert len(env.sim.submits) == 1
    assert len(await env.bots[0].app.engine.jobs(_actor(env, env.alice))) == 1
    assert _took(before, await _level(env, env.alice), 50)


async def test_two_racing_confirms_start_one_job(env: Env) -> None:
    await env.start_bot(settings=THRESHOLD)
    issued, _ = await _video(env, env.alice)
    quote = copy.deepcopy(env.fake.original(issued))
    before = await _level(env, env.alice)

    confirm = env.fake.button_ids(quote)["Confirm $0.50"]
    presses = [env.fake.click(env.alice, quote, confirm) for _ in range(2)]
    first, second = await asyncio.gather(*(env.fake.send_interaction(x) for x in presses))
    answers = [await env.callback(first), await env.callback(second)]

    kinds = sorted(a.json["type"] for a in answers)
    assert kinds == [4, 5]  # one starts the job; the other is told, privately
    started = first if answers[0].json["type"] == 5 else second
    await env.final_edit(started)
    refused = next(a for a in answers if a.json["type"] == 4)
    assert refused.json["data"]["flags"] & EPHEMERAL
    assert "already" in refused.json["data"]["content"]
    assert len(env.sim.submits) == 1
    assert len(await env.bots[0].app.engine.jobs(_actor(env, env.alice))) == 1
    assert _took(before, await _level(env, env.alice), 50)


async def test_cancel_takes_nothing_and_a_later_confirm_starts_nothing(env: Env) -> None:
    await env.start_bot(settings=THRESHOLD)
    issued, _ = await _video(env, env.alice)
    quote = copy.deepcopy(env.fake.original(issued))
    before = await _level(env, env.alice)

    cancel = await _press(env, env.alice, quote, "Cancel")

    answer = await env.callback(cancel)
    assert answer.json["type"] == 7  # the quote itself says it, without its buttons
    assert answer.json["data"]["content"] == (
        "Cancelled: wan-2.5 for $0.50 was not started, and nothing was taken."
    )
    assert env.fake.original(issued)["components"] == []
    late = await _press(env, env.alice, quote, "Confirm")
    said = await env.callback(late)
    assert "You cancelled this quote; nothing was taken." in said.json["data"]["content"]
    assert env.sim.submits == []
    assert _took(before, await _level(env, env.alice), 0)


async def test_a_quote_lapses_after_five_minutes_and_its_confirm_says_so(env: Env) -> None:
    clock = ShiftedClock()
    await env.start_bot(settings=THRESHOLD, clock=clock)
    issued, _ = await _video(env, env.alice)
    quote = copy.deepcopy(env.fake.original(issued))
    before = await _level(env, env.alice)

    clock.offset += timedelta(minutes=5, seconds=1)
    confirm = await _press(env, env.alice, quote, "Confirm")

    said = await env.callback(confirm)
    assert said.json["type"] == 4 and said.json["data"]["flags"] & EPHEMERAL
    content = said.json["data"]["content"]
    assert "This quote lapsed: quotes last 5 minutes, and nothing was taken." in content
    assert "Ask again for a new quote." in content
    assert env.sim.submits == []
    assert await _level(env, env.alice) >= before  # refilled a little, nothing taken


async def test_confirm_after_a_restart_starts_the_job(env: Env) -> None:
    bot = await env.start_bot(settings=THRESHOLD)
    issued, _ = await _video(env, env.alice)
    quote = copy.deepcopy(env.fake.original(issued))
    await env.stop_bot(bot)
    await env.start_bot(settings=THRESHOLD)

    confirm = await _press(env, env.alice, quote, "Confirm")

    final = await env.final_edit(confirm)
    assert final.files
    assert len(env.sim.submits) == 1


async def test_only_the_requester_can_answer_a_quote(env: Env) -> None:
    await env.start_bot(settings=THRESHOLD)
    issued, _ = await _video(env, env.alice)
    quote = copy.deepcopy(env.fake.original(issued))

    for label in ("Confirm", "Cancel"):
        press = await _press(env, env.bob, quote, label)
        said = await env.callback(press)
        assert said.json["data"]["flags"] & EPHEMERAL
        assert (
            "Only the person who asked for this quote can confirm or cancel it."
            in (said.json["data"]["content"])
        )
    assert env.sim.submits == []
    # still Alice's to confirm
    final = await env.final_edit(await _press(env, env.alice, quote, "Confirm"))
    assert final.files


async def test_confirm_runs_the_full_admission_again(env: Env) -> None:
    """Quota may change between the quote and Confirm: Confirm is refused, nothing taken."""
    bot = await env.start_bot(settings=THRESHOLD)
    issued, _ = await _video(env, env.alice)
    quote = copy.deepcopy(env.fake.original(issued))
    await bot.app.engine.store.set_banned(env.fake.guild_id, env.alice.id, True)

    said = await env.callback(await _press(env, env.alice, quote, "Confirm"))

    assert said.json["data"]["flags"] & EPHEMERAL
    assert "You are not allowed to use falbot here." in said.json["data"]["content"]
    assert env.sim.submits == []


async def test_admin_confirm_above_sets_the_workspaces_threshold(env: Env) -> None:
    await env.start_bot(settings=THRESHOLD)
    sub = p.subcommand("confirm-above", [p.option("usd", p.STRING, "0.02")])
    answer = await env.callback(await env.slash(env.mod, "admin", options=[sub]))
    assert answer.json["data"]["flags"] & EPHEMERAL
    assert answer.json["data"]["content"] == (
        "Jobs estimated above $0.02 show their price first and start only once their"
        " requester confirms."
    )

    options = [p.option("prompt", p.STRING, "a fox"), p.option("model", p.STRING, "flux-dev")]
    quoted = await env.callback(await env.slash(env.alice, "imagine", options=options))

    assert (
        quoted.json["type"] == 4
        and "**flux-dev** will cost about" in (quoted.json["data"]["content"])
    )
    assert env.sim.submits == []
