"""The waiting line (fair across users, bounded) and the slots at fal."""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict, deque
from collections.abc import Iterator

from core.errors import BotError, ErrorCode


class FairLine:
    """Jobs waiting for a slot, served round-robin across users rather than first-come.

    A place is reserved before admission so that the bound holds across awaits.
    """

    def __init__(self, max_waiting: int) -> None:
        self._max = max_waiting
        self._by_user: OrderedDict[str, deque[str]] = OrderedDict()
        self._size = 0
        self._reserved = 0
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return self._size

    @property
    def full(self) -> bool:
        return self._size + self._reserved >= self._max

    def reserve(self, *, retry_after: float) -> None:
        if self.full:
            raise BotError(
                ErrorCode.BUSY,
                f"falbot is busy: {self._size} jobs are waiting.",
                retry_after=retry_after,
            )
        self._reserved += 1

    def unreserve(self) -> None:
        self._reserved = max(0, self._reserved - 1)

    def put(self, user_key: str, job_id: str, *, reserved: bool = True) -> None:
        """Add a job; with `reserved` it takes a place reserved before (restarts take none)."""
        if reserved:
            self.unreserve()
        self._by_user.setdefault(user_key, deque()).append(job_id)
        self._size += 1
        self._ready.set()

    def remove(self, job_id: str) -> bool:
        for user, jobs in self._by_user.items():
            if job_id in jobs:
                jobs.remove(job_id)
                self._size -= 1
                if not jobs:
                    del self._by_user[user]
                return True
        return False

    async def get(self) -> str:
        """The next job: the first user in the ring gives one and goes to the back."""
        while not self._size:
            self._ready.clear()
            await self._ready.wait()
        user, jobs = next(iter(self._by_user.items()))
        job_id = jobs.popleft()
        self._size -= 1
        if jobs:
            self._by_user.move_to_end(user)
        else:
            del self._by_user[user]
        return job_id

    def order(self) -> Iterator[str]:
        """Job ids in the order they will be served."""
        queues = [list(q) for q in self._by_user.values()]
        for depth in range(max((len(q) for q in queues), default=0)):
            for q in queues:
                if depth < len(q):
                    yield q[depth]


class Slots:
    """At most `limit` jobs at fal at once. Jobs found at fal after a restart are counted even
    past the limit (they are there already); new ones then wait."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_use < self.limit)
            self.in_use += 1

    def take_now(self) -> None:
        self.in_use += 1

    async def release(self) -> None:
        async with self._changed:
            self.in_use -= 1
            self._changed.notify()


def wait_estimate(waiting: int, *, slots: int, mean_job_s: float) -> float:
    """Seconds until a new job would start, roughly: whole rounds of the line through the slots."""
    return float(max(1, math.ceil((waiting / max(1, slots) + 1) * mean_job_s)))
