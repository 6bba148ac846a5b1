"""Running one job at fal: inputs → submit (its request id saved at once) → webhook or status
→ result → price → ledger and credits; and ending a job that failed or was cancelled, charged
as fal bills it (`core.billing`): a job fal had started running is paid for, cancelled or not."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from decimal import Decimal
from typing import Any

from core import job_log
from core.billing import admitted_pricing, charged_error, fal_bills
from core.catalog import ModelSpec
from core.circuit import CircuitBreaker
from core.config import EngineConfig
from core.delivery import Deliverer
from core.errors import BotError, ErrorCode
from core.jobs import InputImage, Job, JobResult, JobState, Output, ProgressView, Stage
from core.live_catalog import LiveCatalog
from core.ports import Clock, FalGateway, JobSettlement, Store
from core.quota import BucketLimits, LedgerEntry, resolve, to_credits
from core.replies import JobReplies
from core.settling import Settling
from core.webhooks import FalOutcome, WebhookOutcomes

log = logging.getLogger(__name__)

DATA_URI_MAX = 256 * 1024  # inputs up to this size go inline; larger ones to fal storage
LATE_RESULT_S = 60.0  # reading the result of a job fal finished just as falbot gave up on it


class JobExecutor:
    """Runs admitted jobs at fal, from inputs and submit to settlement, and ends the ones that
    fail or are cancelled (see the module docstring)."""

    def __init__(
        self,
        *,
        store: Store,
        fal: FalGateway,
        clock: Clock,
        models: LiveCatalog,
        config: EngineConfig,
        circuit: CircuitBreaker,
        webhooks: WebhookOutcomes,
        settling: Settling,
        replies: JobReplies,
        deliverer: Deliverer,
    ) -> None:
        self._store = store
        self.fal = fal
        self._clock = clock
        self._models = models  # swapped in one place when prices are refreshed
        self._config = config
        self._circuit = circuit
        self._webhooks = webhooks
        self._settling = settling
        self._replies = replies
        self._deliverer = deliverer
        self._cancel_requested: set[str] = set()
        self._started_when_cancelled: set[str] = set()
        self.mean_job_s = 30.0  # a moving mean of jobs' time at fal, for `busy`'s retry time

    def request_cancel(self, job_id: str, *, started: bool = False) -> None:
        """Mark a job whose cancellation is asked of fal: its failure ends it as cancelled,
        charged when fal had `started` running it."""
        self._cancel_requested.add(job_id)
        if started:
            self._started_when_cancelled.add(job_id)

    def forget_cancel(self, job_id: str) -> None:
        """Drop a job's cancellation (fal refused it, or the job has ended)."""
        self._cancel_requested.discard(job_id)
        self._started_when_cancelled.discard(job_id)

    async def ran_at_fal(self, job: Job, *, inference: float | None = None) -> bool:
        """Whether fal has started running `job` (so it bills it): seen running, or fal's
        status says it runs or ran."""
        if job.id in self._started_when_cancelled or job.state is JobState.RUNNING:
            return True
        if inference or job.request_id is None:
            return bool(inference)
        try:
            status = await self.fal.status(job.endpoint, job.request_id)
        except BotError:
            return False
        return status.state == "in_progress" or bool(
            status.state == "completed" and status.inference_s
        )

    async def run_queued(
        self, job: Job, done_at_fal: Callable[[], Awaitable[None]], *, probe: bool = False
    ) -> Job | None:
        """Submit a queued job and follow it at fal; the completed job, if it completed.
        `done_at_fal` is awaited once fal has finished with the job (its slot may go)."""
        if job.state is not JobState.QUEUED:
            return None
        try:
            async with self._settling.finish_before_stopping():
                submitted = await self._submit(job)
        finally:
            if probe:
                self._circuit.probe_ended()
        if submitted is None:
            return None
        if submitted.id in self._cancel_requested:
            # Cancelled while on its way to fal: cancel it there too (its end says the rest).
            self.request_cancel(submitted.id, started=await self.ran_at_fal(submitted))
            if await self._fal_cancel_quietly(submitted) is False:
                self.forget_cancel(submitted.id)
        return await self.follow_at_fal(submitted, done_at_fal)

    async def _submit(self, job: Job) -> Job | None:
        """Send a queued job to fal and save its request id; the submitted job, or None when
        it ended here (failed or cancelled, the user told)."""
        spec = self._models.get(job.model)
        try:
            # Inputs are uploaded while the job is still queued: a crash here sends nothing to
            # fal, so the next start simply runs the job again.
            inputs = await self._store.job_inputs(job.id) if job.input_count else []
            urls = [await self._input_url(img) for img in inputs]
            arguments = spec.arguments(job.arguments, urls)
            if job.id in self._cancel_requested:
                raise BotError(ErrorCode.CANCELLED, "Cancelled before it started.")
            job = await self._move(job, JobState.SUBMITTING)
            job_log.emit(job_log.JOB_STARTED, job)
            hook, private = self._config.webhook_url, job.private
            request_id = await self._webhooks.submitted(
                self.fal.submit(job.endpoint, arguments, webhook_url=hook, private=private)
            )
        except BotError as error:
            self._circuit.observe(error)
            await self.end(
                job,
                JobState.FAILED if error.code is not ErrorCode.CANCELLED else JobState.CANCELLED,
                error,
            )
            return None
        self._circuit.observe(None, settled=False)
        job = await self._move(
            job,
            JobState.SUBMITTED,
            request_id=request_id,
            arguments={**job.arguments, "image_urls": urls} if urls else job.arguments,
        )
        if job.input_count:
            await self._store.drop_job_inputs(job.id)
        return job

    async def _input_url(self, image: InputImage) -> str:
        if image.url is not None:
            return image.url
        assert image.data is not None
        if len(image.data) <= DATA_URI_MAX:
            return f"data:{image.content_type};base64,{base64.b64encode(image.data).decode()}"
        return await self.fal.upload(image.data, image.content_type)

    async def follow_at_fal(
        self, job: Job, done_at_fal: Callable[[], Awaitable[None]] | None = None
    ) -> Job | None:
        """Follow a submitted job to its end at fal and settle it; the completed job, if any.
        `done_at_fal` is awaited as soon as fal is done with it, before its result is read."""
        request_id = job.request_id
        assert request_id is not None
        spec = self._models.get(job.model)
        started = self._clock.monotonic()
        inference: float | None = None
        try:
            async with asyncio.timeout(self._config.job_timeout):
                outcome = await self._webhook_outcome(job)
                if outcome is not None and outcome.error is not None:
                    raise outcome.error
                if outcome is None:
                    job, inference = await self._watch(job, started)
                if done_at_fal is not None:
                    await done_at_fal()  # reading the result takes no place in fal's queue
                if outcome is not None and outcome.data is not None:
                    data = dict(outcome.data)
                else:
                    data = await self.fal.result(job.endpoint, request_id)
                self._circuit.observe(None)
            outputs, seed = self.fal.read_output(spec.kind, data)
        except TimeoutError:
            return await self._timed_out(job, spec=spec, started=started)
        except BotError as error:
            self._circuit.observe(error)
            error.request_id = error.request_id or job.request_id
            if error.code is not ErrorCode.CANCELLED and job.id not in self._cancel_requested:
                await self.end(job, JobState.FAILED, error)
                return None
            job = await self._store.get_job(job.id) or job  # the watch may have seen it run
            ran = await self.ran_at_fal(job, inference=inference)
            charge = job.estimate_usd if fal_bills(error, was_running=ran) else None
            if charge is None and error.code is ErrorCode.CANCELLED:
                error = BotError(
                    ErrorCode.CANCELLED, "Cancelled before it started.", request_id=error.request_id
                )
            await self.end(job, JobState.CANCELLED, error, charge_usd=charge)
            return None
        async with self._settling.finish_before_stopping():
            return await self._settle_result(
                job, spec=spec, outputs=outputs, seed=seed, inference=inference, started=started
            )

    async def _timed_out(self, job: Job, *, spec: ModelSpec, started: float) -> Job | None:
        """falbot gave up waiting: cancel at fal. A job fal completed before the cancellation
        landed is settled as completed (its result delivered); one fal had started running is
        charged its estimate, as fal bills it; one still in fal's queue is free."""
        job = await self._store.get_job(job.id) or job  # the watch may have seen it run
        ran = await self.ran_at_fal(job)
        taken = await self._fal_cancel_quietly(job)
        if taken and not ran:
            ran = await self.ran_at_fal(job)  # it may have started as the cancel went out
        if taken is False:
            late = await self._late_result(job, spec)
            if late is not None:
                outputs, seed = late
                async with self._settling.finish_before_stopping():
                    return await self._settle_result(
                        job, spec=spec, outputs=outputs, seed=seed, inference=None, started=started
                    )
            ran = True  # fal completed it: it is billed, though its result cannot be read
        error = BotError(
            ErrorCode.TIMEOUT,
            "fal took too long with this job.",
            hint="Try again; long videos may need a quieter moment.",
            request_id=job.request_id,
        )
        cancelled = BotError(ErrorCode.CANCELLED, error.message, request_id=job.request_id)
        charge = job.estimate_usd if fal_bills(cancelled, was_running=ran) else None
        await self.end(job, JobState.FAILED, error, charge_usd=charge)
        return None

    async def _late_result(
        self, job: Job, spec: ModelSpec
    ) -> tuple[tuple[Output, ...], int | None] | None:
        """The outputs of a job fal completed as falbot gave up on it; None when unreadable."""
        assert job.request_id is not None
        try:
            async with asyncio.timeout(min(LATE_RESULT_S, self._config.job_timeout)):
                data = await self.fal.result(job.endpoint, job.request_id)
            return self.fal.read_output(spec.kind, data)
        except (BotError, TimeoutError):
            log.info("no result for job %s, completed at fal as it timed out", job.short_id)
            return None

    async def _webhook_outcome(self, job: Job) -> FalOutcome | None:
        """With webhooks on: fal's webhook for this job, or None when none came in time (then
        the status is watched instead, so a lost webhook loses nothing)."""
        if not self._config.webhook_url or job.request_id is None:
            return None
        await self._replies.show(job, ProgressView(job.id, job.model, Stage.SUBMITTED))
        outcome = await self._webhooks.wait(job.request_id, within=self._config.webhook_wait)
        if outcome is None:
            log.info("no webhook for job %s in time; watching its status", job.short_id)
        return outcome

    async def _watch(self, job: Job, started: float) -> tuple[Job, float | None]:
        """Show fal's statuses until the request completes; the job and its inference time."""
        assert job.request_id is not None
        async with aclosing(self.fal.watch(job.endpoint, job.request_id)) as statuses:
            async for status in statuses:
                if status.state == "queued":
                    await self._replies.show(
                        job,
                        ProgressView(
                            job.id,
                            job.model,
                            Stage.SUBMITTED,
                            fal_position=status.queue_position,
                        ),
                    )
                elif status.state == "in_progress":
                    if job.state is JobState.SUBMITTED:
                        job = await self._move(job, JobState.RUNNING)
                    await self._replies.show(
                        job,
                        ProgressView(
                            job.id,
                            job.model,
                            Stage.RUNNING,
                            elapsed_s=self._clock.monotonic() - started,
                            last_log=status.logs[-1][:200] if status.logs else None,
                        ),
                    )
                else:
                    return job, status.inference_s
        return job, None

    async def _settle_result(
        self,
        job: Job,
        *,
        spec: ModelSpec,
        outputs: tuple[Output, ...],
        seed: int | None,
        inference: float | None,
        started: float,
    ) -> Job:
        pricing = admitted_pricing(spec.pricing, job.price_base_usd)
        cost = pricing.actual(job.arguments, outputs)
        result = JobResult(
            outputs=outputs,
            cost_usd=cost,
            seed=seed,
            inference_s=inference,
            cost_estimated=pricing.estimated,
        )
        job = await self._complete(job, result)
        self.mean_job_s = 0.8 * self.mean_job_s + 0.2 * (self._clock.monotonic() - started)
        return job

    async def _fal_cancel_quietly(self, job: Job) -> bool | None:
        """Cancel at fal: whether fal took it (False: it had completed; None: not known)."""
        if not job.request_id:
            return None
        try:
            return await self.fal.cancel(job.endpoint, job.request_id)
        except BotError:
            log.info("could not cancel job %s at fal", job.short_id)
            return None

    async def _complete(self, job: Job, result: JobResult) -> Job:
        now = self._clock.now()
        done = job.moved_to(JobState.COMPLETED, at=now, result=result, credits_settled=True)
        charged = to_credits(result.cost_usd, self._config.credit_usd)
        entry = LedgerEntry(
            job.id, job.workspace_id, job.user_id, job.model, result.cost_usd, charged, now
        )
        limits = await self.job_limits(job)
        await self._store.settle_job(done, JobSettlement(job.credits - charged, limits, entry))
        job_log.emit(
            job_log.JOB_SUCCEEDED,
            done,
            cost_usd=str(result.cost_usd),
            outputs=len(result.outputs),
            inference_s=result.inference_s,
        )
        return done

    async def end(
        self, job: Job, state: JobState, error: BotError, *, charge_usd: Decimal | None = None
    ) -> Job:
        """Fail or cancel a job, the user told: its credits back (once), or with `charge_usd`
        (fal ran it) that much charged, written to the ledger and counted in the budget."""
        async with self._settling.finish_before_stopping():
            return await self._end_now(job, state, error, charge_usd)

    async def _end_now(
        self, job: Job, state: JobState, error: BotError, charge_usd: Decimal | None
    ) -> Job:
        now = self._clock.now()
        charged, entry, result = Decimal(0), None, None
        if charge_usd is not None:
            charged = to_credits(charge_usd, self._config.credit_usd)
            entry = LedgerEntry(
                job.id, job.workspace_id, job.user_id, job.model, charge_usd, charged, now
            )
            result = JobResult(outputs=(), cost_usd=charge_usd)
            error = charged_error(error, charge_usd)
        ended = job.moved_to(state, at=now, error=error, result=result, credits_settled=True)
        limits = await self.job_limits(job)
        applied = await self._store.settle_job(
            ended, JobSettlement(job.credits - charged, limits, entry)
        )
        self.forget_cancel(job.id)
        job_log.emit(
            job_log.JOB_FAILED,
            ended,
            level=logging.WARNING,
            code=error.code.value,
            reason=error.message,
            **({} if charge_usd is None else {"cost_usd": str(charge_usd)}),
        )
        await self._deliverer.fail(ended, error, credits_returned=applied and entry is None)
        return ended

    async def job_limits(self, job: Job) -> BucketLimits:
        """The bucket limits a job settles and refunds with: those resolved at its admission,
        its user's roles included, so a return never overfills a role's small bucket nor cuts
        a generous one. A job stored before they were kept: the user's override, the
        workspace's or the default."""
        if job.limits is not None:
            return job.limits
        stored = await self._store.quotas(job.workspace_id, job.user_id, ())
        return resolve(stored, self._config.default_limits)

    async def _move(self, job: Job, state: JobState, **changes: Any) -> Job:
        moved = job.moved_to(state, at=self._clock.now(), **changes)
        await self._store.save_job(moved)
        return moved
