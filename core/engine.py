"""The engine: admission → line → execution at fal → progress → delivery, and recovery.

`Engine` is the façade adapters and `bot` use; the work is done by its parts:
`core.admission` (taking a job in), `core.dispatch` (the line and the fal slots),
`core.execution` (a job at fal, settled), `core.delivery` (telling the user),
`core.recovery` (after a restart), `core.replies` (each job's one reply).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from core import job_log
from core.account import AccountViews
from core.admission import Admitter
from core.catalog import Catalog, ModelSpec
from core.circuit import CircuitBreaker
from core.commands import Cancel, Command, FollowUp, Generate
from core.config import EngineConfig
from core.confirmations import QuoteFirst
from core.delivery import Deliverer
from core.dispatch import Dispatcher
from core.errors import BotError, ErrorCode, invalid
from core.execution import DATA_URI_MAX, JobExecutor
from core.housekeeping import prune_dedupe_forever
from core.intake import Intake
from core.jobs import ANY_CHANNEL, Actor, Channel, Job, JobState
from core.leases import Leases, Sharing
from core.line import Line, LocalLine, SharedLine
from core.live_catalog import LiveCatalog
from core.ports import Clock, FalGateway, LineStore, Reply, ReplyFactory, Store
from core.preferences import PreferenceBook
from core.quota import BucketLimits
from core.recovery import recover
from core.replies import JobReplies
from core.scheduler import wait_estimate
from core.settling import Settling
from core.tasks import OwnedTasks
from core.webhooks import FalOutcome, WebhookOutcomes

__all__ = ["DATA_URI_MAX", "Engine", "EngineConfig"]

log = logging.getLogger(__name__)


class Engine(AccountViews):
    """Owns every job from admission to its final state. All its tasks are kept and awaited.
    What a person reads about their own account (quota, usage, jobs) is `AccountViews`'."""

    def __init__(
        self,
        *,
        store: Store,
        fal: FalGateway,
        clock: Clock,
        catalog: Catalog,
        config: EngineConfig,
        line_store: LineStore | None = None,
    ) -> None:
        """With `line_store`, the line and the fal slots are shared with every process on
        that store (leases, takeover); without, they are this process's own."""
        self.store = store
        self.live_catalog = LiveCatalog(catalog)
        self.config = config
        self._gateway = fal
        self._clock = clock
        self._accepting = False
        self._dispatching: asyncio.Task[None] | None = None
        self._pruning: asyncio.Task[None] | None = None
        self._line: Line = LocalLine(max_waiting=config.max_waiting, limit=config.max_concurrency)
        if line_store is not None:
            self._line = SharedLine(
                line_store,
                max_waiting=config.max_waiting,
                limit=config.max_concurrency,
                clock=clock,
                poll=config.line_poll,
            )
        self._tasks = OwnedTasks()
        self._settling = Settling()
        self._webhooks = WebhookOutcomes(clock=clock, enabled=config.webhook_url is not None)
        self._circuit = CircuitBreaker(
            clock=clock, threshold=config.circuit_threshold, cooldown=config.circuit_cooldown
        )
        self._replies = JobReplies(clock=clock, interval=config.progress_interval)
        self._deliverer = Deliverer(
            store=store,
            fal=fal,
            clock=clock,
            config=config,
            replies=self._replies,
            settling=self._settling,
        )
        self._executor = JobExecutor(
            store=store,
            fal=fal,
            clock=clock,
            models=self.live_catalog,
            config=config,
            circuit=self._circuit,
            webhooks=self._webhooks,
            settling=self._settling,
            replies=self._replies,
            deliverer=self._deliverer,
        )
        self._dispatcher = Dispatcher(
            store=store,
            line=self._line,
            circuit=self._circuit,
            executor=self._executor,
            deliverer=self._deliverer,
            replies=self._replies,
            tasks=self._tasks,
            clock=clock,
        )
        self._admitter = Admitter(
            store=store,
            models=self.live_catalog,
            clock=clock,
            config=config,
            circuit=self._circuit,
            line=self._line,
            replies=self._replies,
            busy_retry_after=self._busy_retry_after,
        )
        # People's and workspaces' /settings, read at intake; adapters show and change them.
        self.preferences = PreferenceBook(store=store, models=self.live_catalog)
        self._sharing: Sharing | None = None
        if isinstance(self._line, SharedLine) and line_store is not None:
            self._sharing = Sharing(
                line_store,
                line=self._line,
                webhooks=self._webhooks,
                tasks=self._tasks,
                clock=clock,
                lease=config.lease_seconds,
                platforms=self._replies.platforms,
                recover=self._recover,
            )
        self._intake = Intake(
            store=store,
            models=self.live_catalog,
            config=config,
            admitter=self._admitter,
            preferences=self.preferences,
        )
        self.quotes = self._intake.quotes  # price before spending (`core.confirmations`)

    @property
    def _fal(self) -> FalGateway:
        return self._gateway

    # ---- lifecycle

    def add_reply_factory(self, factory: ReplyFactory) -> None:
        self._replies.add_factory(factory)

    async def start(self) -> None:
        """Pick up every unfinished job of a platform we serve, then start the dispatcher.
        On a shared line, only jobs whose owner's lease ran out are picked up (taken over),
        now and from then on."""
        if self._sharing is None:
            for job in await self.store.unfinished_jobs():
                if self._replies.serves(job.platform):
                    await self._recover(job)
        else:
            await self._sharing.start()
        self._dispatching = self._tasks.spawn(self._dispatcher.run(), name="dispatcher")
        self._accepting = True

    async def _recover(self, job: Job) -> None:
        if job.state.at_fal and job.request_id is not None:
            self._webhooks.expect(job.request_id)  # its webhook may come any moment
        await recover(
            job,
            line=self._line,
            dispatcher=self._dispatcher,
            executor=self._executor,
            deliverer=self._deliverer,
            tasks=self._tasks,
        )

    def keep_dedupe_pruned(self) -> None:
        """From now until `stop`, forget dedupe keys older than `config.dedupe_keep` every
        `config.dedupe_prune_every` seconds of the engine's clock, in a task the engine owns.
        `falbot run` starts it; an engine that never claims keys (the demo) need not."""
        if self._pruning is None or self._pruning.done():
            pruning = prune_dedupe_forever(
                self.store,
                self._clock,
                keep=timedelta(seconds=self.config.dedupe_keep),
                every=self.config.dedupe_prune_every,
            )
            self._pruning = self._tasks.spawn(pruning, name="dedupe-pruner")

    async def drain(self, *, grace: float = 5.0) -> bool:
        """Stop gracefully: new jobs are refused with `busy` and nothing more is sent to fal;
        work caught half-way (a submit whose request id is not saved yet, a settlement, a
        delivery) gets up to `grace` seconds to finish; then `stop`. Jobs still waiting or at
        fal are picked up by the next start. False when the grace ran out first."""
        self._accepting = False
        if self._dispatching is not None:
            self._dispatching.cancel()
            await asyncio.gather(self._dispatching, return_exceptions=True)
        job_log.lifecycle("draining", waiting=len(self._line), settling=len(self._settling))
        settled = await self._settling.quiet(clock=self._clock, within=grace)
        if not settled:
            log.warning("stopping with %d job step(s) unfinished", len(self._settling))
        await self.stop()
        if self._sharing is not None:
            await self._sharing.let_go()
        return settled

    async def stop(self) -> None:
        """Stop taking jobs and cancel every task; state is already persisted at each step."""
        self._accepting = False
        await self._tasks.close()
        await self._replies.close()

    @property
    def waiting(self) -> int:
        return len(self._line)

    @property
    def at_fal(self) -> int:
        """Jobs holding a fal slot, less the one the dispatcher holds while the line is empty."""
        return self._line.at_fal

    @property
    def circuit_state(self) -> str:
        """The fal circuit: `closed` (jobs flow), `open` (new jobs refused), `half_open`."""
        return self._circuit.state.value

    @property
    def accepting(self) -> bool:
        """Whether new jobs are taken (False before start and once stopping)."""
        return self._accepting

    def expects_webhook(self, request_id: str) -> bool:
        """Whether fal's webhook for this request is wanted (falbot sent it and still waits;
        on a shared line, any process may be following it)."""
        return self._sharing is not None or self._webhooks.expects(request_id)

    def fal_webhook(self, outcome: FalOutcome) -> bool:
        """A request's outcome from fal's (verified) webhook; False when it came before or is
        not one falbot waits for (then nothing is kept). On a shared line one this process
        does not follow is kept in the store for the process that does."""
        if self._webhooks.deliver(outcome):
            return True
        if self._sharing is None:
            return False
        self._sharing.keep_outcome(outcome)
        return True

    @property
    def shared_line(self) -> SharedLine | None:
        """The line shared with other processes, when there is one (for /metrics)."""
        return self._line if isinstance(self._line, SharedLine) else None

    @property
    def leases(self) -> Leases | None:
        """On a shared line: this process's leases and takeovers (`taken_over` counts them)."""
        return None if self._sharing is None else self._sharing.leases

    # ---- admission

    async def submit(
        self,
        command: Command,
        reply: Reply,
        *,
        actor: Actor,
        channel: Channel = ANY_CHANNEL,
        hold: bool = False,
        place: Mapping[str, Any] | None = None,
    ) -> Job:
        """Admit `command` (asked by `actor` in `channel`) shown in `reply`, whose ref the job
        keeps: validate, check policy, quota and budget, persist and enqueue; or raise
        `BotError`. With `hold`, the admitted job waits for `release` or `withdraw` before it
        may start (an adapter that shows a job only once it is admitted names its message
        first). Above the workspace's price threshold it raises `QuoteFirst` instead
        (`core.confirmations`), keeping `place` (the adapter's, JSON) with the quote."""
        model = command.model if isinstance(command, Generate) else command.action
        with self._refusals_logged(actor, model or ""):
            self._check_accepting()
            return await self._intake.submit(
                command, reply, actor=actor, channel=channel, hold=hold, place=place
            )

    async def confirm(
        self, quote_id: str, reply: Reply, *, actor: Actor, hold: bool = False
    ) -> Job:
        """Start the job of a quote `actor` confirmed, once, through the full admission."""
        with self._refusals_logged(actor, "quote"):
            self._check_accepting()
            return await self._intake.confirm(quote_id, reply, actor=actor, hold=hold)

    async def precheck(self, command: Generate, *, actor: Actor, images: int = 1) -> ModelSpec:
        """Before a command's images are fetched or decoded: refuse, reading only, what
        admission would refuse anyway (bad options, a denied model, a ban, a spent budget, a
        bucket that cannot hold the job, a restart). `command` has no images yet; `images`
        is how many it will carry. Returns the model it runs on (how many images it takes).
        Admission (`submit`) still checks everything."""
        with self._refusals_logged(actor, command.model):
            self._check_accepting()
            return await self._intake.precheck(command, actor=actor, images=images)

    def _check_accepting(self) -> None:
        if not self._accepting:
            raise BotError(
                ErrorCode.BUSY,
                "falbot is restarting.",
                retry_after=60.0,  # the renderer says the wait, once
            )

    @contextmanager
    def _refusals_logged(self, actor: Actor, model: str) -> Iterator[None]:
        try:
            yield
        except QuoteFirst:
            raise  # not a refusal: the job waits for its requester's Confirm
        except BotError as error:
            job_log.refused(
                code=error.code.value,
                model=model[:40],
                workspace_id=actor.workspace_id,
                user_id=actor.user_id,
            )
            raise

    async def set_reply_ref(self, job: Job, reply_ref: Mapping[str, Any]) -> Job:
        """Name the reply an adapter posted after admission (so a restart finds it again)."""
        merged = {**job.reply_ref, **reply_ref}
        await self.store.set_reply_ref(job.id, merged)
        return job.replace(reply_ref=merged)

    async def release(self, job: Job) -> None:
        """Let a job admitted with `hold` start."""
        await self._admitter.release(job)

    async def withdraw(self, job: Job, error: BotError) -> None:
        """End a job admitted with `hold` before it started: cancelled, its credits returned."""
        self._line.unreserve()
        await self._executor.end(job, JobState.CANCELLED, error)

    async def settlement_limits(self, job: Job) -> BucketLimits:
        """The bucket limits `job` was admitted under, for its refunds."""
        return await self._executor.job_limits(job)

    def _busy_retry_after(self) -> float:
        return wait_estimate(
            len(self._line), slots=self._line.limit, mean_job_s=self._executor.mean_job_s
        )

    # ---- account

    async def own_job(self, actor: Actor, job_id: str, *, doing: str) -> Job:
        """The job a result's button names, if it is the caller's (or the caller's an admin)."""
        return await self._intake.own_job(actor, job_id, doing=doing)

    async def cancel(self, command: Cancel, *, actor: Actor) -> Job:
        """Cancel one of the actor's jobs: waiting ones at once, ones at fal through fal."""
        job = await self.find_job(actor, command.job_id)
        if job.state.final:
            raise invalid(f"Job {job.short_id} has already ended ({job.state.value}).")
        if job.state is JobState.QUEUED and await self._line.remove(job):
            error = BotError(ErrorCode.CANCELLED, "Cancelled before it started.")
            return await self._executor.end(job, JobState.CANCELLED, error)
        if not (job.state.at_fal and job.request_id):
            self._executor.request_cancel(job.id)
            return job
        # fal bills a job it has started running, cancelled or not: note whether it had, before
        # the cancellation goes out (its outcome may come back before the cancel's answer).
        self._executor.request_cancel(job.id, started=await self._executor.ran_at_fal(job))
        if not await self._fal.cancel(job.endpoint, job.request_id):
            self._executor.forget_cancel(job.id)
            raise invalid(f"Job {job.short_id} is already finishing at fal; too late to cancel.")
        return job

    async def check_follow_up(
        self, command: FollowUp, *, actor: Actor, channel: Channel = ANY_CHANNEL
    ) -> Job:
        """Refuse early (before a modal asks for a prompt) what admission would refuse: not the
        caller's job, an image that is not there, or one withheld as NSFW here."""
        return await self._intake.check_follow_up(command, actor=actor, channel=channel)

    async def screen_files(
        self, workspace_id: str, names: list[str], *, channel: Channel = ANY_CHANNEL
    ) -> bool:
        """Whether files a mention or a shortcut reuses hold a falbot result flagged NSFW (the
        command is then `flagged_input`); refused at once where that result is not shown."""
        return await self._intake.screen_files(workspace_id, names, channel)
