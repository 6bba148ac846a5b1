"""The admission refusals every store gives in the same words: in-flight cap, budget, bucket.

Pure functions: a store gathers the figures inside its transaction and asks these whether to
refuse. They hold no SQL, so a PostgreSQL store (and the in-memory fake) reuse them as they are.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from core.errors import BotError, ErrorCode
from core.money import format_usd
from core.quota import BucketLimits, BudgetCheck, TakeResult

_CENT = Decimal("0.01")


def credits(amount: Decimal) -> str:
    """`2.5 credits`: two decimals at most, no trailing zeros."""
    value = amount.quantize(_CENT, rounding=ROUND_DOWN).normalize()
    return f"{value:f} credit" + ("" if value == 1 else "s")


def next_month(start: datetime) -> datetime:
    """The instant a month after `start`, for a `start` on the first of a month."""
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def _seconds_until(moment: datetime, now: datetime) -> float:
    return float(max(0, math.ceil((moment - now).total_seconds())))


def check_in_flight(running: int, limit: int) -> None:
    """Refuse when the user already has `limit` jobs that are not finished."""
    if running >= limit:
        jobs = "job" if running == 1 else "jobs"
        raise BotError(
            ErrorCode.QUOTA_EXHAUSTED,
            f"You already have {running} {jobs} running; the limit is {limit} at once.",
            hint="Wait for one to finish, or cancel one with /cancel.",
        )


def check_budget(
    check: BudgetCheck,
    *,
    spent_day: Decimal,
    spent_month: Decimal,
    pending: Decimal,
    estimate: Decimal,
    now: datetime,
) -> None:
    """Refuse when spend so far, plus jobs still running, plus this job, passes a budget.

    The monthly budget is checked first: when both are used up, the month is the real wait.
    """
    budgets = (
        ("monthly", check.budget.monthly_usd, spent_month, next_month(check.month_start)),
        ("daily", check.budget.daily_usd, spent_day, check.day_start + timedelta(days=1)),
    )
    for name, limit, spent, resets in budgets:
        if limit is None or spent + pending + estimate <= limit:
            continue
        left = max(limit - spent - pending, Decimal(0))
        # What is left is rounded down and what the job needs up, so the two never look equal.
        raise BotError(
            ErrorCode.BUDGET_EXHAUSTED,
            f"This workspace's {name} budget of {format_usd(limit)} is used up: "
            f"{format_usd(left, down=True)} is left and this job needs about "
            f"{format_usd(estimate)}.",
            hint="Try a cheaper model, wait for the budget to reset, or ask an admin to raise "
            "it with /admin budget set.",
            retry_after=_seconds_until(resets, now),
        )


def bucket_refusal(taken: TakeResult, *, amount: Decimal, limits: BucketLimits) -> BotError:
    """The error for a take the bucket refused."""
    if taken.retry_after is None:
        return BotError(
            ErrorCode.QUOTA_EXHAUSTED,
            f"This job needs {credits(amount)}, more than your quota ever holds "
            f"({credits(limits.capacity)}, refilling {credits(limits.refill_per_hour)} an hour).",
            hint="Pick a smaller job, or ask an admin to raise your quota.",
        )
    return BotError(
        ErrorCode.QUOTA_EXHAUSTED,
        f"This job needs {credits(amount)} and you have {credits(taken.state.level)}.",
        hint="/quota shows your credits and when the next job fits.",
        retry_after=taken.retry_after,
    )
