"""The circuit breaker on fal, through the engine on fakes: it opens after repeated provider
failures, refuses new jobs without taking credits, holds waiting jobs back, a probe closes it."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.circuit import CircuitBreaker, CircuitState
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import JobState
from core.quota import BucketKey, BucketLimits
from tests.fakes.asking import submit
from tests.fakes.clock import START, FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import EngineFactory, request

DOWN = BotError(ErrorCode.PROVIDER_UNAVAILABLE, "fal answered 503")


async def alice_level(store: MemoryStore) -> Decimal:
    limits = BucketLimits(Decimal(100), Decimal(0))
    return (await store.bucket(BucketKey("w1", "alice"), limits, START)).level


async def open_the_circuit(engine: Engine, fal: FakeFal, failures: int = 5) -> None:
    fal.submit_error = DOWN
    for _ in range(failures):
        reply = RecordingReply()
        await submit(engine, request(), reply)
        await reply.wait()
        assert reply.error is not None and reply.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert engine.circuit_state == "open"


async def test_repeated_provider_failures_open_the_circuit_and_new_jobs_are_refused_for_free(
    make_engine: EngineFactory, fal: FakeFal, store: MemoryStore
) -> None:
    engine = await make_engine(progress_interval=0, circuit_threshold=5, circuit_cooldown=30)
    await open_the_circuit(engine, fal)
    jobs_before, level_before = len(store.jobs), await alice_level(store)

    with pytest.raises(BotError) as refused:
        await submit(engine, request(prompt="one more"), RecordingReply())

    assert refused.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert refused.value.retry_after == 30.0
    assert "No credits were taken" in refused.value.hint
    assert len(store.jobs) == jobs_before  # no job row
    assert await alice_level(store) == level_before == Decimal(100)  # every credit back
    assert fal.submit_calls == 5


async def test_four_failures_leave_it_closed_and_a_refused_input_is_not_a_provider_failure(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    engine = await make_engine(progress_interval=0, circuit_threshold=5)
    fal.submit_error = DOWN
    for _ in range(4):
        reply = RecordingReply()
        await submit(engine, request(), reply)
        await reply.wait()
    fal.submit_error = BotError(ErrorCode.PROVIDER_REJECTED, "422: prompt refused")
    for _ in range(3):
        reply = RecordingReply()
        await submit(engine, request(), reply)
        await reply.wait()
        assert reply.error is not None and reply.error.code is ErrorCode.PROVIDER_REJECTED
    assert engine.circuit_state == "closed"  # fal answered: the count started again
    fal.submit_error = DOWN
    reply = RecordingReply()
    await submit(engine, request(), reply)
    await reply.wait()
    assert engine.circuit_state == "closed"


async def test_waiting_jobs_are_held_while_open_and_one_probe_closes_it(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock
) -> None:
    engine = await make_engine(
        progress_interval=0, max_concurrency=1, circuit_threshold=5, circuit_cooldown=30
    )
    fal.submit_gate = asyncio.Event()
    fal.submit_error = DOWN
    replies = [RecordingReply() for _ in range(7)]
    for n, reply in enumerate(replies):
        await submit(engine, request(prompt=f"job {n}"), reply)
    fal.submit_gate.set()
    for reply in replies[:5]:
        await reply.wait()
    assert engine.circuit_state == "open"
    await clock.wait_for_sleepers(1)  # the dispatcher waits out the cool-down
    assert fal.submit_calls == 5  # the two waiting jobs were not sent to a failing fal
    assert not replies[5].ended.is_set() and not replies[6].ended.is_set()

    fal.submit_error = None  # fal is back
    await clock.advance(29)
    assert fal.submit_calls == 5
    await clock.advance(1)
    await replies[5].wait()
    await replies[6].wait()

    assert replies[5].delivery is not None and replies[6].delivery is not None
    assert engine.circuit_state == "closed"
    assert fal.submit_calls == 7


async def test_a_failed_probe_opens_it_again_for_twice_as_long(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock
) -> None:
    engine = await make_engine(
        progress_interval=0, max_concurrency=1, circuit_threshold=2, circuit_cooldown=10
    )
    await open_the_circuit(engine, fal, failures=2)
    await clock.wait_for_sleepers(1)
    await clock.advance(10)
    assert engine.circuit_state == "half_open"

    probe = RecordingReply()
    await submit(engine, request(prompt="the probe"), probe)  # half-open: admitted
    await probe.wait()
    assert probe.error is not None and probe.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert probe.credits_returned is True
    assert engine.circuit_state == "open"
    with pytest.raises(BotError) as refused:
        await submit(engine, request(), RecordingReply())
    assert refused.value.retry_after == 20.0


async def test_failures_at_the_result_count_too(
    make_engine: EngineFactory, fal: FakeFal, store: MemoryStore
) -> None:
    engine = await make_engine(progress_interval=0, circuit_threshold=3)
    fal.result_error = BotError(ErrorCode.TIMEOUT, "fal timed out")
    for _ in range(3):
        reply = RecordingReply()
        job = await submit(engine, request(), reply)
        await reply.wait()
        stored = await store.get_job(job.id)
        assert stored is not None and stored.state is JobState.FAILED
    assert engine.circuit_state == "open"


def test_breaker_states_follow_the_clock() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock, threshold=1, cooldown=5, max_cooldown=8)
    assert breaker.state is CircuitState.CLOSED and breaker.retry_after == 0
    breaker.observe(DOWN)
    assert breaker.state is CircuitState.OPEN and breaker.retry_after == 5
    breaker.observe(None)  # a late answer while open does not close it early
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(ValueError):
        CircuitBreaker(clock=clock, threshold=0)
