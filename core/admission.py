"""Admission, in milliseconds: schema → policy → circuit → line room → one unit of work at the
store (it loads the state, `core.admission_rules.decide` rules on policy, quotas, in-flight cap,
budget and bucket, the store commits the decision) → the line, with the first progress.

Before a request with images is fetched, `precheck` refuses, reading only, what admission
would refuse anyway: downloading and decoding a banned user's images costs everyone."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from core import job_log
from core.admission_rules import AdmissionKey, check, decide
from core.billing import base_price
from core.catalog import ModelSpec
from core.circuit import CircuitBreaker
from core.config import EngineConfig
from core.errors import BotError
from core.jobs import (
    PRIVATE_KEY,
    Actor,
    InputImage,
    Job,
    JobRequest,
    JobState,
    ProgressView,
    Stage,
)
from core.line import Line
from core.live_catalog import LiveCatalog
from core.nsfw import check_reuse
from core.policy import check_policy
from core.ports import Clock, Reply, Store
from core.pricing import estimate_for
from core.quota import BucketLimits, to_credits
from core.replies import JobReplies


async def admit_job(
    store: Store,
    job: Job,
    *,
    images: Sequence[InputImage],
    roles: Sequence[str],
    default_limits: BucketLimits,
    max_in_flight: int,
    now: datetime,
) -> Job:
    """Admit `job` in one unit of work at `store`: load, decide, commit; or raise the
    `BotError` that refuses it, having changed nothing. Returns the job as stored."""
    async with store.admission(AdmissionKey.of(job, roles=roles, now=now)) as unit:
        admitted = decide(
            unit.state,
            job,
            images=images,
            default_limits=default_limits,
            max_in_flight=max_in_flight,
            now=now,
        )
        await unit.commit(admitted)
    return admitted.job


class Admitter:
    def __init__(
        self,
        *,
        store: Store,
        models: LiveCatalog,
        clock: Clock,
        config: EngineConfig,
        circuit: CircuitBreaker,
        line: Line,
        replies: JobReplies,
        busy_retry_after: Callable[[], float],
    ) -> None:
        self._store = store
        self._models = models
        self._clock = clock
        self._config = config
        self._circuit = circuit
        self._line = line
        self._replies = replies
        self._busy_retry_after = busy_retry_after

    @property
    def clock(self) -> Clock:
        return self._clock

    async def admit(self, request: JobRequest, reply: Reply, *, hold: bool = False) -> Job:
        """Validate, check policy, quota and budget, persist and enqueue; or raise `BotError`.
        With `hold`, the job keeps its place reserved but waits for `release` (or `withdraw`):
        the adapter first shows it somewhere."""
        actor = request.actor
        spec = self._models.for_kind(request.kind, request.model)
        params = spec.validate(request.params, image_count=len(request.images))
        if request.flagged_input:
            mode = (await self._store.policy(actor.workspace_id)).nsfw or self._config.nsfw
            channel = request.channel
            check_reuse(nsfw_channel=channel.nsfw, mode=mode, spoilers=channel.spoilers)
        try:
            self._circuit.check()
        except BotError:
            await self._check_policy(spec.name, actor)
            raise
        sizes = [(i.width, i.height) for i in request.images]
        estimate = estimate_for(spec.pricing, params, sizes)
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
            credits=to_credits(estimate, self._config.credit_usd),
            state=JobState.QUEUED,
            created_at=now,
            updated_at=now,
            reply_ref={**request.reply_ref, **({PRIVATE_KEY: True} if request.private else {})},
            nsfw_channel=request.channel.nsfw,
            nsfw_input=request.flagged_input,
            input_count=len(request.images),
            parent_job_id=request.parent_job_id,
            price_base_usd=base_price(spec.pricing),
        )
        try:
            self._line.reserve(retry_after=self._busy_retry_after())
        except BotError:
            await self._check_policy(spec.name, actor)
            raise
        try:
            # The store loads the workspace's policy, quotas, budget and the user's bucket in
            # the transaction that writes the job: one round trip, no stale read.
            job = await admit_job(
                self._store,
                job,
                images=request.images,
                roles=actor.roles,
                default_limits=self._config.default_limits,
                max_in_flight=self._config.max_in_flight_per_user,
                now=now,
            )
        except BaseException:
            self._line.unreserve()
            raise
        self._replies.hold(job.id, reply)
        prompt = str(params.get("prompt") or "")
        detail = {"prompt": prompt} if self._config.debug else job_log.redact(prompt)
        job_log.emit(job_log.JOB_QUEUED, job, estimate_usd=str(estimate), **detail)
        if not hold:
            await self.release(job)
        return job

    async def release(self, job: Job) -> None:
        """Put an admitted job in the line (in its reserved place) and show it there."""
        if not self._line.shared:
            await self._line.put(job)
            await self._show_queued(job, len(self._line))
            return
        # A shared line: shown before any process can claim it (a later edit would undo
        # that one's), then let go: whichever process claims it rebuilds its reply.
        await self._show_queued(job, len(self._line) + 1)
        await self._line.put(job)
        await self._replies.let_go(job.id)

    async def _show_queued(self, job: Job, position: int) -> None:
        view = ProgressView(job.id, job.model, Stage.QUEUED, position=position, line_size=position)
        await self._replies.show(job, view)

    async def precheck(self, request: JobRequest, *, images: int = 1) -> ModelSpec:
        """Refuse now, reading only, what `admit` would refuse for `request` once its `images`
        images are fetched: its options, a denied model, a ban, a budget spent, a job the
        user's bucket cannot hold now. Jobs still in flight are left out (they are admission's
        to count), so this never refuses what admission would take; admission still runs."""
        actor = request.actor
        spec = self._models.for_kind(request.kind, request.model)
        params = spec.validate(request.params, image_count=images)
        estimate = spec.pricing.estimate(params, input_images=images)
        now = self._clock.now()
        key = AdmissionKey.at(
            now,
            workspace_id=actor.workspace_id,
            user_id=actor.user_id,
            model=spec.name,
            roles=actor.roles,
        )
        state = await self._store.admission_state(key)
        if state.spending is not None:
            state = dataclasses.replace(
                state, spending=dataclasses.replace(state.spending, pending=Decimal(0))
            )
        check(
            dataclasses.replace(state, in_flight=0),
            model=spec.name,
            estimate_usd=estimate,
            credits=to_credits(estimate, self._config.credit_usd),
            default_limits=self._config.default_limits,
            max_in_flight=self._config.max_in_flight_per_user,
            now=now,
        )
        return spec

    async def _check_policy(self, model: str, actor: Actor) -> None:
        """A denied model or a ban is said before `busy` or an open circuit, as the store
        would say it; read here only on those refusals, never on the way in."""
        policy = await self._store.policy(actor.workspace_id)
        check_policy(
            model,
            denied=model in policy.denied_models,
            banned=await self._store.is_banned(actor.workspace_id, actor.user_id),
        )
