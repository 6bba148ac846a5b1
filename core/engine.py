"""The engine: admission → line → execution at fal → progress → delivery, and recovery."""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import uuid
from collections.abc import Callable, Coroutine, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from functools import partial
from typing import Any, Literal

from core import events
from core.catalog import Catalog, ModelSpec, parse_output
from core.circuit import CircuitBreaker
from core.errors import BotError, ErrorCode, invalid, not_allowed
from core.jobs import (
    Actor,
    DeliveredFile,
    Delivery,
    InputImage,
    Job,
    JobKind,
    JobRequest,
    JobResult,
    JobState,
    Output,
    ProgressView,
    Stage,
)
from core.nsfw import NSFW_CHANNEL, NsfwMode, screen
from core.policy import check_policy
from core.ports import Clock, FalGateway, JobSettlement, Reply, ReplyFactory, Store
from core.progress import ThrottledReply
from core.quota import Admission, BucketKey, BucketLimits, LedgerEntry, StoredRules, resolve
from core.scheduler import FairLine, Slots, wait_estimate
from core.settling import Settling
from core.usage import QuotaView, UsageReport, quota_view, usage_report
from core.webhooks import FalOutcome, WebhookOutcomes

log = logging.getLogger(__name__)

CREDIT_QUANTUM = Decimal("0.0001")
DATA_URI_MAX = 256 * 1024  # inputs up to this size go inline; larger ones to fal storage
# Telling the user (a result or a failure) is tried this often, backing off up to a minute
# between tries (about five minutes in all): a chat platform's outage should not lose it.
_TELL_ATTEMPTS = 8
_TELL_BACKOFF_MAX = 60.0


@dataclass(frozen=True)
class EngineConfig:
    default_limits: BucketLimits
    max_concurrency: int = 10
    max_waiting: int = 10_000
    max_in_flight_per_user: int = 4
    progress_interval: float = 1.5
    credit_usd: Decimal = Decimal("0.01")
    max_output_bytes: int = 100 * 1024 * 1024
    job_timeout: float = 1800.0
    webhook_url: str | None = None
    # With a webhook URL: how long to wait for fal's webhook before watching the status instead.
    webhook_wait: float = 300.0
    circuit_threshold: int = 5  # provider failures in a row that open the circuit
    circuit_cooldown: float = 30.0  # seconds it stays open before a probe (doubling per failure)
    nsfw: NsfwMode = NsfwMode.WITHHOLD  # outputs fal flags, outside NSFW channels, by default
    debug: bool = False


class Engine:
    """Owns every job from admission to its final state. All its tasks are kept and awaited."""

    def __init__(
        self,
        *,
        store: Store,
        fal: FalGateway,
        clock: Clock,
        catalog: Catalog,
        config: EngineConfig,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.config = config
        self._fal = fal
        self._clock = clock
        self._line = FairLine(config.max_waiting)
        self._slots = Slots(config.max_concurrency)
        self._factories: dict[str, ReplyFactory] = {}
        self._replies: dict[str, ThrottledReply] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancel_requested: set[str] = set()
        self._mean_job_s = 30.0
        self._accepting = False
        self._positions: asyncio.Task[None] | None = None
        self._slot_held_idle = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._circuit = CircuitBreaker(
            clock=clock, threshold=config.circuit_threshold, cooldown=config.circuit_cooldown
        )
        self._webhooks = WebhookOutcomes(clock=clock)
        self._settling = Settling()

    # ---- lifecycle

    def add_reply_factory(self, factory: ReplyFactory) -> None:
        self._factories[factory.platform] = factory

    async def start(self) -> None:
        """Pick up every unfinished job of a platform we serve, then start the dispatcher."""
        for job in await self.store.unfinished_jobs():
            if job.platform in self._factories:
                await self._recover(job)
        self._dispatcher = self._spawn(self._dispatch(), name="dispatcher")
        self._accepting = True

    async def drain(self, *, grace: float = 5.0) -> bool:
        """Stop gracefully: new jobs are refused with `busy` and nothing more is sent to fal;
        work caught half-way (a submit whose request id is not saved yet, a settlement, a
        delivery) gets up to `grace` seconds to finish; then `stop`. Jobs still waiting or at
        fal are picked up by the next start. False when the grace ran out first."""
        self._accepting = False
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        events.lifecycle("draining", waiting=len(self._line), settling=len(self._settling))
        settled = await self._settling.quiet(clock=self._clock, within=grace)
        if not settled:
            log.warning("stopping with %d job step(s) unfinished", len(self._settling))
        await self.stop()
        return settled

    async def stop(self) -> None:
        """Stop taking jobs and cancel every task; state is already persisted at each step."""
        self._accepting = False
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for reply in self._replies.values():
            await reply.close()
        self._replies.clear()

    @property
    def waiting(self) -> int:
        return len(self._line)

    @property
    def at_fal(self) -> int:
        """Jobs holding a fal slot, less the one the dispatcher holds while the line is empty."""
        return self._slots.in_use - (1 if self._slot_held_idle else 0)

    @property
    def circuit_state(self) -> str:
        """The fal circuit: `closed` (jobs flow), `open` (new jobs refused), `half_open`."""
        return self._circuit.state.value

    @property
    def accepting(self) -> bool:
        """Whether new jobs are taken (False before start and once stopping)."""
        return self._accepting

    def fal_webhook(self, outcome: FalOutcome) -> bool:
        """A request's outcome from fal's (verified) webhook; False when it came before."""
        return self._webhooks.deliver(outcome)

    # ---- admission

    async def submit(self, request: JobRequest, reply: Reply) -> Job:
        """Validate, check policy, quota and budget, persist and enqueue; or raise `BotError`."""
        try:
            return await self._admit(request, reply)
        except BotError as error:
            actor = request.actor
            events.refused(
                code=error.code.value,
                model=request.model[:40],
                workspace_id=actor.workspace_id,
                user_id=actor.user_id,
            )
            raise

    async def _admit(self, request: JobRequest, reply: Reply) -> Job:
        if not self._accepting:
            raise BotError(
                ErrorCode.BUSY,
                "falbot is restarting.",
                hint="Try again in a minute.",
                retry_after=60.0,
            )
        actor = request.actor
        kind = request.params.get("kind")
        spec = self.catalog.resolve(request.model, str(kind) if kind else None)
        params = spec.validate(request.params, image_count=len(request.images))
        try:
            self._circuit.check()
        except BotError:
            await self._check_policy(spec.name, actor)
            raise
        estimate = spec.pricing.estimate(params)
        now = self._clock.now()
        job = Job(
            id=uuid.uuid4().hex,
            platform=actor.platform,
            workspace_id=actor.workspace_id,
            user_id=actor.user_id,
            model=spec.name,
            kind=spec.kind,
            endpoint=spec.endpoint,
            arguments=params,
            estimate_usd=estimate,
            credits=self.credits_for(estimate),
            state=JobState.QUEUED,
            created_at=now,
            updated_at=now,
            reply_ref=dict(request.reply_ref)
            | ({NSFW_CHANNEL: True} if request.nsfw_channel else {}),
            input_count=len(request.images),
            parent_job_id=request.parent_job_id,
        )
        try:
            self._line.reserve(retry_after=self._busy_retry_after())
        except BotError:
            await self._check_policy(spec.name, actor)
            raise
        try:
            # The store reads and applies the workspace's policy, quotas and budget in the
            # same transaction that takes the credits: one round trip, no stale read.
            admission = Admission(
                bucket=BucketKey(actor.workspace_id, actor.user_id),
                limits=self.config.default_limits,
                max_in_flight=self.config.max_in_flight_per_user,
                budget=None,
                now=now,
                rules=StoredRules(spec.name, actor.roles),
            )
            await self.store.admit(job, images=request.images, admission=admission)
        except BaseException:
            self._line.unreserve()
            raise
        self._replies[job.id] = self._throttled(reply)
        self._line.put(self._user_key(job), job.id)
        prompt = str(params.get("prompt") or "")
        detail = {"prompt": prompt} if self.config.debug else events.redact(prompt)
        events.emit(events.JOB_QUEUED, job, estimate_usd=str(estimate), **detail)
        await self._show(
            job,
            ProgressView(
                job.id, job.model, Stage.QUEUED, position=len(self._line), line_size=len(self._line)
            ),
        )
        return job

    async def _check_policy(self, model: str, actor: Actor) -> None:
        """A denied model or a ban is said before `busy` or an open circuit, as the store
        would say it; read here only on those refusals, never on the way in."""
        policy = await self.store.policy(actor.workspace_id)
        check_policy(
            model,
            denied=model in policy.denied_models,
            banned=await self.store.is_banned(actor.workspace_id, actor.user_id),
        )

    def credits_for(self, usd: Decimal) -> Decimal:
        return (usd / self.config.credit_usd).quantize(CREDIT_QUANTUM, rounding=ROUND_CEILING)

    async def limits_for(self, actor: Actor) -> BucketLimits:
        quotas = await self.store.quotas(actor.workspace_id, actor.user_id, actor.roles)
        return resolve(quotas, self.config.default_limits)

    def _busy_retry_after(self) -> float:
        return wait_estimate(len(self._line), slots=self._slots.limit, mean_job_s=self._mean_job_s)

    # ---- account

    async def find_job(self, actor: Actor, job_ref: str) -> Job:
        """One of the actor's own jobs (an admin's: any in the workspace), by id or short id."""
        ref = job_ref.strip().lower()
        if len(ref) >= 32:
            found = await self.store.get_job(ref)
            candidates = [found] if found else []
        elif len(ref) < 4:
            candidates = []
        elif actor.is_admin:
            candidates = await self.store.jobs_by_prefix(actor.workspace_id, ref, limit=20)
        else:
            candidates = [
                j
                for j in await self.store.user_jobs(actor.workspace_id, actor.user_id, limit=200)
                if j.id.startswith(ref)
            ]
        for job in candidates:
            mine = job.user_id == actor.user_id
            if job.workspace_id == actor.workspace_id and (mine or actor.is_admin):
                return job
        raise BotError(
            ErrorCode.NOT_FOUND,
            f"I found no job `{job_ref[:40]}` of yours.",
            hint="/jobs lists your recent jobs and their ids.",
        )

    async def jobs(self, actor: Actor, *, limit: int = 10) -> list[Job]:
        return await self.store.user_jobs(actor.workspace_id, actor.user_id, limit=limit)

    async def models(self, workspace_id: str) -> list[ModelSpec]:
        denied = (await self.store.policy(workspace_id)).denied_models
        return [spec for spec in self.catalog.all() if spec.name not in denied]

    async def quota(self, actor: Actor) -> QuotaView:
        limits = await self.limits_for(actor)
        state = await self.store.bucket(
            BucketKey(actor.workspace_id, actor.user_id), limits, self._clock.now()
        )
        cheapest = self.credits_for(
            self.catalog.default_for(JobKind.IMAGE).pricing.estimate(
                {"aspect_ratio": "1:1", "num_images": 1}
            )
        )
        return quota_view(
            state, limits, next_job_credits=cheapest, credit_usd=self.config.credit_usd
        )

    async def usage(self, actor: Actor, *, days: int = 30, everyone: bool = False) -> UsageReport:
        """The actor's own spending; with `everyone` (admins only) the whole workspace's."""
        if everyone and not actor.is_admin:
            raise not_allowed("Only falbot admins can see everyone's usage.")
        return await usage_report(
            self.store, actor, days=days, now=self._clock.now(), everyone=everyone
        )

    async def cancel(self, actor: Actor, job_ref: str) -> Job:
        """Cancel one of the actor's jobs: waiting ones at once, ones at fal through fal."""
        job = await self.find_job(actor, job_ref)
        if job.state.final:
            raise invalid(f"Job {job.short_id} has already ended ({job.state.value}).")
        if job.state is JobState.QUEUED and self._line.remove(job.id):
            error = BotError(ErrorCode.CANCELLED, "Cancelled before it started.")
            return await self._end(job, JobState.CANCELLED, error)
        if (
            job.state.at_fal
            and job.request_id
            and not await self._fal.cancel(job.endpoint, job.request_id)
        ):
            raise invalid(f"Job {job.short_id} is already finishing at fal; too late to cancel.")
        self._cancel_requested.add(job.id)
        return job

    def follow_up(
        self,
        job: Job,
        *,
        action: Literal["rerun", "upscale", "edit"],
        actor: Actor,
        reply_ref: Mapping[str, Any],
        prompt: str | None = None,
        model: str | None = None,
        index: int = 0,
    ) -> JobRequest:
        """The request behind a result's Rerun, Upscale or Edit button."""
        if action == "rerun":
            params = {k: v for k, v in job.arguments.items() if k != "image_urls"}
            params["seed"] = random.randrange(2**31)  # a seed, not a secret
            urls = list(job.arguments.get("image_urls") or [])
            images = tuple(InputImage(content_type="image/*", url=u) for u in urls)
            if "seed" not in self.catalog.get(job.model).input_model.model_fields:
                params.pop("seed")
            return JobRequest(actor, job.model, params, images, reply_ref, job.id)
        outputs = job.result.outputs if job.result else ()
        images_out = [o for o in outputs if o.content_type.startswith("image/")]
        if not images_out:
            raise invalid("That result has no image to work on.")
        if action == "upscale":
            chosen = images_out[min(index, len(images_out) - 1)]
            image = InputImage(content_type=chosen.content_type, url=chosen.url)
            return JobRequest(actor, "", {"kind": "upscale"}, (image,), reply_ref, job.id)
        spec = self.catalog.get(model) if model else self.catalog.default_for(JobKind.EDIT)
        picked = images_out[: max(1, spec.max_input_images)]
        images = tuple(InputImage(content_type=o.content_type, url=o.url) for o in picked)
        return JobRequest(
            actor, spec.name, {"kind": "edit", "prompt": prompt or ""}, images, reply_ref, job.id
        )

    # ---- the line and the slots

    async def _dispatch(self) -> None:
        while True:
            await self._slots.acquire()
            self._slot_held_idle = True  # taken before a job is: not at fal yet
            probe = False
            try:
                probe = await self._circuit.ready()
                job_id = await self._line.get()
            except BaseException:
                self._slot_held_idle = False
                if probe:
                    self._circuit.probe_ended()
                await self._slots.release()
                raise
            self._slot_held_idle = False
            body = partial(self._execute_queued, probe=probe)
            self._spawn(self._run_in_slot(job_id, body), name=f"job-{job_id[:8]}")
            if self._positions is None or self._positions.done():
                self._positions = self._spawn(self._refresh_positions(), name="positions")

    async def _run_in_slot(self, job_id: str, body: Any) -> None:
        """Run `body` while holding a fal slot; the slot is free again before delivery."""
        completed: Job | None = None
        try:
            job = await self.store.get_job(job_id)
            if job is not None:
                completed = await body(job)
        except Exception:
            log.exception("job %s failed inside falbot", job_id[:8])
            await self._end_after_crash(job_id)
        finally:
            await self._slots.release()
        if completed is not None:
            await self._deliver(completed)

    async def _end_after_crash(self, job_id: str) -> None:
        job = await self.store.get_job(job_id)
        if job is not None and not job.state.final and job.state is not JobState.COMPLETED:
            await self._end(
                job,
                JobState.FAILED,
                BotError(
                    ErrorCode.INTERNAL,
                    "Something went wrong inside falbot.",
                    hint="Try again.",
                    request_id=job.request_id,
                ),
            )

    async def _refresh_positions(self, limit: int = 25) -> None:
        """Tell the first few waiting jobs their new place; the rest see it when they move up."""
        size = len(self._line)
        for n, job_id in enumerate(self._line.order(), start=1):
            if n > limit:
                break
            reply = self._replies.get(job_id)
            if reply is not None:
                await reply.progress(
                    ProgressView(job_id, "", Stage.QUEUED, position=n, line_size=size)
                )

    # ---- execution

    async def _execute_queued(self, job: Job, *, probe: bool = False) -> Job | None:
        if job.state is not JobState.QUEUED:
            return None
        try:
            async with self._settling.section():
                submitted = await self._submit(job)
        finally:
            if probe:
                self._circuit.probe_ended()
        return await self._follow_at_fal(submitted) if submitted is not None else None

    async def _submit(self, job: Job) -> Job | None:
        """Send a queued job to fal and save its request id; the submitted job, or None when
        it ended here (failed or cancelled, the user told)."""
        spec = self.catalog.get(job.model)
        try:
            # Inputs are uploaded while the job is still queued: a crash here sends nothing to
            # fal, so the next start simply runs the job again.
            inputs = await self.store.job_inputs(job.id) if job.input_count else []
            urls = [await self._input_url(img) for img in inputs]
            arguments = spec.arguments(job.arguments, urls)
            if job.id in self._cancel_requested:
                raise BotError(ErrorCode.CANCELLED, "Cancelled before it started.")
            job = await self._move(job, JobState.SUBMITTING)
            events.emit(events.JOB_STARTED, job)
            request_id = await self._fal.submit(
                job.endpoint, arguments, webhook_url=self.config.webhook_url
            )
        except BotError as error:
            self._circuit.observe(error)
            await self._end(
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
            await self.store.drop_job_inputs(job.id)
        return job

    async def _input_url(self, image: InputImage) -> str:
        if image.url is not None:
            return image.url
        assert image.data is not None
        if len(image.data) <= DATA_URI_MAX:
            return f"data:{image.content_type};base64,{base64.b64encode(image.data).decode()}"
        return await self._fal.upload(image.data, image.content_type)

    async def _follow_at_fal(self, job: Job) -> Job | None:
        """Follow a submitted job to its end at fal and settle it; the completed job, if any."""
        request_id = job.request_id
        assert request_id is not None
        spec = self.catalog.get(job.model)
        started = self._clock.monotonic()
        inference: float | None = None
        try:
            async with asyncio.timeout(self.config.job_timeout):
                outcome = await self._webhook_outcome(job)
                if outcome is not None and outcome.error is not None:
                    raise outcome.error
                if outcome is not None and outcome.data is not None:
                    data = dict(outcome.data)
                else:
                    if outcome is None:
                        job, inference = await self._watch(job, started)
                    data = await self._fal.result(job.endpoint, request_id)
                self._circuit.observe(None)
            outputs, seed = parse_output(spec.kind, data)
        except TimeoutError:
            await self._fal_cancel_quietly(job)
            await self._end(
                job,
                JobState.FAILED,
                BotError(
                    ErrorCode.TIMEOUT,
                    "fal took too long with this job.",
                    hint="Try again; long videos may need a quieter moment.",
                    request_id=job.request_id,
                ),
            )
            return None
        except BotError as error:
            self._circuit.observe(error)
            error.request_id = error.request_id or job.request_id
            cancelled = error.code is ErrorCode.CANCELLED or job.id in self._cancel_requested
            await self._end(job, JobState.CANCELLED if cancelled else JobState.FAILED, error)
            return None
        async with self._settling.section():
            return await self._settle_result(
                job, spec=spec, outputs=outputs, seed=seed, inference=inference, started=started
            )

    async def _webhook_outcome(self, job: Job) -> FalOutcome | None:
        """With webhooks on: fal's webhook for this job, or None when none came in time (then
        the status is watched instead, so a lost webhook loses nothing)."""
        if not self.config.webhook_url or job.request_id is None:
            return None
        await self._show(job, ProgressView(job.id, job.model, Stage.SUBMITTED))
        outcome = await self._webhooks.wait(job.request_id, within=self.config.webhook_wait)
        if outcome is None:
            log.info("no webhook for job %s in time; watching its status", job.short_id)
        return outcome

    async def _watch(self, job: Job, started: float) -> tuple[Job, float | None]:
        """Show fal's statuses until the request completes; the job and its inference time."""
        assert job.request_id is not None
        async with aclosing(self._fal.watch(job.endpoint, job.request_id)) as statuses:
            async for status in statuses:
                if status.state == "queued":
                    await self._show(
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
                    await self._show(
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
        cost = spec.pricing.actual(job.arguments, outputs)
        result = JobResult(outputs=outputs, cost_usd=cost, seed=seed, inference_s=inference)
        job = await self._complete(job, result)
        self._mean_job_s = 0.8 * self._mean_job_s + 0.2 * (self._clock.monotonic() - started)
        return job

    async def _fal_cancel_quietly(self, job: Job) -> None:
        if job.request_id:
            try:
                await self._fal.cancel(job.endpoint, job.request_id)
            except BotError:
                log.info("could not cancel timed-out job %s at fal", job.short_id)

    async def _complete(self, job: Job, result: JobResult) -> Job:
        now = self._clock.now()
        done = job.moved_to(JobState.COMPLETED, at=now, result=result, credits_settled=True)
        charged = self.credits_for(result.cost_usd)
        entry = LedgerEntry(
            job.id, job.workspace_id, job.user_id, job.model, result.cost_usd, charged, now
        )
        limits = await self._job_limits(job)
        await self.store.settle_job(done, JobSettlement(job.credits - charged, limits, entry))
        events.emit(
            events.JOB_SUCCEEDED,
            done,
            cost_usd=str(result.cost_usd),
            outputs=len(result.outputs),
            inference_s=result.inference_s,
        )
        return done

    async def _deliver(self, job: Job) -> None:
        """Fetch the outputs within the size cap and hand them to the reply; then delivered."""
        async with self._settling.section():
            await self._deliver_now(job)

    async def _deliver_now(self, job: Job) -> None:
        assert job.result is not None
        reply = self._reply(job)
        await reply.progress(ProgressView(job.id, job.model, Stage.UPLOADING))
        mode = (await self.store.policy(job.workspace_id)).nsfw or self.config.nsfw
        nsfw_channel = bool(job.reply_ref.get(NSFW_CHANNEL))
        files, withheld = [], 0
        for i, output in enumerate(job.result.outputs):
            shown = screen(flagged=output.nsfw, nsfw_channel=nsfw_channel, mode=mode)
            if shown is NsfwMode.WITHHOLD:
                withheld += 1  # never fetched, never handed to the platform
                continue
            try:
                data: bytes | None = await self._fal.download(
                    output.url, max_bytes=self.config.max_output_bytes
                )
            except BotError:
                data = None  # too big or unreachable: the reply links to it instead
            name = _file_name(job, i, output.content_type)
            spoiler = shown is NsfwMode.SPOILER
            files.append(DeliveredFile(output, data, name, spoiler=spoiler))
        elapsed = (self._clock.now() - job.created_at).total_seconds()
        delivery = Delivery(
            job=job, result=job.result, files=tuple(files), elapsed_s=elapsed, withheld=withheld
        )
        if not await self._tell(job, "delivery", lambda: reply.deliver(delivery)):
            return  # left completed: the next start delivers it again
        await self.store.save_job(job.moved_to(JobState.DELIVERED, at=self._clock.now()))
        self._replies.pop(job.id, None)

    async def _tell(
        self, job: Job, what: str, call: Callable[[], Coroutine[Any, Any, None]]
    ) -> bool:
        """Run one final message to the user, retried with backoff and jitter; False when
        every try failed."""
        for attempt in range(1, _TELL_ATTEMPTS + 1):
            try:
                await call()
                return True
            except Exception:
                log.warning(
                    "%s of job %s failed (attempt %d)", what, job.short_id, attempt, exc_info=True
                )
            if attempt < _TELL_ATTEMPTS:
                backoff = min(_TELL_BACKOFF_MAX, 2.0**attempt)
                await self._clock.sleep(backoff * random.uniform(0.5, 1.0))  # jitter, not secret
        return False

    async def _end(self, job: Job, state: JobState, error: BotError) -> Job:
        """Fail or cancel a job: credits back (once), the user told."""
        async with self._settling.section():
            return await self._end_now(job, state, error)

    async def _end_now(self, job: Job, state: JobState, error: BotError) -> Job:
        ended = job.moved_to(state, at=self._clock.now(), error=error, credits_settled=True)
        limits = await self._job_limits(job)
        applied = await self.store.settle_job(ended, JobSettlement(job.credits, limits))
        self._cancel_requested.discard(job.id)
        events.emit(
            events.JOB_FAILED,
            ended,
            level=logging.WARNING,
            code=error.code.value,
            reason=error.message,
        )
        reply = self._reply(ended)
        self._replies.pop(job.id, None)
        told = await self._tell(
            ended, "failure notice", lambda: reply.fail(ended, error, credits_returned=applied)
        )
        if not told:
            log.error("could not tell the user job %s failed", job.short_id)
        return ended

    async def _job_limits(self, job: Job) -> BucketLimits:
        # A returned credit never overfills the bucket the user has now.
        quotas = await self.store.quotas(job.workspace_id, job.user_id, ())
        return resolve(quotas, self.config.default_limits)

    async def _move(self, job: Job, state: JobState, **changes: Any) -> Job:
        moved = job.moved_to(state, at=self._clock.now(), **changes)
        await self.store.save_job(moved)
        return moved

    # ---- recovery

    async def _recover(self, job: Job) -> None:
        if job.state is JobState.QUEUED:
            self._line.put(self._user_key(job), job.id, reserved=False)
        elif job.state is JobState.SUBMITTING:
            # It may or may not have reached fal: never send it twice, never bill for it.
            await self._end(
                job,
                JobState.FAILED,
                BotError(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    "falbot restarted while sending this job to fal, so it was not run.",
                    hint="Run it again.",
                ),
            )
        elif job.state.at_fal:
            self._slots.take_now()
            self._spawn(
                self._run_in_slot(job.id, self._follow_at_fal), name=f"resume-{job.short_id}"
            )
        elif job.state is JobState.COMPLETED:
            self._spawn(self._deliver(job), name=f"deliver-{job.short_id}")

    # ---- replies and tasks

    def _throttled(self, reply: Reply) -> ThrottledReply:
        return ThrottledReply(reply, clock=self._clock, interval=self.config.progress_interval)

    def _reply(self, job: Job) -> ThrottledReply:
        reply = self._replies.get(job.id)
        if reply is None:
            reply = self._throttled(self._factories[job.platform].rebuild(job))
            self._replies[job.id] = reply
        return reply

    async def _show(self, job: Job, view: ProgressView) -> None:
        events.emit(events.JOB_PROGRESS, job, level=logging.DEBUG, stage=view.stage.value)
        await self._reply(job).progress(view)

    @staticmethod
    def _user_key(job: Job) -> str:
        return f"{job.workspace_id}/{job.user_id}"

    def _spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())


def _file_name(job: Job, index: int, content_type: str) -> str:
    ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "video/mp4": "mp4"}
    return f"falbot-{job.short_id}-{index + 1}.{ext.get(content_type, 'bin')}"
