"""A job's reply, throttled: at most one progress edit per interval, the latest view wins.
The final message (result or failure) is not throttled: it goes out as soon as it is ready,
and only the platform's own rate limit (its `RetryLater`, waited out by the deliverer) holds it."""

from __future__ import annotations

import asyncio
import logging

from core.errors import BotError
from core.jobs import Delivery, Job, ProgressView
from core.ports import Clock, Reply

log = logging.getLogger(__name__)


class ThrottledReply:
    """Wraps an adapter's `Reply`. `progress` never blocks the engine on a slow platform."""

    def __init__(self, reply: Reply, *, clock: Clock, interval: float) -> None:
        self._reply = reply
        self._clock = clock
        self._interval = interval
        self._last_edit: float | None = None
        self._pending: ProgressView | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    async def progress(self, view: ProgressView) -> None:
        if self._closed:
            return
        self._pending = view
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name=f"progress-{view.job_id[:8]}")

    async def _flush(self) -> None:
        while self._pending is not None and not self._closed:
            await self._wait_turn()
            view, self._pending = self._pending, None
            if view is None or self._closed:
                return
            self._last_edit = self._clock.monotonic()
            try:
                await self._reply.progress(view)
            except Exception:
                # A lost progress edit is harmless; the final message still comes.
                log.warning("progress edit failed for job %s", view.job_id[:8], exc_info=True)

    async def _wait_turn(self) -> None:
        if self._last_edit is not None:
            wait = self._last_edit + self._interval - self._clock.monotonic()
            if wait > 0:
                await self._clock.sleep(wait)

    async def _finish(self) -> None:
        """No progress edit after this one: a waiting one is dropped, one in flight stopped."""
        self._closed = True
        self._pending = None
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)

    async def deliver(self, delivery: Delivery) -> None:
        await self._finish()
        await self._reply.deliver(delivery)

    async def fail(self, job: Job, error: BotError, *, credits_returned: bool) -> None:
        await self._finish()
        await self._reply.fail(job, error, credits_returned=credits_returned)

    async def close(self) -> None:
        """Stop without a final message (engine shutdown)."""
        self._closed = True
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
