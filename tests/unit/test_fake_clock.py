"""The fake clock other tests lean on: time moves only through `advance`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.clock import START, FakeClock


async def _cancel(task: asyncio.Task[object]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_now_is_aware_utc_and_moves_with_monotonic() -> None:
    clock = FakeClock()
    assert clock.now() == START == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)
    before = clock.monotonic()

    await clock.advance(90.5)

    assert clock.monotonic() - before == 90.5
    assert clock.now() == START + timedelta(seconds=90.5)


def test_start_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        FakeClock(datetime(2026, 1, 1))  # noqa: DTZ001


async def test_sleep_waits_until_time_reaches_its_deadline() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5))
    await clock.wait_for_sleepers(1)

    await clock.advance(4.9)
    assert not task.done()
    assert clock.sleepers == 1

    await clock.advance(0.1)
    assert task.done()
    assert clock.sleepers == 0
    await task


async def test_sleepers_wake_in_deadline_order_each_at_its_deadline() -> None:
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(nap(n, s)) for n, s in (("c", 3), ("a", 1), ("b", 2))]
    await clock.wait_for_sleepers(3)

    await clock.advance(10)

    assert woke == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock.monotonic() == 10.0
    await asyncio.gather(*tasks)


async def test_advance_returns_after_the_woken_sleeper_ran() -> None:
    clock = FakeClock()
    ran = asyncio.Event()

    async def nap() -> None:
        await clock.sleep(1)
        ran.set()

    task = asyncio.create_task(nap())
    await clock.wait_for_sleepers(1)
    await clock.advance(1)
    assert ran.is_set()  # no extra yield needed after advance
    await task


async def test_a_loop_of_sleeps_runs_every_tick_within_one_advance() -> None:
    clock = FakeClock()
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            await clock.sleep(2)
            ticks.append(clock.monotonic())

    task = asyncio.create_task(ticker())
    await clock.wait_for_sleepers(1)
    await clock.advance(7)
    assert ticks == [2.0, 4.0, 6.0]
    assert clock.sleepers == 1
    await _cancel(task)


async def test_zero_and_negative_sleeps_return_at_once() -> None:
    clock = FakeClock()
    await asyncio.wait_for(clock.sleep(0), timeout=1)
    await asyncio.wait_for(clock.sleep(-3), timeout=1)
    assert clock.sleepers == 0
    assert clock.monotonic() == 0.0


async def test_a_cancelled_sleeper_is_forgotten() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5))
    await clock.wait_for_sleepers(1)
    await _cancel(task)
    assert clock.sleepers == 0
    await clock.advance(10)  # nothing left to wake; must not hang or raise


async def test_wait_for_sleepers_waits_for_the_count_and_times_out() -> None:
    clock = FakeClock()
    waiting = asyncio.create_task(clock.wait_for_sleepers(2))
    first = asyncio.create_task(clock.sleep(1))
    await clock.wait_for_sleepers(1)
    assert not waiting.done()
    second = asyncio.create_task(clock.sleep(1))
    await asyncio.wait_for(waiting, timeout=5)
    assert clock.sleepers == 2

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(clock.wait_for_sleepers(3), timeout=0.01)

    await clock.advance(1)
    await asyncio.gather(first, second)


async def test_time_never_goes_back() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="forward"):
        await clock.advance(-1)
