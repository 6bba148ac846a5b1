"""Admin commands. The adapter says whether the caller is an admin; every method checks it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from core.admin_commands import (
    AdminCommand,
    AllowModel,
    Amount,
    Ban,
    Refund,
    SetBudget,
    SetConfirmAbove,
    SetNsfw,
    SetPrivateMode,
    SetQuota,
    ShowQuota,
)
from core.confirmations import parse_threshold
from core.engine import Engine
from core.errors import BotError, ErrorCode, invalid
from core.jobs import Actor
from core.markup import role_ref, user_ref
from core.money import format_usd
from core.nsfw import NsfwMode
from core.ports import Clock
from core.privacy import set_private_allowed
from core.quota import BucketKey, BucketLimits, Budget, LedgerEntry, QuotaScope, resolve
from core.usage import UsageReport

MAX_CREDITS = Decimal(1_000_000)
MAX_USD = Decimal(1_000_000)
_OFF = {"none", "off", "unlimited", "-"}


def parse_amount(value: str | int | float | Decimal, *, name: str, limit: Decimal) -> Decimal:
    """A non-negative, finite number no larger than `limit`, from whatever the admin typed."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid(f"`{name}` must be a number, not `{str(value)[:20]}`.") from None
    if not amount.is_finite() or amount < 0 or amount > limit:
        raise invalid(f"`{name}` must be a number from 0 to {limit:,}.", "For example 100.")
    return amount.quantize(Decimal("0.0001"))


def _target_id(target: str) -> str:
    cleaned = target.strip().removeprefix("<@").removeprefix("&").removeprefix("!").rstrip(">")
    if not cleaned or len(cleaned) > 64 or not cleaned.replace("-", "").replace("_", "").isalnum():
        raise invalid(
            f"`{target[:40]}` is not a user or role I recognise.",
            "Mention the user or role, or give its id.",
        )
    return cleaned


class AdminService:
    def __init__(self, *, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._store = engine.store
        self._clock = clock

    async def handle(self, command: AdminCommand, *, actor: Actor) -> str:
        """Do an admin command for `actor` (an admin, or it is refused) and say what it did."""
        self._check(actor)
        match command:
            case SetQuota():
                return await self._quota_set(actor, command)
            case ShowQuota():
                return await self._quota_show(actor, command)
            case SetBudget():
                return await self._budget_set(actor, command)
            case AllowModel():
                return await self._models_allow(actor, command)
            case SetNsfw():
                return await self._nsfw_set(actor, command)
            case Ban():
                return await self._ban(actor, command)
            case Refund():
                return await self._refund(actor, command)
            case SetConfirmAbove():
                usd = parse_threshold(command.usd)
                return await self._engine.quotes.set_threshold(actor.workspace_id, usd)
            case SetPrivateMode():
                await set_private_allowed(self._store, actor.workspace_id, command.allowed)
                if command.allowed:
                    return "Private mode is allowed here: people may ask for results only they see."
                return "Private mode is forbidden here: every result is shown in its channel."

    @staticmethod
    def _check(actor: Actor) -> None:
        if not actor.is_admin:
            raise BotError(
                ErrorCode.NOT_ALLOWED,
                "Only falbot admins can do that.",
                hint="Ask someone who manages this workspace.",
            )

    async def _quota_set(self, actor: Actor, command: SetQuota) -> str:
        scope = command.scope
        limits = BucketLimits(
            parse_amount(command.capacity, name="capacity", limit=MAX_CREDITS),
            parse_amount(command.refill_per_hour, name="refill_per_hour", limit=MAX_CREDITS),
        )
        workspace = scope is QuotaScope.WORKSPACE
        target_id = actor.workspace_id if workspace else _target_id(command.target)
        await self._store.set_quota(actor.workspace_id, scope, target_id, limits)
        who = {
            QuotaScope.WORKSPACE: "everyone here",
            QuotaScope.ROLE: f"the role {role_ref(target_id)}",
            QuotaScope.USER: user_ref(target_id),
        }[scope]
        return (
            f"Quota for {who}: {limits.capacity.normalize():f} credits, "
            f"refilling {limits.refill_per_hour.normalize():f} an hour."
        )

    async def _quota_show(self, actor: Actor, command: ShowQuota) -> str:
        user_id = _target_id(command.user_id)
        quotas = await self._store.quotas(actor.workspace_id, user_id, command.roles)
        limits = resolve(quotas, self._engine.config.default_limits)
        state = await self._store.bucket(
            BucketKey(actor.workspace_id, user_id), limits, self._clock.now()
        )
        source = (
            "own override"
            if quotas.user
            else "role"
            if quotas.roles
            else ("workspace default" if quotas.workspace else "global default")
        )
        return (
            f"{user_ref(user_id)}: {state.level.quantize(Decimal('0.01'))} of "
            f"{limits.capacity.normalize():f} credits, refilling "
            f"{limits.refill_per_hour.normalize():f} an hour ({source})."
        )

    async def _budget_set(self, actor: Actor, command: SetBudget) -> str:
        def parse(value: Amount | None, name: str) -> Decimal | None:
            if value is None or str(value).strip().lower() in _OFF:
                return None
            return parse_amount(value, name=name, limit=MAX_USD)

        budget = Budget(
            parse(command.daily_usd, "daily_usd"), parse(command.monthly_usd, "monthly_usd")
        )
        await self._store.set_budget(actor.workspace_id, budget)
        daily = format_usd(budget.daily_usd) if budget.daily_usd is not None else "no limit"
        monthly = format_usd(budget.monthly_usd) if budget.monthly_usd is not None else "no limit"
        return f"Budget: {daily} a day, {monthly} a month."

    async def _models_allow(self, actor: Actor, command: AllowModel) -> str:
        spec = self._engine.live_catalog.get(command.model)
        await self._store.set_model_denied(actor.workspace_id, spec.name, not command.allowed)
        if command.allowed:
            return f"{spec.name} is allowed here."
        return f"{spec.name} is no longer allowed here."

    async def _nsfw_set(self, actor: Actor, command: SetNsfw) -> str:
        """What this workspace does with outputs fal flags as NSFW, outside NSFW channels."""
        chosen = NsfwMode.parse(command.mode)
        await self._store.set_nsfw(actor.workspace_id, chosen)
        said = {
            NsfwMode.WITHHOLD: "are withheld",
            NsfwMode.SPOILER: "are shown behind a spoiler",
            NsfwMode.ALLOW: "are shown",
        }[chosen]
        return f"Outputs fal flags as NSFW {said} outside NSFW channels."

    async def _ban(self, actor: Actor, command: Ban) -> str:
        target = _target_id(command.user_id)
        if command.banned and target == actor.user_id:
            raise invalid("You cannot ban yourself.")
        await self._store.set_banned(actor.workspace_id, target, command.banned)
        if command.banned:
            return f"{user_ref(target)} can no longer use falbot here."
        return f"{user_ref(target)} can use falbot here again."

    async def usage(self, actor: Actor, days: int = 30) -> UsageReport:
        self._check(actor)
        return await self._engine.usage(actor, days=days, everyone=True)

    async def _refund(self, actor: Actor, command: Refund) -> str:
        """Give a finished job's cost back to its user, once."""
        job = await self._engine.find_job(actor, command.job_id)
        if job.result is None or not job.credits_settled:
            # Charged: delivered, or ended once fal had started it (fal bills that too).
            raise invalid(
                f"Job {job.short_id} was not charged ({job.state.value}).",
                "Jobs fal never ran return their credits by themselves.",
            )
        charged = self._engine.credits_for(job.result.cost_usd)
        entry = LedgerEntry(
            job.id,
            job.workspace_id,
            job.user_id,
            job.model,
            -job.result.cost_usd,
            charged,
            self._clock.now(),
            kind="refund",
        )
        limits = await self._engine.settlement_limits(job)
        if not await self._store.refund(
            entry, bucket=BucketKey(job.workspace_id, job.user_id), limits=limits
        ):
            raise invalid(f"Job {job.short_id} was refunded before.")
        return (
            f"Refunded {format_usd(job.result.cost_usd)} ({charged.normalize():f}"
            f" credits) for job {job.short_id} to {user_ref(job.user_id)}."
        )
