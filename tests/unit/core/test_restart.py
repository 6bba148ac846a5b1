"""An engine stopped abruptly with jobs in every state; a new one on the same store ends them."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest

from core.engine import Engine
from core.jobs import Actor, JobState
from core.model_table import build_catalog
from core.ports import UsageFilter
from core.quota import BucketKey, BucketLimits
from tests.fakes.asking import submit
from tests.fakes.clock import START, FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.unit.core.conftest import config, request
from tests.waits import until

pytestmark = pytest.mark.usefixtures("ticking")


async def test_every_job_ends_after_an_abrupt_restart_and_none_is_submitted_twice(
    store: MemoryStore, fal: FakeFal, clock: FakeClock
) -> None:
    fal.auto_finish = False
    first = Engine(
        store=store, fal=fal, clock=clock, catalog=build_catalog(), config=config(max_concurrency=3)
    )
    first.add_reply_factory(RecordingReplyFactory())
    await first.start()
    users = [Actor("console", "w1", f"u{i}") for i in range(3)]

    # completed but not yet delivered: its reply blocks
    stuck = RecordingReply()
    stuck.block_delivery = asyncio.Event()
    completed = await submit(first, request(users[0], prompt="completed"), stuck)
    await fal.wait_for_submits(1)
    fal.finish()
    await until(lambda: store.jobs[completed.id].state is JobState.COMPLETED)
    # running at fal
    await submit(first, request(users[1], prompt="running"), RecordingReply())
    await fal.wait_for_submits(2)
    # submitting: the request is on its way to fal when the engine dies
    fal.submit_gate = asyncio.Event()
    await submit(first, request(users[2], prompt="submitting"), RecordingReply())
    await until(lambda: fal.submit_calls == 3)
    # queued: both slots are taken
    for i in range(3):
        await submit(first, request(users[i], prompt=f"queued-{i}"), RecordingReply())
    states = Counter(j.state for j in store.jobs.values())
    at_fal = states[JobState.SUBMITTED] + states[JobState.RUNNING]
    assert (
        states[JobState.COMPLETED],
        at_fal,
        states[JobState.SUBMITTING],
        states[JobState.QUEUED],
    ) == (1, 1, 1, 3)

    await first.stop()  # every task cancelled mid-flight; nothing cleaned up
    fal.submit_gate = None
    fal.auto_finish = True

    factory = RecordingReplyFactory()
    second = Engine(
        store=store, fal=fal, clock=clock, catalog=build_catalog(), config=config(max_concurrency=3)
    )
    second.add_reply_factory(factory)
    await second.start()
    try:
        for job_id in list(store.jobs):
            await factory.rebuild(store.jobs[job_id]).wait()
    finally:
        await second.stop()

    final = {j.arguments["prompt"]: j for j in store.jobs.values()}
    assert {p: j.state for p, j in final.items()} == {
        "completed": JobState.DELIVERED,
        "running": JobState.DELIVERED,
        "submitting": JobState.FAILED,
        "queued-0": JobState.DELIVERED,
        "queued-1": JobState.DELIVERED,
        "queued-2": JobState.DELIVERED,
    }
    submits = Counter(args["prompt"] for _, args in fal.submits)
    assert max(submits.values()) == 1
    assert "submitting" not in submits  # it never reached the fake: the gate held it
    # credits: the failed job's came back; the others were each charged exactly once
    ledger = await store.ledger(UsageFilter("w1", START))
    assert sorted(e.job_id for e in ledger) == sorted(
        j.id for j in final.values() if j.state is JobState.DELIVERED
    )
    limits = BucketLimits(Decimal(100), Decimal(0))
    u2 = await store.bucket(BucketKey("w1", "u2"), limits, START)
    assert u2.level == Decimal(100) - Decimal("0.3")  # only queued-2 was charged
