"""A crash while a job's input image is being uploaded sends nothing to fal: the job is still
queued, so the next start runs it instead of failing it."""

from __future__ import annotations

import asyncio

import pytest

from core.engine import DATA_URI_MAX, Engine
from core.jobs import InputImage, JobState
from core.model_table import build_catalog
from tests.fakes.asking import Ask, submit
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.unit.core.conftest import ALICE, config
from tests.waits import until

pytestmark = pytest.mark.usefixtures("ticking")


class SlowUploads(FakeFal):
    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def upload(self, data: bytes, content_type: str) -> str:
        self.started.set()
        await self.gate.wait()
        return await super().upload(data, content_type)


async def test_a_crash_during_an_input_upload_leaves_the_job_to_run_again(
    store: MemoryStore, clock: FakeClock
) -> None:
    fal = SlowUploads()
    big = InputImage(content_type="image/png", data=b"\x89PNG" + b"\x00" * DATA_URI_MAX)
    first = Engine(store=store, fal=fal, clock=clock, catalog=build_catalog(), config=config())
    first.add_reply_factory(RecordingReplyFactory())
    await first.start()
    edit = Ask(ALICE, "nano-banana-edit", {"prompt": "make it blue"}, (big,))
    job = await submit(first, edit, RecordingReply())
    await asyncio.wait_for(fal.started.wait(), 5)
    await first.stop()  # abrupt: its tasks are cancelled mid-upload
    assert store.jobs[job.id].state is JobState.QUEUED
    assert fal.submit_calls == 0

    fal.gate.set()
    second = Engine(store=store, fal=fal, clock=clock, catalog=build_catalog(), config=config())
    second.add_reply_factory(RecordingReplyFactory())
    await second.start()
    try:
        await until(lambda: store.jobs[job.id].state is JobState.DELIVERED)
    finally:
        await second.stop()
    assert fal.submit_calls == 1
    assert store.jobs[job.id].error is None
