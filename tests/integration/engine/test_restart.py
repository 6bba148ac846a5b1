"""Restart on a real database: an engine killed mid-flight, a new one ends every job once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

from adapters.fal.gateway import FalClientGateway
from adapters.fal.simulator import FalSimulator
from core.jobs import Actor, JobKind, JobState, Output
from core.ports import FalStatus, UsageFilter
from core.quota import BucketKey, BucketLimits
from tests.fakes.asking import Ask, submit
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.integration.engine.conftest import EngineFactory


class GatedGateway:
    """The real gateway, except that once `closed`, submits wait at a gate: a job caught on its
    way to fal."""

    def __init__(self, inner: FalClientGateway) -> None:
        self.inner = inner
        self.closed = False
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def submit(
        self,
        endpoint: str,
        arguments: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        private: bool = False,
    ) -> str:
        if self.closed:
            self.waiting.set()
            await self.gate.wait()
        return await self.inner.submit(
            endpoint, arguments, webhook_url=webhook_url, private=private
        )

    def watch(self, endpoint: str, request_id: str) -> AsyncIterator[FalStatus]:
        return self.inner.watch(endpoint, request_id)

    async def status(self, endpoint: str, request_id: str) -> FalStatus:
        return await self.inner.status(endpoint, request_id)

    async def result(self, endpoint: str, request_id: str) -> dict[str, Any]:
        return await self.inner.result(endpoint, request_id)

    def read_output(
        self, kind: JobKind, data: Mapping[str, Any]
    ) -> tuple[tuple[Output, ...], int | None]:
        return self.inner.read_output(kind, data)

    async def cancel(self, endpoint: str, request_id: str) -> bool:
        return await self.inner.cancel(endpoint, request_id)

    async def upload(self, data: bytes, content_type: str) -> str:
        return await self.inner.upload(data, content_type)

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        return await self.inner.download(url, max_bytes=max_bytes)


async def test_abrupt_restart_ends_every_job_once(
    make_engine: EngineFactory, fal_sim: FalSimulator, gateway: FalClientGateway
) -> None:
    users = [Actor("console", "w1", f"u{i}") for i in range(3)]
    # a completed job no longer holds a slot: the running and the submitting one fill both
    gated = GatedGateway(gateway)
    first = await make_engine(max_concurrency=2, fal=gated)

    def ask(user: Actor, prompt: str) -> Ask:
        return Ask(user, "flux-schnell", {"prompt": prompt})

    # completed, its delivery stuck
    stuck = RecordingReply()
    stuck.block_delivery = asyncio.Event()
    completed = await submit(first, ask(users[0], "completed"), stuck)
    await asyncio.wait_for(stuck.delivery_started.wait(), 10)  # completed is saved before
    # at fal, held running
    fal_sim.hold = True
    running_reply = RecordingReply()
    running = await submit(first, ask(users[1], "running"), running_reply)
    await running_reply.wait_for_stage("running")  # shown only once saved as running
    # on its way to fal
    gated.closed = True  # the one job submitted from here on waits at the gate
    submitting = await submit(first, ask(users[2], "submitting"), RecordingReply())
    await asyncio.wait_for(gated.waiting.wait(), 5)
    # waiting in line: both slots are taken
    queued = [await submit(first, ask(users[i], f"queued-{i}"), RecordingReply()) for i in range(3)]
    jobs = [completed, running, submitting, *queued]
    states = Counter([(await first.store.get_job(j.id)).state for j in jobs])  # type: ignore[union-attr]
    assert states == {
        JobState.COMPLETED: 1,
        JobState.RUNNING: 1,
        JobState.SUBMITTING: 1,
        JobState.QUEUED: 3,
    }

    await first.stop()  # abrupt: every task cancelled where it stood
    fal_sim.hold = False
    fal_sim.release(None)

    factory = RecordingReplyFactory()
    second = await make_engine(max_concurrency=3, factory=factory)
    for job in jobs:
        await factory.rebuild(job).wait(15)

    final = {j.arguments["prompt"]: await second.store.get_job(j.id) for j in jobs}
    assert {p: j.state for p, j in final.items() if j} == {
        "completed": JobState.DELIVERED,
        "running": JobState.DELIVERED,
        "submitting": JobState.FAILED,
        "queued-0": JobState.DELIVERED,
        "queued-1": JobState.DELIVERED,
        "queued-2": JobState.DELIVERED,
    }
    assert factory.replies[submitting.id].credits_returned is True
    per_prompt = Counter(args["prompt"] for _, args in fal_sim.submits)
    assert max(per_prompt.values()) == 1, per_prompt
    assert "submitting" not in per_prompt
    ledger = await second.store.ledger(UsageFilter("w1", completed.created_at))
    assert Counter(e.job_id for e in ledger) == Counter(j.id for j in jobs if j.id != submitting.id)
    limits = BucketLimits(Decimal(1000), Decimal(0))
    u2 = await second.store.bucket(BucketKey("w1", "u2"), limits, completed.created_at)
    assert u2.level == Decimal(1000) - Decimal("0.3")  # queued-2 charged; submitting returned
