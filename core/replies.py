"""The one reply each job is shown in: the adapter's own, or rebuilt from `reply_ref` after a
restart; every one throttled to at most one edit per `progress_interval`."""

from __future__ import annotations

import logging

from core import job_log
from core.jobs import Job, ProgressView
from core.ports import Clock, Reply, ReplyFactory
from core.progress import ThrottledReply


class JobReplies:
    def __init__(self, *, clock: Clock, interval: float) -> None:
        self._clock = clock
        self._interval = interval
        self._factories: dict[str, ReplyFactory] = {}
        self._replies: dict[str, ThrottledReply] = {}

    def add_factory(self, factory: ReplyFactory) -> None:
        self._factories[factory.platform] = factory

    def serves(self, platform: str) -> bool:
        """Whether replies of this platform can be rebuilt (its adapter runs here)."""
        return platform in self._factories

    def platforms(self) -> list[str]:
        """The platforms whose replies can be rebuilt here."""
        return list(self._factories)

    def hold(self, job_id: str, reply: Reply) -> None:
        """Keep the reply an adapter made for a new job."""
        self._replies[job_id] = self._throttled(reply)

    def of(self, job: Job) -> ThrottledReply:
        """The job's reply, rebuilt from its `reply_ref` when none is held."""
        reply = self._replies.get(job.id)
        if reply is None:
            reply = self._throttled(self._factories[job.platform].rebuild(job))
            self._replies[job.id] = reply
        return reply

    def held(self, job_id: str) -> ThrottledReply | None:
        """The job's reply if one is held; never rebuilds."""
        return self._replies.get(job_id)

    def drop(self, job_id: str) -> None:
        self._replies.pop(job_id, None)

    async def let_go(self, job_id: str) -> None:
        """Another process may carry the job on: its last view is sent, the reply forgotten."""
        reply = self._replies.pop(job_id, None)
        if reply is not None:
            await reply.close()

    async def show(self, job: Job, view: ProgressView) -> None:
        job_log.emit(job_log.JOB_PROGRESS, job, level=logging.DEBUG, stage=view.stage.value)
        await self.of(job).progress(view)

    async def close(self) -> None:
        """Close every held reply (each flushes its last view) and forget them."""
        for reply in self._replies.values():
            await reply.close()
        self._replies.clear()

    def _throttled(self, reply: Reply) -> ThrottledReply:
        return ThrottledReply(reply, clock=self._clock, interval=self._interval)
