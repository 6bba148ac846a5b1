"""Never more than one progress edit of a job's message per progress interval: with the engine
on a clock that moves only when the test says, progress edits happen only when it moves, one per
interval; the result is not held by that interval."""

from __future__ import annotations

from bot.clock import SystemClock
from tests.fakes.clock import FakeClock
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import Env

INTERVAL = 1.5


async def test_one_edit_per_progress_interval(env: Env) -> None:
    clock = FakeClock()
    await env.start_bot(
        clock=clock,
        adapter_clock=SystemClock(),  # the interaction token's age is real time
        settings={"FALBOT_PROGRESS_INTERVAL": INTERVAL},
    )
    env.sim.hold_queue = True
    env.sim.hold = True

    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "x")])
    await env.fake.wait_for(lambda r: r.method == "PATCH" and issued.token in r.path)
    seen = 1

    async def one_more_edit_per_interval() -> str:
        """The throttle is waiting its turn: nothing is edited until the clock moves one
        interval, and then exactly one edit happens."""
        nonlocal seen
        await clock.wait_for_sleepers(1)
        assert len(env.edits(issued)) == seen
        mark = env.fake.mark()
        await clock.advance(INTERVAL)
        edit = await env.fake.wait_for(
            lambda r: r.method == "PATCH" and issued.token in r.path, after=mark
        )
        seen += 1
        return str(edit.json["content"])

    await env.sim.wait_for(lambda: any(r.state == "IN_QUEUE" for r in env.sim.requests.values()))
    assert "submitted to fal" in await one_more_edit_per_interval()
    env.sim.admit()
    await env.sim.wait_for(lambda: all(r.logs for r in env.sim.requests.values()))
    content = await one_more_edit_per_interval()
    if "running" not in content:  # the running status came after that edit's turn
        content = await one_more_edit_per_interval()
    assert "running" in content
    # The result is not throttled: it replaces the last progress edit without the clock moving.
    released_at = clock.monotonic()
    env.sim.release()
    final = await env.final_edit(issued)
    assert clock.monotonic() == released_at
    assert "-# flux-schnell · $" in str(final.json["content"])
    assert env.edits(issued)[-1] is final and len(env.edits(issued)) == seen + 1
    assert len(final.files) == 1 and final.json["components"]
