"""Many processes on one store: each renews the lease on the jobs it works on, takes over the
jobs of a process whose leases ran out (it died), and passes fal's webhooks to the process
following their request. Only used with a `LineStore` (PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from core import job_log
from core.errors import BotError
from core.jobs import Job
from core.line import SharedLine
from core.ports import Clock, LineStore
from core.tasks import OwnedTasks
from core.webhooks import FalOutcome, WebhookOutcomes

log = logging.getLogger(__name__)

_BATCH = 100  # jobs taken over in one transaction


class Leases:
    """Renews this process's leases every `renew_every` seconds and looks for jobs to take
    over every `take_over_every` seconds, handing each to `resume` (core/recovery.py)."""

    def __init__(
        self,
        store: LineStore,
        *,
        clock: Clock,
        lease: float,
        platforms: Callable[[], Sequence[str]],
        resume: Callable[[Job], Awaitable[None]],
    ) -> None:
        self._store = store
        self._clock = clock
        self._platforms = platforms
        self._resume = resume
        # Renewed three times a lease (two renewals may be lost); dead processes looked for
        # often enough that a job resumes within about a second of its lease running out.
        self.renew_every = lease / 3
        self.take_over_every = min(1.0, lease / 3)
        self.taken_over = 0
        self.lease = lease
        # The clock's monotonic time of the last renewal (a process just started holds none).
        self.renewed_at = clock.monotonic()
        self.on_take_over: Callable[[int], None] | None = None  # jobs taken in one round

    def held(self) -> bool:
        """Whether this process's leases are current (renewed within a lease): if not, other
        processes may be taking its jobs (it lost the database)."""
        return self._clock.monotonic() - self.renewed_at < self.lease

    async def run(self) -> None:
        """Forever: take over (at once too: the jobs of a process that died a while ago),
        renew, sleep."""
        since_renewal = self.renew_every
        while True:
            if since_renewal >= self.renew_every:
                since_renewal = 0.0
                try:
                    await self._store.renew_leases()
                    self.renewed_at = self._clock.monotonic()
                except Exception:
                    log.warning("renewing this process's leases failed", exc_info=True)
            await self.take_over()
            await self._clock.sleep(self.take_over_every)
            since_renewal += self.take_over_every

    async def reclaim(self) -> int:
        """Starting: resume the jobs still owned under this process's name, left by its life
        before a restart under the same FALBOT_INSTANCE (they are nobody else's to take: this
        process would renew their leases without working on them); how many."""
        taken = 0
        while (found := await self.take_over(own=True)) == _BATCH:
            taken += found
        return taken + found

    async def take_over(self, *, own: bool = False) -> int:
        """Take over the jobs whose owner's lease ran out (with `own`, this process's name's
        too) and resume them; how many."""
        try:
            jobs = await self._store.take_over(self._platforms(), limit=_BATCH, own=own)
        except Exception:
            log.warning("looking for jobs to take over failed", exc_info=True)
            return 0
        if jobs and self.on_take_over is not None:
            self.on_take_over(len(jobs))
        for job in jobs:
            log.info("took over job %s from a process that stopped", job.short_id)
            self.taken_over += 1
            try:
                await self._resume(job)
            except Exception:
                log.exception("resuming job %s after taking it over failed", job.short_id)
        return len(jobs)


class Sharing:
    """What a process on a shared line does besides claiming: listening for wake-ups, its
    leases and takeovers, and fal's webhooks for requests other processes follow."""

    def __init__(
        self,
        store: LineStore,
        *,
        line: SharedLine,
        webhooks: WebhookOutcomes,
        tasks: OwnedTasks,
        clock: Clock,
        lease: float,
        platforms: Callable[[], Sequence[str]],
        recover: Callable[[Job], Awaitable[None]],
    ) -> None:
        self._store = store
        self._line = line
        self._webhooks = webhooks
        self._tasks = tasks
        self._clock = clock
        self._recover = recover
        self.leases = Leases(
            store, clock=clock, lease=lease, platforms=platforms, resume=self._take_over
        )

    async def _take_over(self, job: Job) -> None:
        """A job of a process that stopped: resumed here, with its webhook if one came."""
        await self._recover(job)
        if job.state.at_fal and job.request_id is not None:
            self.outcome_arrived(job.request_id)

    async def start(self) -> None:
        await self._listen()
        await self.leases.reclaim()
        self._tasks.spawn(self.leases.run(), name="leases")
        self._tasks.spawn(self._keep_listening(), name="wake-ups")

    async def _listen(self) -> bool:
        try:
            await self._store.listen(line=self._line.wake, outcome=self.outcome_arrived)
        except Exception:  # the line still moves, on the poll
            log.warning("listening for the line's wake-ups failed; polling", exc_info=True)
            return False
        return True

    async def _keep_listening(self, every: float = 5.0) -> None:
        """A lost listening connection (the database restarted) is opened again."""
        while True:
            await self._clock.sleep(every)
            if not self._store.listening and await self._listen():
                log.info("listening for the line's wake-ups again")
                self._line.wake()  # what was notified meanwhile is in the line: look now

    async def let_go(self) -> None:
        """Stopping: other processes take this one's unfinished jobs at once."""
        try:
            await self._store.unlisten()
            released = await self._store.release_leases()
        except Exception:
            log.warning("releasing this process's jobs failed; their leases run out", exc_info=True)
        else:
            job_log.lifecycle("released", jobs=released)

    def keep_outcome(self, outcome: FalOutcome) -> None:
        """A webhook for a request this process does not follow: kept for the one that does."""
        self._tasks.spawn(self._keep(outcome), name="keep-outcome")

    async def _keep(self, outcome: FalOutcome) -> None:
        try:
            await self._store.save_outcome(outcome.request_id, outcome_document(outcome))
        except Exception:  # its process still learns the outcome from fal's status
            log.warning("keeping a fal webhook's outcome failed", exc_info=True)

    def outcome_arrived(self, request_id: str) -> None:
        """Some process kept a request's outcome: taken here if this process follows it."""
        if self._webhooks.expects(request_id):
            self._tasks.spawn(self._load(request_id), name="load-outcome")

    async def _load(self, request_id: str) -> None:
        try:
            document = await self._store.outcome(request_id)
        except Exception:
            log.warning("reading a kept fal outcome failed", exc_info=True)
            return
        if document is not None:
            self._webhooks.deliver(outcome_from_document(request_id, document))


def outcome_document(outcome: FalOutcome) -> dict[str, Any]:
    """A webhook's outcome as the store keeps it (JSON)."""
    return {
        "data": None if outcome.data is None else dict(outcome.data),
        "error": None if outcome.error is None else outcome.error.to_dict(),
    }


def outcome_from_document(request_id: str, document: Any) -> FalOutcome:
    error = document.get("error")
    return FalOutcome(
        request_id,
        data=document.get("data"),
        error=None if not error else BotError.from_dict(error),
    )
