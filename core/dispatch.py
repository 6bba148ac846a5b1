"""The line and the fal slots: waiting jobs go to fal as slots free up, at most
`max_concurrency` at once, fair across users, and none while the circuit is open."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from core.circuit import CircuitBreaker
from core.delivery import Deliverer
from core.errors import LeaseLost, internal_error
from core.execution import JobExecutor
from core.jobs import Job, JobState, ProgressView, Stage
from core.line import Line, line_key
from core.ports import Clock, Store
from core.replies import JobReplies
from core.tasks import OwnedTasks

__all__ = ["Dispatcher", "line_key"]

log = logging.getLogger(__name__)

_DELIVER_ATTEMPTS = 6  # waiting 2, 4, … 32 s between them: about a minute in all

# Frees the job's fal slot (once; later calls do nothing).
FreeSlot = Callable[[], Awaitable[None]]
# Runs a job in its slot, calling `free` once fal is done with it (fetching the result and
# settling need no fal slot); returns the completed job, if it completed.
JobBody = Callable[[Job, FreeSlot], Awaitable[Job | None]]


class Dispatcher:
    def __init__(
        self,
        *,
        store: Store,
        line: Line,
        circuit: CircuitBreaker,
        executor: JobExecutor,
        deliverer: Deliverer,
        replies: JobReplies,
        tasks: OwnedTasks,
        clock: Clock,
    ) -> None:
        self._store = store
        self._clock = clock
        self._line = line
        self._circuit = circuit
        self._executor = executor
        self._deliverer = deliverer
        self._replies = replies
        self._tasks = tasks
        self._positions: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Take a slot, then the next waiting job, and run it; forever."""
        while True:
            await self._line.acquire_slot()
            probe = False
            try:
                probe = await self._circuit.ready()
                job_id = await self._line.get()
            except BaseException:
                if probe:
                    self._circuit.probe_ended()
                await self._line.release_slot()
                raise
            body = partial(self._executor.run_queued, probe=probe)
            self._tasks.spawn(self._run_in_slot(job_id, body), name=f"job-{job_id[:8]}")
            if self._positions is None or self._positions.done():
                self._positions = self._tasks.spawn(self._refresh_positions(), name="positions")

    def resume(self, job: Job) -> None:
        """Follow a job already at fal (after a restart) in a slot taken at once."""
        self._line.resumed(job.id)
        self._tasks.spawn(
            self._run_in_slot(job.id, self._executor.follow_at_fal), name=f"resume-{job.short_id}"
        )

    async def _run_in_slot(self, job_id: str, body: JobBody) -> None:
        """Run `body` while holding a fal slot, until fal is done with the job; the slot is
        free again before delivery at the latest."""
        held = True

        async def free() -> None:
            nonlocal held
            if held:
                held = False
                await self._line.free(job_id)

        completed: Job | None = None
        try:
            job = await self._store.get_job(job_id)
            if job is not None:
                completed = await body(job, free)
        except LeaseLost as lost:
            # Another process took the job over (this one stalled past its lease): it carries
            # the job on, and frees its slot; this one lets go, quietly.
            log.warning("job %s was taken over by %s; leaving it", job_id[:8], lost.owner)
            held = False
            self._line.forget(job_id)
            self._replies.drop(job_id)
        except Exception:
            log.exception("job %s failed inside falbot", job_id[:8])
            await self._end_after_crash(job_id)
        finally:
            await free()
        if completed is not None:
            await self._deliver(completed)

    async def _deliver(self, job: Job) -> None:
        """Deliver a completed (and paid for) job. A failure of falbot's own (the database
        out of reach a moment) is tried again on the clock, for about a minute: the job must
        not wait for a restart while its process lives on and holds it."""
        for attempt in range(1, _DELIVER_ATTEMPTS + 1):
            try:
                await self._deliverer.deliver(job)
                return
            except LeaseLost:  # another process took it over: it delivers
                self._replies.drop(job.id)
                return
            except Exception:
                log.warning(
                    "delivering job %s failed (attempt %d)", job.short_id, attempt, exc_info=True
                )
            if attempt < _DELIVER_ATTEMPTS:
                await self._clock.sleep(min(2.0**attempt, 60.0))
        log.error("job %s could not be delivered; it is tried again at the next start", job.id)

    async def _end_after_crash(self, job_id: str) -> None:
        job = await self._store.get_job(job_id)
        if job is not None and not job.state.final and job.state is not JobState.COMPLETED:
            try:
                await self._executor.end(
                    job,
                    JobState.FAILED,
                    internal_error(request_id=job.request_id),
                )
            except LeaseLost:
                self._replies.drop(job_id)

    async def _refresh_positions(self, limit: int = 25) -> None:
        """Tell the first few waiting jobs their new place; the rest see it when they move up."""
        try:
            order = await self._line.order(limit)
        except Exception:  # a shared line's store is out of reach: the next claim tells
            log.warning("reading the line's order failed", exc_info=True)
            return
        size = len(self._line)
        for n, job_id in enumerate(order, start=1):
            reply = self._replies.held(job_id)
            if reply is not None:
                await reply.progress(
                    ProgressView(job_id, "", Stage.QUEUED, position=n, line_size=size)
                )
