"""Admission as a unit of work: what a store loads for one admission, and core's decision on it.

A store opens one transaction (`Store.admission`), loads an `AdmissionState` for an
`AdmissionKey`, and, if core admits the job, writes the `Admitted` decision in that same
transaction. The rules (policy, ban, quota, in-flight cap, budget, bucket) are `decide`'s alone,
so every store, SQLite or PostgreSQL, applies them the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.jobs import InputImage, Job
from core.policy import check_policy
from core.quota import (
    BucketLimits,
    BucketState,
    Budget,
    Quotas,
    budget_check,
    budget_window,
    resolve,
    take,
)
from core.refusals import bucket_refusal, check_budget, check_in_flight


@dataclass(frozen=True, kw_only=True)
class AdmissionKey:
    """Whose admission, for which model and roles, and from when the workspace's spend counts."""

    workspace_id: str
    user_id: str
    model: str
    roles: tuple[str, ...]
    day_start: datetime
    month_start: datetime

    @classmethod
    def at(
        cls, now: datetime, *, workspace_id: str, user_id: str, model: str, roles: Sequence[str]
    ) -> AdmissionKey:
        """The key of an admission at `now` (spend counts from its day's and month's start)."""
        day_start, month_start = budget_window(now)
        return cls(
            workspace_id=workspace_id,
            user_id=user_id,
            model=model,
            roles=tuple(roles),
            day_start=day_start,
            month_start=month_start,
        )

    @classmethod
    def of(cls, job: Job, *, roles: Sequence[str], now: datetime) -> AdmissionKey:
        """The key of `job`'s admission at `now`, for a user with `roles`."""
        return cls.at(
            now, workspace_id=job.workspace_id, user_id=job.user_id, model=job.model, roles=roles
        )


@dataclass(frozen=True)
class Spending:
    """A workspace's spend in USD: the ledger since the day's and the month's start, and the
    estimates of its jobs neither finished nor settled yet."""

    day: Decimal
    month: Decimal
    pending: Decimal


@dataclass(frozen=True)
class AdmissionState:
    """Everything `decide` reads, as the store holds it inside the admission's transaction."""

    denied: bool  # the key's model is denied in the workspace
    banned: bool  # the user is banned there
    quotas: Quotas  # the user's, their roles' (the key's), the workspace's
    budget: Budget  # the workspace's (empty when it has none)
    in_flight: int  # the user's jobs not finished
    bucket: BucketState | None  # the user's bucket as last saved; None: never used
    spending: Spending | None  # None when the workspace's budget limits nothing


@dataclass(frozen=True)
class Admitted:
    """What a store writes for an admitted job: the job (with the limits it was admitted under),
    its input images, and its user's bucket after the take."""

    job: Job
    images: tuple[InputImage, ...]
    bucket: BucketState


def decide(
    state: AdmissionState,
    job: Job,
    *,
    images: Sequence[InputImage],
    default_limits: BucketLimits,
    max_in_flight: int,
    now: datetime,
) -> Admitted:
    """Admit `job` on `state`, or raise the `BotError` that says why not (see `check`)."""
    limits, bucket = check(
        state,
        model=job.model,
        estimate_usd=job.estimate_usd,
        credits=job.credits,
        default_limits=default_limits,
        max_in_flight=max_in_flight,
        now=now,
    )
    return Admitted(job.replace(limits=limits, credits_settled=False), tuple(images), bucket)


def check(
    state: AdmissionState,
    *,
    model: str,
    estimate_usd: Decimal,
    credits: Decimal,
    default_limits: BucketLimits,
    max_in_flight: int,
    now: datetime,
) -> tuple[BucketLimits, BucketState]:
    """The limits a job of `model`, costing about `estimate_usd` and `credits`, is admitted
    under on `state`, and its user's bucket after the take; or the `BotError` that refuses it,
    in this order: a denied model, a ban, the in-flight cap, the budget, the bucket."""
    check_policy(model, denied=state.denied, banned=state.banned)
    limits = resolve(state.quotas, default_limits)
    check_in_flight(state.in_flight, max_in_flight)
    if (budget := budget_check(state.budget, now)) is not None:
        if (spent := state.spending) is None:
            raise ValueError("the store loaded no spending for a workspace with a budget")
        check_budget(
            budget,
            spent_day=spent.day,
            spent_month=spent.month,
            pending=spent.pending,
            estimate=estimate_usd,
            now=now,
        )
    taken = take(state.bucket, limits, credits, now)
    if not taken.ok:
        raise bucket_refusal(taken, amount=credits, limits=limits)
    return limits, taken.state
