"""A `Clock` whose time moves only when a test says so."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

# How many times `advance` yields after each wake-up, so work the woken task set off (a queue
# put, an event set) gets its turn too. Anything longer should be awaited as the event it is.
_FOLLOW_UP_YIELDS = 5
_WAIT_LIMIT_S = 5.0


@dataclass(order=True)
class _Sleeper:
    deadline: float
    seq: int
    wake: asyncio.Future[None] = field(compare=False)
    resumed: asyncio.Future[None] = field(compare=False)


class FakeClock:
    """`monotonic()` and `now()` move together, only through `advance`; `sleep` waits for it."""

    def __init__(self, start: datetime = START) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a time-zone-aware start")
        self._start = start.astimezone(UTC)
        self._elapsed = 0.0
        self._heap: list[_Sleeper] = []
        self._seq = itertools.count()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    @property
    def sleepers(self) -> int:
        """How many tasks are asleep on this clock right now."""
        return sum(1 for s in self._heap if not s.wake.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        sleeper = _Sleeper(
            self._elapsed + seconds, next(self._seq), loop.create_future(), loop.create_future()
        )
        heapq.heappush(self._heap, sleeper)
        self._notify()
        try:
            await sleeper.wake
        finally:
            if sleeper in self._heap:  # cancelled before its time: forget it
                self._heap.remove(sleeper)
                heapq.heapify(self._heap)
            if not sleeper.resumed.done():
                sleeper.resumed.set_result(None)

    async def advance(self, seconds: float) -> None:
        """Move time on by `seconds`, waking due sleepers in deadline order, each at its own
        deadline, and return once every woken sleeper has run up to its next await."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        target = self._elapsed + seconds
        while self._heap and self._heap[0].deadline <= target:
            sleeper = heapq.heappop(self._heap)
            if sleeper.wake.done():  # cancelled while waiting its turn
                continue
            self._elapsed = max(self._elapsed, sleeper.deadline)
            sleeper.wake.set_result(None)
            await sleeper.resumed
            for _ in range(_FOLLOW_UP_YIELDS):
                await asyncio.sleep(0)
        self._elapsed = target
        await asyncio.sleep(0)

    async def wait_for_sleepers(self, count: int) -> None:
        """Wait until at least `count` tasks are asleep on this clock (at most 5 s, real time:
        wrap it in `asyncio.wait_for` for a shorter bound)."""
        if self.sleepers >= count:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((count, waiter))
        try:
            await asyncio.wait_for(waiter, _WAIT_LIMIT_S)
        finally:
            self._waiters = [(n, w) for n, w in self._waiters if w is not waiter]

    def _notify(self) -> None:
        asleep = self.sleepers
        for count, waiter in self._waiters:
            if asleep >= count and not waiter.done():
                waiter.set_result(None)
