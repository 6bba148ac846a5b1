"""`RecordingReply`: the `Reply` port by hand; remembers what a job showed, and when it ended."""

from __future__ import annotations

import asyncio
from typing import Any

from core.errors import BotError
from core.jobs import Delivery, Job, ProgressView


class RecordingReply:
    def __init__(self) -> None:
        self.views: list[ProgressView] = []
        self.delivery: Delivery | None = None
        self.error: BotError | None = None
        self.credits_returned: bool | None = None
        self.ended = asyncio.Event()
        self.block_delivery: asyncio.Event | None = None
        self.delivery_started = asyncio.Event()
        self._viewed = asyncio.Condition()
        self.ref: dict[str, Any] = {}

    def persisted_ref(self) -> dict[str, Any]:
        return self.ref

    async def progress(self, view: ProgressView) -> None:
        async with self._viewed:
            self.views.append(view)
            self._viewed.notify_all()

    async def wait_for_stage(self, stage: str, timeout: float = 5.0) -> ProgressView:
        """The first view shown at `stage`, waiting for it if need be."""
        async with asyncio.timeout(timeout), self._viewed:
            await self._viewed.wait_for(lambda: any(v.stage == stage for v in self.views))
        return next(v for v in self.views if v.stage == stage)

    async def deliver(self, delivery: Delivery) -> None:
        self.delivery_started.set()
        if self.block_delivery is not None:
            await self.block_delivery.wait()
        self.delivery = delivery
        self.ended.set()

    async def fail(self, job: Job, error: BotError, *, credits_returned: bool) -> None:
        self.error = error
        self.credits_returned = credits_returned
        self.ended.set()

    async def wait(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.ended.wait(), timeout)


class RecordingReplyFactory:
    """Rebuilds replies after a restart and keeps them by job id for the test to read."""

    def __init__(self, platform: str = "console") -> None:
        self.platform = platform
        self.replies: dict[str, RecordingReply] = {}

    def rebuild(self, job: Job) -> RecordingReply:
        return self.replies.setdefault(job.id, RecordingReply())
