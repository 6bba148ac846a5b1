"""What a person reads about their own account: their jobs, the models they may use, their
quota and their spending. A part of `Engine` (its base), reading through the store."""

from __future__ import annotations

from decimal import Decimal

from core.catalog import ModelSpec
from core.config import EngineConfig
from core.errors import not_allowed
from core.intake import find_job
from core.jobs import Actor, Job, JobKind
from core.live_catalog import LiveCatalog
from core.ports import Clock, Store
from core.quota import BucketKey, BucketLimits, resolve, to_credits
from core.usage import QuotaView, UsageReport, quota_view, usage_report


class AccountViews:
    store: Store
    config: EngineConfig
    live_catalog: LiveCatalog
    _clock: Clock

    def credits_for(self, usd: Decimal) -> Decimal:
        return to_credits(usd, self.config.credit_usd)

    async def limits_for(self, actor: Actor) -> BucketLimits:
        quotas = await self.store.quotas(actor.workspace_id, actor.user_id, actor.roles)
        return resolve(quotas, self.config.default_limits)

    async def find_job(self, actor: Actor, job_ref: str) -> Job:
        """One of the actor's own jobs (an admin's: any in the workspace), by id or short id."""
        return await find_job(self.store, actor, job_ref)

    async def jobs(self, actor: Actor, *, limit: int = 10) -> list[Job]:
        return await self.store.user_jobs(actor.workspace_id, actor.user_id, limit=limit)

    async def models(self, workspace_id: str) -> list[ModelSpec]:
        denied = (await self.store.policy(workspace_id)).denied_models
        return [spec for spec in self.live_catalog.all() if spec.name not in denied]

    async def quota(self, actor: Actor) -> QuotaView:
        limits = await self.limits_for(actor)
        state = await self.store.bucket(
            BucketKey(actor.workspace_id, actor.user_id), limits, self._clock.now()
        )
        default = self.live_catalog.default_for(JobKind.IMAGE)
        one_image = self.credits_for(
            default.pricing.estimate({"aspect_ratio": "1:1", "num_images": 1})
        )
        return quota_view(
            state,
            limits,
            next_job_credits=one_image,
            credit_usd=self.config.credit_usd,
            model=default.name,
        )

    async def usage(self, actor: Actor, *, days: int = 30, everyone: bool = False) -> UsageReport:
        """The actor's own spending; with `everyone` (admins only) the whole workspace's."""
        if everyone and not actor.is_admin:
            raise not_allowed("Only falbot admins can see everyone's usage.")
        return await usage_report(
            self.store, actor, days=days, now=self._clock.now(), everyone=everyone
        )
