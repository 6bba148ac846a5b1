"""`SharedLine` claims in bursts: after a claim that found a job it tries two at once, then
four, handing the extra ones out on the next `get`; a claim that finds nothing brings it back
to one at a time."""

from __future__ import annotations

import asyncio

from core.line import MAX_CLAIM_BURST, SharedLine
from tests.fakes.clock import FakeClock


class CountingLineStore:
    """Only what `get` uses: a line of job ids, and how many claims ran at once."""

    def __init__(self, waiting: int) -> None:
        self.waiting = [f"job-{n}" for n in range(waiting)]
        self.calls = 0
        self.running = 0
        self.most_at_once = 0

    async def claim_next(self, *, limit: int) -> str | None:
        self.calls += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0)  # every claim of a round is in flight together
        self.running -= 1
        return self.waiting.pop(0) if self.waiting else None


async def test_claims_come_in_growing_bursts_and_back_to_one_when_the_line_is_empty() -> None:
    store = CountingLineStore(waiting=7)
    line = SharedLine(store, max_waiting=100, limit=100, clock=FakeClock())  # type: ignore[arg-type]

    got = [await line.get() for _ in range(7)]

    assert got == [f"job-{n}" for n in range(7)]  # in the line's order
    # Rounds of 1, 2 and 4 claims: seven jobs in three round trips, the last round at once.
    assert store.calls == 7 and store.most_at_once == MAX_CLAIM_BURST == 4
    assert line.claimed == 7 and line.at_fal == 7

    getting = asyncio.ensure_future(line.get())  # the next round finds nothing...
    await asyncio.sleep(0.01)
    assert store.calls == 7 + MAX_CLAIM_BURST and not getting.done()
    store.waiting.append("job-7")
    line.wake()  # ...and after it one claim is tried, not four
    assert await asyncio.wait_for(getting, 5) == "job-7"
    assert store.calls == 7 + MAX_CLAIM_BURST + 1
