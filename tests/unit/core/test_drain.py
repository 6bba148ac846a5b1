"""Graceful stop (`Engine.drain`) on fakes: new jobs are refused with `busy`, nothing more goes
to fal, a submit caught half-way gets to save its request id, and the next start resumes."""

from __future__ import annotations

import asyncio

import pytest

from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import JobState
from core.model_table import build_catalog
from tests.fakes.asking import submit
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.unit.core.conftest import config, request
from tests.waits import until


def build(store: MemoryStore, fal: FakeFal, clock: FakeClock, **overrides: object) -> Engine:
    engine = Engine(
        store=store,
        fal=fal,
        clock=clock,
        catalog=build_catalog(),
        config=config(progress_interval=0, **overrides),
    )
    engine.add_reply_factory(RecordingReplyFactory())
    return engine


async def test_drain_refuses_new_jobs_lets_a_submit_save_its_request_id_and_the_next_start_resumes(
    store: MemoryStore, fal: FakeFal, clock: FakeClock
) -> None:
    fal.auto_finish = False
    fal.submit_gate = asyncio.Event()
    first = build(store, fal, clock, max_concurrency=1)
    await first.start()
    sending = await submit(first, request(prompt="caught mid-submit"), RecordingReply())
    waiting = await submit(first, request(prompt="still in the line"), RecordingReply())
    await until(lambda: fal.submit_calls == 1)

    draining = asyncio.create_task(first.drain(grace=5))
    await until(lambda: not first.accepting)
    with pytest.raises(BotError) as refused:
        await submit(first, request(prompt="too late"), RecordingReply())
    assert refused.value.code is ErrorCode.BUSY and refused.value.retry_after
    assert not draining.done()  # it waits for the submit in flight
    fal.submit_gate.set()
    assert await draining is True

    mid = await store.get_job(sending.id)
    assert mid is not None and mid.state.at_fal and mid.request_id == "req-1"
    line = await store.get_job(waiting.id)
    assert line is not None and line.state is JobState.QUEUED  # never sent during the drain
    assert fal.submit_calls == 1
    assert len(store.jobs) == 2  # the refused job left nothing

    second = build(store, fal, clock, max_concurrency=1)
    await second.start()
    try:
        fal.finish("req-1")
        await fal.wait_for_submits(2)
        fal.finish("req-2")
        await until(lambda: all(j.state is JobState.DELIVERED for j in store.jobs.values()))
    finally:
        await second.stop()
    states = {j.id: j.state for j in store.jobs.values()}
    assert states == {sending.id: JobState.DELIVERED, waiting.id: JobState.DELIVERED}
    assert fal.submit_calls == 2  # the caught job was not sent again


async def test_drain_gives_up_after_its_grace_and_stops_anyway(
    store: MemoryStore, fal: FakeFal, clock: FakeClock
) -> None:
    fal.submit_gate = asyncio.Event()  # fal never answers
    engine = build(store, fal, clock)
    await engine.start()
    job = await submit(engine, request(), RecordingReply())
    await until(lambda: fal.submit_calls == 1)
    draining = asyncio.create_task(engine.drain(grace=5))
    await clock.wait_for_sleepers(1)
    await clock.advance(5)
    assert await draining is False
    stuck = await store.get_job(job.id)
    # As after a crash: the next start fails it with its credits back (see test_restart).
    assert stuck is not None and stuck.state is JobState.SUBMITTING
