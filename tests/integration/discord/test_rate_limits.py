"""A 429 on a progress edit never loses the result; a 429 on the final edit is retried; a
refusal for good is not."""

from __future__ import annotations

import asyncio

from bot.clock import SystemClock
from core.jobs import Actor, JobState
from tests.fakes.clock import FakeClock
from tests.fakes.discord import Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import Env, png


def _progress_edit(r: Recorded) -> bool:
    return r.method == "PATCH" and r.path.startswith("/webhooks/") and not r.files


def _final_edit(r: Recorded) -> bool:
    return r.method == "PATCH" and r.path.startswith("/webhooks/") and bool(r.files)


async def test_429s_on_progress_edits_do_not_lose_the_result(env: Env) -> None:
    await env.start_bot()
    env.sim.hold = True
    # Every progress edit is refused; without `Via` discord.py hands the 429 to falbot.
    limited = env.fake.rate_limit(_progress_edit, times=1000, retry_after=0.05, via=False)

    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "x")])
    await env.fake.wait_for(lambda r: _progress_edit(r) and r.status == 429)
    await env.release_when_running()

    final = await env.final_edit(issued)
    assert limited.hits, "no progress edit was rate limited"
    assert all(r.status == 429 for r in env.fake.requests if _progress_edit(r))
    assert len(final.files) == 1 and final.files[0].data.startswith(b"\x89PNG")
    assert env.fake.original(issued)["attachments"]


async def test_discord_py_retries_429s_that_come_through_discords_proxy(env: Env) -> None:
    await env.start_bot()
    env.sim.hold = True
    limited = env.fake.rate_limit(_progress_edit, times=2, retry_after=0.05, via=True)

    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "x")])
    shown = await env.fake.wait_for(lambda r: _progress_edit(r) and r.status == 200)
    await env.release_when_running()

    await env.final_edit(issued)
    assert len(limited.hits) == 2
    assert shown.at > limited.hits[-1].at  # the same edit, retried after the limit


async def test_a_429_on_the_final_edit_is_retried_until_it_lands(env: Env) -> None:
    await env.start_bot()
    limited = env.fake.rate_limit(_final_edit, times=2, retry_after=0.05, via=False)

    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "x")])

    final = await env.final_edit(issued)
    assert len(limited.hits) == 2
    assert final.status == 200 and len(final.files) == 1


async def test_a_result_discord_refuses_for_good_is_not_tried_again(env: Env) -> None:
    """A channel message Discord refuses with 403 (the bot lost access) is not retried: core
    gives up at once instead of trying eight times, and the job stays completed for the next
    start. The engine's clock moves only here, ten minutes of it, and no second try comes."""
    clock = FakeClock()
    await env.start_bot(clock=clock, adapter_clock=SystemClock())
    channel_edit = "PATCH /channels/{channel}/messages/{message}"

    def refused(r: Recorded) -> int | None:
        return 403 if r.route == channel_edit and r.files else None

    env.fake.outage = refused
    image = env.fake.host_file("cat.png", png(color="red"), "image/png")
    await env.fake.post_message(env.alice, "add a hat", mention_bot=True, attachments=[image])
    await env.fake.wait_for(lambda r: r.route == channel_edit and r.status == 403, timeout=10)
    for _ in range(60):
        await asyncio.sleep(0.01)  # a retry would be on the engine's clock
        await clock.advance(10)
    tries = [r for r in env.fake.requests if r.route == channel_edit and r.files]
    assert [r.status for r in tries] == [403]
    (job,) = await env.bots[0].app.engine.jobs(
        Actor("discord", env.fake.guild_id, env.alice.id), limit=5
    )
    assert job.state is JobState.COMPLETED
