"""Token buckets, quota limits and budgets: the pure arithmetic. Stores call it atomically."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum


class QuotaScope(StrEnum):
    USER = "user"
    ROLE = "role"
    WORKSPACE = "workspace"


@dataclass(frozen=True)
class BucketLimits:
    """`capacity` credits at most (the burst), refilled at `refill_per_hour` credits an hour."""

    capacity: Decimal
    refill_per_hour: Decimal


@dataclass(frozen=True)
class BucketKey:
    workspace_id: str
    user_id: str


@dataclass(frozen=True)
class BucketState:
    level: Decimal
    updated_at: datetime


@dataclass(frozen=True)
class TakeResult:
    ok: bool
    state: BucketState
    retry_after: float | None = None  # seconds until the amount fits, None when it never will


CREDIT_QUANTUM = Decimal("0.0001")


def to_credits(usd: Decimal, credit_usd: Decimal) -> Decimal:
    """USD in credits of `credit_usd` each, rounded up to a ten-thousandth of a credit."""
    return (usd / credit_usd).quantize(CREDIT_QUANTUM, rounding=ROUND_CEILING)


def refill(state: BucketState | None, limits: BucketLimits, now: datetime) -> BucketState:
    """The bucket as it stands at `now`: a new bucket starts full; refill is lazy and capped.

    A bucket never holds more than its current capacity: when an admin lowers a quota, a level
    kept from the old one is cut to the new capacity, so the very next job sees it."""
    if state is None:
        return BucketState(limits.capacity, now)
    micros = max(0, (now - state.updated_at) // timedelta(microseconds=1))
    elapsed = Decimal(micros) / Decimal(1_000_000)
    gained = elapsed * limits.refill_per_hour / Decimal(3600)
    return BucketState(min(limits.capacity, state.level + gained), now)


def take(
    state: BucketState | None, limits: BucketLimits, amount: Decimal, now: datetime
) -> TakeResult:
    """Take `amount` credits if they are there; else say when they will be, to the second."""
    current = refill(state, limits, now)
    if current.level >= amount:
        return TakeResult(True, BucketState(current.level - amount, now))
    if amount > limits.capacity or limits.refill_per_hour <= 0:
        return TakeResult(False, current, None)
    missing = amount - current.level
    seconds = missing * Decimal(3600) / limits.refill_per_hour
    return TakeResult(False, current, float(math.ceil(seconds)))


def give(
    state: BucketState | None, limits: BucketLimits, amount: Decimal, now: datetime
) -> BucketState:
    """Return credits (or, with a negative amount, take more); a return never overfills."""
    current = refill(state, limits, now)
    level = current.level + amount
    if amount > 0:
        level = min(level, limits.capacity)
    return BucketState(level, now)


@dataclass(frozen=True)
class Quotas:
    """Every limit that may apply to one user, as stored. Resolved by `resolve`."""

    user: BucketLimits | None = None
    roles: tuple[BucketLimits, ...] = ()
    workspace: BucketLimits | None = None


def resolve(quotas: Quotas, default: BucketLimits) -> BucketLimits:
    """user override → the most generous of the user's roles → workspace → global default."""
    if quotas.user is not None:
        return quotas.user
    if quotas.roles:
        return max(quotas.roles, key=lambda q: (q.capacity, q.refill_per_hour))
    if quotas.workspace is not None:
        return quotas.workspace
    return default


@dataclass(frozen=True)
class Budget:
    """A workspace's spend limits in USD; None means no limit."""

    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None


@dataclass(frozen=True)
class BudgetCheck:
    """A budget with the instants its day and month began, as core computes them."""

    budget: Budget
    day_start: datetime
    month_start: datetime


@dataclass(frozen=True)
class StoredRules:
    """The workspace's own rules, for a store to read and apply inside `admit`'s transaction.

    First `model` must not be denied in the workspace and the user not banned there. Then the
    quota stored for the user, the most generous of their `roles`, or the workspace replaces
    `Admission.limits` (which stays the default), and the workspace's stored budget, if any, is
    the one checked (its day and month begin as `core.usage.budget_check` says).
    """

    model: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Admission:
    """Everything a store checks and changes, atomically, to admit one job.

    Without `rules`, `limits` and `budget` are applied as given; with them, the store reads the
    workspace's rules in the same transaction (one round trip for the engine, not four).
    """

    bucket: BucketKey
    limits: BucketLimits
    max_in_flight: int
    budget: BudgetCheck | None
    now: datetime
    rules: StoredRules | None = None


@dataclass(frozen=True)
class LedgerEntry:
    """One charge (or, negative, one refund) in USD, written once per job and kind."""

    job_id: str
    workspace_id: str
    user_id: str
    model: str
    cost_usd: Decimal
    credits: Decimal
    at: datetime
    kind: str = "charge"  # "charge" | "refund"
