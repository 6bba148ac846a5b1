"""`SharedLine` and `Leases` on a hand-written `LineStore`: what they do when the store answers,
refuses, or fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from core.errors import BotError, ErrorCode
from core.jobs import Job
from core.leases import Leases
from core.line import SharedLine
from tests.fakes.builders import make_job
from tests.fakes.clock import FakeClock


class FakeLineStore:
    instance = "here"
    asked_own = False  # whether take_over was asked for this name's own jobs too

    def __init__(self) -> None:
        self.waiting: list[str] = []
        self.slots = 0
        self.freed: list[str] = []
        self.fail_claims = 0
        self.fail_renewals = False
        self.renewals = 0
        self.to_take: list[Job] = []

    async def claim_next(self, *, limit: int) -> str | None:
        if self.fail_claims:
            self.fail_claims -= 1
            raise OSError("connection lost")
        if self.slots >= limit or not self.waiting:
            return None
        self.slots += 1
        return self.waiting.pop(0)

    async def enter_line(self, job_id: str) -> None:
        self.waiting.append(job_id)

    async def take_waiting(self, job_id: str) -> bool:
        if job_id in self.waiting:
            self.waiting.remove(job_id)
            return True
        return False

    async def free_slot(self, job_id: str) -> None:
        self.slots -= 1
        self.freed.append(job_id)

    async def waiting_line(self, *, limit: int) -> tuple[list[str], int]:
        return self.waiting[:limit], len(self.waiting)

    async def renew_leases(self) -> int:
        if self.fail_renewals:
            raise OSError("connection lost")
        self.renewals += 1
        return 0

    async def release_leases(self) -> int:
        return 0

    async def take_over(
        self, platforms: Sequence[str], *, limit: int = 100, own: bool = False
    ) -> list[Job]:
        self.asked_own = self.asked_own or own
        taken, self.to_take = self.to_take[:limit], self.to_take[limit:]
        return taken

    async def save_outcome(self, request_id: str, outcome: Mapping[str, Any]) -> None:
        return None

    async def outcome(self, request_id: str) -> Mapping[str, Any] | None:
        return None

    async def listen(self, *, line: Callable[[], None], outcome: Callable[[str], None]) -> None:
        return None

    async def unlisten(self) -> None:
        return None

    @property
    def listening(self) -> bool:
        return False


def line_on(store: FakeLineStore, clock: FakeClock, *, max_waiting: int = 10) -> SharedLine:
    return SharedLine(store, max_waiting=max_waiting, limit=2, clock=clock, poll=2.0)


async def test_a_full_shared_line_refuses_with_busy_counting_places_reserved() -> None:
    store, clock = FakeLineStore(), FakeClock()
    line = line_on(store, clock, max_waiting=2)
    line.reserve(retry_after=5)
    await line.put(make_job(id="a"))  # in its reserved place
    line.reserve(retry_after=5)
    with pytest.raises(BotError) as refused:
        line.reserve(retry_after=5)
    assert refused.value.code is ErrorCode.BUSY
    line.unreserve()
    line.reserve(retry_after=5)


async def test_a_claim_waits_for_a_wake_up_and_records_how_long_it_took() -> None:
    store, clock = FakeLineStore(), FakeClock()
    line = line_on(store, clock)
    claims: list[float | None] = []
    line.on_claim = claims.append
    getting = asyncio.ensure_future(line.get())
    await clock.wait_for_sleepers(1)  # nothing waits: it sleeps on its poll
    store.waiting.append("job-1")
    line.wake()  # a job entered the line in another process
    assert await asyncio.wait_for(getting, 5) == "job-1"
    assert line.at_fal == 1 and claims == [0.0]  # the fake clock did not move
    await line.free("job-1")
    assert store.freed == ["job-1"] and line.at_fal == 0


async def test_a_failing_store_is_retried_on_the_poll_and_a_lost_wake_up_only_waits_for_it() -> (
    None
):
    store, clock = FakeLineStore(), FakeClock()
    line = line_on(store, clock)
    store.fail_claims = 1
    store.waiting.append("job-1")
    getting = asyncio.ensure_future(line.get())
    await clock.wait_for_sleepers(1)  # the failed claim is logged, then the poll waits
    assert not getting.done()
    await clock.advance(2.0)
    assert await asyncio.wait_for(getting, 5) == "job-1"
    assert line.claimed == 1


async def test_leases_held_while_renewed_and_lapsed_when_the_store_is_gone() -> None:
    store, clock = FakeLineStore(), FakeClock()
    resumed: list[str] = []

    async def resume(job: Job) -> None:
        resumed.append(job.id)

    leases = Leases(store, clock=clock, lease=3.0, platforms=lambda: ["console"], resume=resume)
    running = asyncio.ensure_future(leases.run())
    try:
        await clock.wait_for_sleepers(1)
        assert store.renewals == 1 and leases.held()
        store.to_take = [make_job(id="orphan")]
        await clock.advance(1.0)
        assert resumed == ["orphan"] and leases.taken_over == 1
        store.fail_renewals = True
        for _ in range(3):
            await clock.advance(1.0)
        assert not leases.held()  # /healthz then answers 503
        store.fail_renewals = False
        for _ in range(3):
            await clock.advance(1.0)
        assert leases.held()
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_restarted_process_reclaims_every_job_left_under_its_name_before_running() -> None:
    store, clock = FakeLineStore(), FakeClock()
    resumed: list[str] = []

    async def resume(job: Job) -> None:
        resumed.append(job.id)

    leases = Leases(store, clock=clock, lease=3.0, platforms=lambda: ["console"], resume=resume)
    store.to_take = [make_job(id=f"left-{n}") for n in range(150)]  # more than one batch
    assert await leases.reclaim() == 150
    assert store.asked_own and resumed == [f"left-{n}" for n in range(150)]
