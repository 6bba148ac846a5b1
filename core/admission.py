"""Admission, in milliseconds: schema → policy → circuit → line room → the store's one atomic
admit (policy, quotas, in-flight cap, budget, bucket) → the line, with the first progress.

Before a request with images is fetched, `precheck` refuses, reading only, what admission
would refuse anyway: downloading and decoding a banned user's images costs everyone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from core import events
from core.billing import base_price
from core.catalog import Catalog
from core.circuit import CircuitBreaker
from core.config import EngineConfig
from core.dispatch import line_key
from core.errors import BotError
from core.jobs import Actor, Job, JobRequest, JobState, ProgressView, Stage
from core.nsfw import NSFW_CHANNEL
from core.policy import check_policy
from core.ports import Clock, Reply, Store, UsageFilter
from core.quota import Admission, BucketKey, BudgetCheck, StoredRules, resolve, take, to_credits
from core.refusals import bucket_refusal, check_budget
from core.replies import JobReplies
from core.scheduler import FairLine
from core.usage import budget_check


class Admitter:
    def __init__(
        self,
        *,
        store: Store,
        catalog: Catalog,
        clock: Clock,
        config: EngineConfig,
        circuit: CircuitBreaker,
        line: FairLine,
        replies: JobReplies,
        busy_retry_after: Callable[[], float],
    ) -> None:
        self._store = store
        self.catalog = catalog  # the engine swaps it when prices are refreshed
        self._clock = clock
        self._config = config
        self._circuit = circuit
        self._line = line
        self._replies = replies
        self._busy_retry_after = busy_retry_after

    async def admit(self, request: JobRequest, reply: Reply, *, hold: bool = False) -> Job:
        """Validate, check policy, quota and budget, persist and enqueue; or raise `BotError`.
        With `hold`, the job keeps its place reserved but waits for `release` (or `withdraw`):
        the adapter first shows it somewhere."""
        actor = request.actor
        kind = request.params.get("kind")
        spec = self.catalog.resolve(request.model, str(kind) if kind else None)
        params = spec.validate(request.params, image_count=len(request.images))
        try:
            self._circuit.check()
        except BotError:
            await self._check_policy(spec.name, actor)
            raise
        estimate = spec.pricing.estimate(params, input_images=len(request.images))
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
            reply_ref=dict(request.reply_ref)
            | ({NSFW_CHANNEL: True} if request.nsfw_channel else {}),
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
            # The store reads and applies the workspace's policy, quotas and budget in the
            # same transaction that takes the credits: one round trip, no stale read.
            admission = Admission(
                bucket=BucketKey(actor.workspace_id, actor.user_id),
                limits=self._config.default_limits,
                max_in_flight=self._config.max_in_flight_per_user,
                budget=None,
                now=now,
                rules=StoredRules(spec.name, actor.roles),
            )
            job = await self._store.admit(job, images=request.images, admission=admission)
        except BaseException:
            self._line.unreserve()
            raise
        self._replies.hold(job.id, reply)
        prompt = str(params.get("prompt") or "")
        detail = {"prompt": prompt} if self._config.debug else events.redact(prompt)
        events.emit(events.JOB_QUEUED, job, estimate_usd=str(estimate), **detail)
        if not hold:
            await self.release(job)
        return job

    async def release(self, job: Job) -> None:
        """Put an admitted job in the line (in its reserved place) and show it there."""
        self._line.put(line_key(job), job.id)
        await self._replies.show(
            job,
            ProgressView(
                job.id, job.model, Stage.QUEUED, position=len(self._line), line_size=len(self._line)
            ),
        )

    async def precheck(self, request: JobRequest, *, images: int = 1) -> None:
        """Refuse now, reading only, what `admit` would refuse for `request` once its `images`
        images are fetched: its options, a denied model, a ban, a budget spent, a job the
        user's bucket cannot hold now. Jobs still in flight are left out (they are admission's
        to count), so this never refuses what admission would take; admission still runs."""
        actor = request.actor
        kind = request.params.get("kind")
        spec = self.catalog.resolve(request.model, str(kind) if kind else None)
        params = spec.validate(request.params, image_count=images)
        policy = await self._store.policy(actor.workspace_id)
        check_policy(
            spec.name,
            denied=spec.name in policy.denied_models,
            banned=await self._store.is_banned(actor.workspace_id, actor.user_id),
        )
        estimate = spec.pricing.estimate(params, input_images=images)
        now = self._clock.now()
        if (budget := budget_check(policy.budget, now)) is not None:
            await self._check_spent(actor.workspace_id, budget, estimate=estimate, now=now)
        credits = to_credits(estimate, self._config.credit_usd)
        quotas = await self._store.quotas(actor.workspace_id, actor.user_id, actor.roles)
        limits = resolve(quotas, self._config.default_limits)
        state = await self._store.bucket(BucketKey(actor.workspace_id, actor.user_id), limits, now)
        taken = take(state, limits, credits, now)
        if not taken.ok:
            raise bucket_refusal(taken, amount=credits, limits=limits)

    async def _check_spent(
        self, workspace_id: str, budget: BudgetCheck, *, estimate: Decimal, now: datetime
    ) -> None:
        since = min(budget.day_start, budget.month_start)
        entries = await self._store.ledger(UsageFilter(workspace_id, since))

        def spent(start: datetime) -> Decimal:
            return sum((e.cost_usd for e in entries if e.at >= start), Decimal(0))

        check_budget(
            budget,
            spent_day=spent(budget.day_start),
            spent_month=spent(budget.month_start),
            pending=Decimal(0),
            estimate=estimate,
            now=now,
        )

    async def _check_policy(self, model: str, actor: Actor) -> None:
        """A denied model or a ban is said before `busy` or an open circuit, as the store
        would say it; read here only on those refusals, never on the way in."""
        policy = await self._store.policy(actor.workspace_id)
        check_policy(
            model,
            denied=model in policy.denied_models,
            banned=await self._store.is_banned(actor.workspace_id, actor.user_id),
        )
