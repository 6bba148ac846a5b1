"""What users and admins see of their account: the bucket now, and spend over a period."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.jobs import Actor
from core.ports import Store, UsageFilter
from core.quota import BucketLimits, BucketState, Budget, BudgetCheck, LedgerEntry


@dataclass(frozen=True)
class QuotaView:
    level: Decimal
    capacity: Decimal
    refill_per_hour: Decimal
    credit_usd: Decimal
    next_job_credits: Decimal
    next_job_in_s: float | None  # 0 when a job fits now; None when none ever will
    at: datetime | None = None  # when the bucket was read: the clock the wait counts from
    next_job_model: str = ""  # the model the next job's cost is for (the default one)


def quota_view(
    state: BucketState,
    limits: BucketLimits,
    *,
    next_job_credits: Decimal,
    credit_usd: Decimal,
    model: str = "",
) -> QuotaView:
    missing = next_job_credits - state.level
    if missing <= 0:
        wait: float | None = 0.0
    elif limits.refill_per_hour > 0 and next_job_credits <= limits.capacity:
        wait = float(missing * 3600 / limits.refill_per_hour)
    else:
        wait = None
    return QuotaView(
        state.level,
        limits.capacity,
        limits.refill_per_hour,
        credit_usd,
        next_job_credits,
        wait,
        at=state.updated_at,
        next_job_model=model,
    )


def budget_check(budget: Budget, now: datetime) -> BudgetCheck | None:
    if budget.daily_usd is None and budget.monthly_usd is None:
        return None
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return BudgetCheck(budget, day_start, day_start.replace(day=1))


@dataclass(frozen=True)
class UsageReport:
    workspace_id: str
    user_id: str | None  # None: everyone in the workspace
    since: datetime
    until: datetime
    entries: tuple[LedgerEntry, ...]

    @property
    def total_usd(self) -> Decimal:
        return sum((e.cost_usd for e in self.entries), Decimal(0))

    @property
    def jobs(self) -> int:
        return len({e.job_id for e in self.entries if e.kind == "charge"})

    def by(self, key: str) -> dict[str, Decimal]:
        """Spend by `model` or `user_id`, largest first."""
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for e in self.entries:
            totals[str(getattr(e, key))] += e.cost_usd
        return dict(sorted(totals.items(), key=lambda kv: kv[1], reverse=True))

    def per_day(self, key: str = "model") -> dict[date, dict[str, Decimal]]:
        """Spend per day, split by `model` or `user_id`: what the chart draws."""
        days: dict[date, dict[str, Decimal]] = {}
        day = self.since.date()
        while day <= self.until.date():
            days[day] = {}
            day += timedelta(days=1)
        for e in self.entries:
            bucket = days.setdefault(e.at.date(), {})
            name = str(getattr(e, key))
            bucket[name] = bucket.get(name, Decimal(0)) + e.cost_usd
        return days


async def usage_report(
    store: Store, actor: Actor, *, days: int, now: datetime, everyone: bool
) -> UsageReport:
    days = max(1, min(days, 366))
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    user = None if everyone else actor.user_id
    entries = await store.ledger(UsageFilter(actor.workspace_id, since, user_id=user))
    return UsageReport(actor.workspace_id, user, since, now, tuple(entries))
