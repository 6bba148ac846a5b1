"""The line and the fal slots, as the dispatcher and admission use them.

`LocalLine` keeps both in this process (SQLite and the memory store: one process). `SharedLine`
keeps them in a store every process shares (`LineStore`, PostgreSQL): the next job is claimed
there, fairly across users, only while fewer than `limit` jobs are at fal across every
process; a job entering the line or a slot freeing anywhere wakes the waiting processes
(`wake`, called on the store's notifications), and a slow poll covers a lost notification.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from core.errors import BotError, ErrorCode
from core.jobs import Job
from core.ports import Clock, LineStore
from core.scheduler import FairLine, Slots

log = logging.getLogger(__name__)

MAX_CLAIM_BURST = 4  # claims one process tries at once, each on a connection of its own


def line_key(job: Job) -> str:
    """Whose turn a job waits for in the fair line: its user's, within its workspace."""
    return f"{job.workspace_id}/{job.user_id}"


class Line(Protocol):
    limit: int
    shared: bool  # with other processes: a job may be claimed by any of them

    def __len__(self) -> int:
        """Jobs waiting (a shared line: in every process, as last seen)."""
        ...

    @property
    def at_fal(self) -> int:
        """Jobs this process holds a fal slot for."""
        ...

    def reserve(self, *, retry_after: float) -> None:
        """Hold a place for a job being admitted, or raise `busy` when the line is full."""
        ...

    def unreserve(self) -> None: ...

    async def put(self, job: Job, *, reserved: bool = True) -> None:
        """An admitted job waits for its turn (in the place it reserved, with `reserved`)."""
        ...

    async def remove(self, job: Job) -> bool:
        """Take a waiting job out (to cancel it); False when it is not waiting any more."""
        ...

    async def acquire_slot(self) -> None:
        """Before `get`: wait for a free slot here (a shared line checks slots in `get`)."""
        ...

    async def release_slot(self) -> None:
        """Give back the slot `acquire_slot` took, when no job came to use it."""
        ...

    async def get(self) -> str:
        """The next job's id, holding a fal slot, once there is one."""
        ...

    async def free(self, job_id: str) -> None:
        """fal is done with the job: its slot goes to the next one (called once per job)."""
        ...

    def resumed(self, job_id: str) -> None:
        """A job already at fal, picked up again, holds a slot (even past the limit)."""
        ...

    def forget(self, job_id: str) -> None:
        """The job is another process's now: its slot is not this one's to free."""
        ...

    async def order(self, limit: int) -> Sequence[str]:
        """The first `limit` waiting jobs, in the order they will be served."""
        ...


class LocalLine:
    """The line and the slots in this process's memory."""

    def __init__(self, *, max_waiting: int, limit: int) -> None:
        self._line = FairLine(max_waiting)
        self._slots = Slots(limit)
        self._idle = False  # a slot taken while the line is empty: not at fal yet
        self.limit = limit
        self.shared = False

    def __len__(self) -> int:
        return len(self._line)

    @property
    def at_fal(self) -> int:
        return self._slots.in_use - (1 if self._idle else 0)

    def reserve(self, *, retry_after: float) -> None:
        self._line.reserve(retry_after=retry_after)

    def unreserve(self) -> None:
        self._line.unreserve()

    async def put(self, job: Job, *, reserved: bool = True) -> None:
        self._line.put(line_key(job), job.id, reserved=reserved)

    async def remove(self, job: Job) -> bool:
        return self._line.remove(job.id)

    async def acquire_slot(self) -> None:
        await self._slots.acquire()
        self._idle = True

    async def release_slot(self) -> None:
        self._idle = False
        await self._slots.release()

    async def get(self) -> str:
        job_id = await self._line.get()
        self._idle = False
        return job_id

    async def free(self, job_id: str) -> None:
        await self._slots.release()

    def resumed(self, job_id: str) -> None:
        self._slots.take_now()

    def forget(self, job_id: str) -> None:
        """Never happens in one process (nobody else takes its jobs)."""

    async def order(self, limit: int) -> Sequence[str]:
        return list(self._line.order())[:limit]


class SharedLine:
    """The line and the slots in a store every process shares."""

    def __init__(
        self,
        store: LineStore,
        *,
        max_waiting: int,
        limit: int,
        clock: Clock,
        poll: float = 2.0,
    ) -> None:
        self._store = store
        self._max_waiting = max_waiting
        self._clock = clock
        self._poll = poll
        self._waiting = 0  # in every process, as last read
        self._reserved = 0
        self._held: set[str] = set()
        self._wake = asyncio.Event()
        self._woken_at: float | None = None
        self._burst = 1  # claims tried at once (see `_claim_round`)
        self._claimed_ids: deque[str] = deque()  # claimed in a round, not handed out yet
        self.limit = limit
        self.shared = True
        self.claimed = 0
        self.claim_latencies: list[float] = []  # seconds from a wake-up to the claim it led to
        # Called on each claim with its latency (None when it followed no wake-up: the poll).
        self.on_claim: Callable[[float | None], None] | None = None

    def __len__(self) -> int:
        return self._waiting

    @property
    def at_fal(self) -> int:
        return len(self._held)

    def wake(self) -> None:
        """A job entered the line or a slot freed somewhere: try to claim now."""
        if self._woken_at is None:
            self._woken_at = self._clock.monotonic()
        self._wake.set()

    def reserve(self, *, retry_after: float) -> None:
        if self._waiting + self._reserved >= self._max_waiting:
            raise BotError(
                ErrorCode.BUSY,
                f"falbot is busy: {self._waiting} jobs are waiting.",
                retry_after=retry_after,
            )
        self._reserved += 1

    def unreserve(self) -> None:
        self._reserved = max(0, self._reserved - 1)

    async def put(self, job: Job, *, reserved: bool = True) -> None:
        if reserved:
            self.unreserve()
        await self._store.enter_line(job.id)
        self._waiting += 1

    async def remove(self, job: Job) -> bool:
        return await self._store.take_waiting(job.id)

    async def acquire_slot(self) -> None:
        """Slots are counted by the store, in the claim itself."""

    async def release_slot(self) -> None:
        """Nothing was taken by `acquire_slot`."""

    async def get(self) -> str:
        while not self._claimed_ids:
            self._wake.clear()
            if await self._claim_round():
                break
            self._woken_at = None
            await self._wait_for_wake()
        return self._claimed_ids.popleft()

    async def _claim_round(self) -> int:
        """Claim up to `_burst` jobs at once, each in a statement of its own: slots freed
        together (jobs sent to fal together end together) are taken in a few round trips, not
        one after another. The burst doubles while every claim of a round succeeds, and is
        back to one after a claim that finds nothing. How many were claimed."""
        results = await asyncio.gather(*(self._claim_one() for _ in range(self._burst)))
        claimed = [job_id for job_id in results if job_id is not None]
        full = len(claimed) == self._burst
        self._burst = min(2 * self._burst, MAX_CLAIM_BURST) if full else 1
        latency = None if self._woken_at is None else self._clock.monotonic() - self._woken_at
        for job_id in claimed:
            self._held.add(job_id)
            self._claimed_ids.append(job_id)
            self._claimed(latency)
        if claimed:
            self._woken_at = None
        return len(claimed)

    async def _claim_one(self) -> str | None:
        try:
            return await self._store.claim_next(limit=self.limit)
        except Exception:
            log.warning("claiming the next job failed; trying again shortly", exc_info=True)
            return None

    def _claimed(self, latency: float | None) -> None:
        self.claimed += 1
        if latency is not None:
            self.claim_latencies.append(latency)
            del self.claim_latencies[:-1000]
        if self.on_claim is not None:
            self.on_claim(latency)

    async def _wait_for_wake(self) -> None:
        timer = asyncio.ensure_future(self._clock.sleep(self._poll))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({timer, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (timer, woken):
                task.cancel()
            await asyncio.gather(timer, woken, return_exceptions=True)

    async def free(self, job_id: str) -> None:
        self._held.discard(job_id)
        try:
            await self._store.free_slot(job_id)
        except Exception:  # writing the job completed (or ended) frees it in the store too
            log.warning("freeing the slot of job %s failed", job_id[:8], exc_info=True)
        self.wake()  # this process may claim the slot it just gave back

    def resumed(self, job_id: str) -> None:
        self._held.add(job_id)

    def forget(self, job_id: str) -> None:
        self._held.discard(job_id)

    async def order(self, limit: int) -> Sequence[str]:
        ids, self._waiting = await self._store.waiting_line(limit=limit)
        return ids
