"""The `Store` contract, run against every store in `tests/contract/stores.py`."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from core.admission_rules import AdmissionKey, AdmissionState, Spending, decide
from core.errors import BotError, ErrorCode
from core.jobs import InputImage, Job, JobKind, JobResult, JobState, Output
from core.nsfw import NsfwMode
from core.ports import JobSettlement, Store, UsageFilter
from core.quota import BucketKey, BucketLimits, BucketState, Budget, LedgerEntry, Quotas, QuotaScope
from tests.fakes.builders import admit, make_job
from tests.fakes.clock import START

T0 = START  # 2026-01-05 12:00 UTC
DAY_START = datetime(2026, 1, 5, tzinfo=UTC)
MONTH_START = datetime(2026, 1, 1, tzinfo=UTC)
KEY = BucketKey("w1", "u1")
LIMITS = BucketLimits(Decimal(100), Decimal(50))
PNG = InputImage("image/png", data=b"\x89PNG\r\n\x1a\nfake", width=64, height=32)
LINK = InputImage("image/jpeg", url="https://v3.fal.media/files/x.jpg", width=800, height=600)


def budget(*, daily: str | None = None, monthly: str | None = None) -> Budget:
    return Budget(
        daily_usd=None if daily is None else Decimal(daily),
        monthly_usd=None if monthly is None else Decimal(monthly),
    )


async def admit_under(store: Store, job: Job, limit: Budget) -> Job:
    """Admit `job` once its workspace's budget is `limit`."""
    await store.set_budget(job.workspace_id, limit)
    return await admit(store, job)


async def charge(store: Store, *, cost: str, at: datetime, user: str = "u2") -> Job:
    """A finished job of `user` whose ledger charge of `cost` USD is dated `at`."""
    job = make_job(user_id=user, created_at=at, estimate_usd=Decimal(cost))
    await admit(store, job)
    done = job.replace(state=JobState.DELIVERED)
    entry = LedgerEntry(job.id, "w1", user, job.model, Decimal(cost), Decimal(0), at)
    assert await store.settle_job(done, JobSettlement(Decimal(0), LIMITS, entry))
    return done


async def refused(
    store: Store, job: Job, *, limit: Budget | None = None, **admission: Any
) -> BotError:
    """The refusal of `job` (under the workspace budget `limit`, when given)."""
    if limit is not None:
        await store.set_budget(job.workspace_id, limit)
    with pytest.raises(BotError) as caught:
        await admit(store, job, images=(PNG,), **admission)
    return caught.value


# admission


async def test_admit_stores_the_job_and_its_images_and_takes_its_credits(store: Store) -> None:
    job = make_job(credits=Decimal("3.9"), input_count=2)
    admitted = await admit(store, job, images=(PNG, LINK))

    assert admitted == job.replace(limits=LIMITS)  # the limits it was admitted under, kept
    assert await store.get_job(job.id) == admitted
    assert await store.job_inputs(job.id) == [PNG, LINK]
    assert (await store.bucket(KEY, LIMITS, T0)).level == Decimal("96.1")
    assert [j.id for j in await store.unfinished_jobs()] == [job.id]


async def test_bucket_refusal_says_when_to_retry_to_the_second(store: Store) -> None:
    first = make_job(credits=Decimal(10))
    await admit(store, first, capacity=10, refill_per_hour=3600)

    error = await refused(store, make_job(credits=Decimal(3)), capacity=10, refill_per_hour=3600)
    assert error.code is ErrorCode.QUOTA_EXHAUSTED
    assert error.retry_after == 3.0
    assert "needs 3 credits" in error.message
    assert "you have 0 credits" in error.message

    later = make_job(credits=Decimal(3), created_at=T0 + timedelta(seconds=3))
    await admit(store, later, capacity=10, refill_per_hour=3600)
    assert (
        await store.bucket(KEY, BucketLimits(Decimal(10), Decimal(3600)), later.created_at)
    ).level == 0


async def test_a_job_bigger_than_the_bucket_is_refused_without_a_retry_time(store: Store) -> None:
    error = await refused(store, make_job(credits=Decimal(11)), capacity=10, refill_per_hour=3600)
    assert error.code is ErrorCode.QUOTA_EXHAUSTED
    assert error.retry_after is None
    assert "more than your quota ever holds" in error.message
    assert "admin" in error.hint


async def test_in_flight_cap_counts_only_the_users_unfinished_jobs(store: Store) -> None:
    running = [make_job(), make_job()]
    for job in running:
        await admit(store, job, max_in_flight=2)
    for other in (make_job(user_id="u2"), make_job(workspace_id="w2")):
        await admit(store, other, max_in_flight=2)

    error = await refused(store, make_job(), max_in_flight=2)
    assert error.code is ErrorCode.QUOTA_EXHAUSTED
    assert "You already have 2 jobs running" in error.message
    assert error.hint

    await store.save_job(running[0].replace(state=JobState.DELIVERED))
    third = make_job()
    await admit(store, third, max_in_flight=2)


async def test_daily_budget_counts_todays_spend_jobs_in_flight_and_refunds(store: Store) -> None:
    await charge(store, cost="0.05", at=DAY_START - timedelta(seconds=1))  # yesterday: not counted
    spent = await charge(store, cost="0.05", at=DAY_START + timedelta(hours=1))
    in_flight = make_job(user_id="u3", estimate_usd=Decimal("0.039"))
    await admit(store, in_flight)

    # 0.05 spent + 0.039 in flight + 0.039 for this job = 0.128 > 0.10
    job = make_job(estimate_usd=Decimal("0.039"))
    error = await refused(store, job, limit=budget(daily="0.10"))
    assert error.code is ErrorCode.BUDGET_EXHAUSTED
    assert "daily budget of $0.10" in error.message
    assert "$0.011 is left" in error.message  # rounded down, never to $0.00
    assert error.retry_after == 12 * 3600  # T0 is noon; the next day starts at midnight

    entry = (await store.ledger(UsageFilter("w1", since=DAY_START)))[0]
    assert await store.refund(entry, bucket=BucketKey("w1", spent.user_id), limits=LIMITS)
    await admit_under(store, job, budget(daily="0.10"))


async def test_a_settled_job_in_flight_is_not_counted_twice(store: Store) -> None:
    job = make_job(estimate_usd=Decimal("0.06"))
    await admit(store, job)
    entry = LedgerEntry(job.id, "w1", "u1", job.model, Decimal("0.06"), Decimal(6), T0)
    completed = job.replace(state=JobState.COMPLETED)  # charged, not delivered yet
    await store.settle_job(completed, JobSettlement(Decimal(0), LIMITS, entry))

    fits = make_job(estimate_usd=Decimal("0.04"))
    await admit_under(store, fits, budget(daily="0.10"))


async def test_monthly_budget_counts_this_months_spend_only(store: Store) -> None:
    await charge(store, cost="5", at=MONTH_START - timedelta(seconds=1))  # last month
    await charge(store, cost="0.97", at=MONTH_START + timedelta(days=1))
    job = make_job(estimate_usd=Decimal("0.039"))

    error = await refused(store, job, limit=budget(daily="10", monthly="1"))
    assert error.code is ErrorCode.BUDGET_EXHAUSTED
    assert "monthly budget of $1.00" in error.message
    assert "$0.03 is left" in error.message
    next_month = datetime(2026, 2, 1, tzinfo=UTC)
    assert error.retry_after == (next_month - T0).total_seconds()

    cheap = make_job(estimate_usd=Decimal("0.03"))
    await admit_under(store, cheap, budget(monthly="1"))


async def test_a_refusal_changes_nothing(store: Store) -> None:
    before = await store.bucket(KEY, LIMITS, T0)
    refusals: list[tuple[Job, dict[str, Any]]] = [
        (make_job(), {"max_in_flight": 0}),
        (make_job(estimate_usd=Decimal(2)), {"limit": budget(daily="1")}),
        (make_job(credits=Decimal(101)), {}),
    ]
    for job, admission in refusals:
        await refused(store, job, **admission)
        assert await store.get_job(job.id) is None
        assert await store.job_inputs(job.id) == []

    assert await store.bucket(KEY, LIMITS, T0) == before
    assert await store.unfinished_jobs() == []
    assert await store.user_jobs("w1", "u1", limit=10) == []


async def test_concurrent_admissions_never_take_more_than_the_bucket_holds(store: Store) -> None:
    jobs = [make_job(credits=Decimal(3)) for _ in range(200)]

    async def attempt(job: Job) -> bool:
        try:
            await admit(store, job, max_in_flight=1000)
        except BotError as error:
            assert error.code is ErrorCode.QUOTA_EXHAUSTED
            return False
        return True

    admitted = await asyncio.gather(*(attempt(j) for j in jobs))

    assert sum(admitted) == 33  # floor(100 / 3)
    assert len(await store.user_jobs("w1", "u1", limit=1000)) == 33
    assert (await store.bucket(KEY, LIMITS, T0)).level == 1


async def test_admitting_a_job_id_twice_is_refused(store: Store) -> None:
    job = make_job()
    await admit(store, job)
    with pytest.raises(BotError) as caught:
        await admit(store, job)
    assert caught.value.code is ErrorCode.INTERNAL
    assert (await store.bucket(KEY, LIMITS, T0)).level == Decimal("96.1")


async def ruled(store: Store, job: Job, *, roles: tuple[str, ...] = (), **admission: Any) -> Job:
    """Admit `job` under the workspace's stored rules for a user with `roles`."""
    return await admit(store, job, images=(PNG,), roles=roles, **admission)


async def refused_by_rules(store: Store, job: Job, **admission: Any) -> BotError:
    return await refused(store, job, **admission)


async def test_stored_rules_refuse_a_denied_model_then_a_banned_user_and_change_nothing(
    store: Store,
) -> None:
    await store.set_model_denied("w1", "nano-banana", True)
    await store.set_banned("w1", "u1", True)
    before = await store.bucket(KEY, LIMITS, T0)

    denied = await refused_by_rules(store, make_job(), max_in_flight=0)  # before the cap, too
    assert denied.code is ErrorCode.NOT_ALLOWED
    assert denied.message == "nano-banana is not allowed in this workspace."
    assert denied.hint == "See /models for the models you can use."

    await store.set_model_denied("w1", "nano-banana", False)
    banned = await refused_by_rules(store, make_job())
    assert banned.code is ErrorCode.NOT_ALLOWED
    assert banned.message == "You are not allowed to use falbot here."
    assert banned.hint == "Ask an admin of this workspace."

    assert await store.bucket(KEY, LIMITS, T0) == before
    assert await store.unfinished_jobs() == []
    await ruled(store, make_job(workspace_id="w2"))  # another workspace's rules are its own
    await store.set_banned("w1", "u1", False)
    await ruled(store, make_job())


async def test_an_admission_loads_the_workspaces_rules_the_users_bucket_and_the_spend(
    store: Store,
) -> None:
    await charge(store, cost="0.25", at=DAY_START + timedelta(hours=1))
    running = await admit(store, make_job(estimate_usd=Decimal("0.039")))
    await store.set_model_denied("w1", "nano-banana", True)
    await store.set_banned("w1", "u1", True)
    await store.set_budget("w1", Budget(daily_usd=Decimal(1)))
    mine = BucketLimits(Decimal(1), Decimal(0))
    await store.set_quota("w1", QuotaScope.USER, "u1", mine)
    await store.set_quota("w1", QuotaScope.ROLE, "artists", ARTISTS)
    key = AdmissionKey.of(make_job(), roles=("artists", "viewers"), now=T0)

    state = await store.admission_state(key)
    assert state == AdmissionState(
        denied=True,
        banned=True,
        quotas=Quotas(user=mine, roles=(ARTISTS,)),
        budget=Budget(daily_usd=Decimal(1)),
        in_flight=1,
        bucket=BucketState(Decimal(100) - running.credits, T0),
        spending=Spending(day=Decimal("0.25"), month=Decimal("0.25"), pending=Decimal("0.039")),
    )
    async with store.admission(key) as unit:
        assert unit.state == state  # the same state, now held for the unit's commit

    elsewhere = AdmissionKey.of(make_job(workspace_id="w2"), roles=(), now=T0)
    nothing = AdmissionState(False, False, Quotas(), Budget(), 0, None, None)
    assert await store.admission_state(elsewhere) == nothing


async def test_an_admission_left_without_commit_or_by_an_error_changes_nothing(
    store: Store,
) -> None:
    job = make_job(input_count=1)
    key = AdmissionKey.of(job, roles=(), now=T0)
    async with store.admission(key) as unit:
        admitted = decide(
            unit.state, job, images=(PNG,), default_limits=LIMITS, max_in_flight=1, now=T0
        )
    with pytest.raises(RuntimeError):
        async with store.admission(key) as unit:
            await unit.commit(admitted)
            raise RuntimeError("after the commit, before the block ends")
    assert await store.get_job(job.id) is None
    assert await store.job_inputs(job.id) == []
    assert await store.bucket(KEY, LIMITS, T0) == BucketState(Decimal(100), T0)

    async with store.admission(key) as unit:
        await unit.commit(admitted)
    assert await store.get_job(job.id) == admitted.job
    assert await store.job_inputs(job.id) == [PNG]
    assert (await store.bucket(KEY, LIMITS, T0)).level == Decimal("96.1")


async def test_stored_rules_take_the_quota_of_the_user_their_roles_or_the_workspace(
    store: Store,
) -> None:
    # The default quota holds 10 credits; a stored quota replaces it.
    await store.set_quota("w1", QuotaScope.WORKSPACE, "*", BucketLimits(Decimal(20), Decimal(1)))
    await store.set_quota("w1", QuotaScope.ROLE, "artists", BucketLimits(Decimal(30), Decimal(1)))
    await store.set_quota("w1", QuotaScope.ROLE, "admins", BucketLimits(Decimal(40), Decimal(1)))
    await store.set_quota("w1", QuotaScope.USER, "u3", BucketLimits(Decimal(5), Decimal(3600)))
    cases = [("u1", (), 20), ("u2", ("artists", "admins"), 40), ("u3", ("admins",), 5)]
    for user, roles, capacity in cases:
        fits = make_job(user_id=user, credits=Decimal(capacity))
        await ruled(store, fits, roles=roles, capacity=10, refill_per_hour=0)
        error = await refused_by_rules(
            store, make_job(user_id=user, credits=Decimal(1)), roles=roles, capacity=10
        )
        assert error.code is ErrorCode.QUOTA_EXHAUSTED
        assert "you have 0 credits" in error.message

    too_big = await refused_by_rules(store, make_job(user_id="u3", credits=Decimal(6)))
    assert "more than your quota ever holds (5 credits, refilling 3600 credits an hour)" in (
        too_big.message
    )
    assert len(await store.unfinished_jobs()) == 3
    await ruled(store, make_job(user_id="u9", credits=Decimal(20)))  # the workspace default


async def test_stored_rules_check_the_workspaces_stored_budget(store: Store) -> None:
    await ruled(store, make_job(estimate_usd=Decimal(5)))  # no budget set: no limit
    await store.set_budget("w1", Budget(daily_usd=Decimal("5.05")))
    # 5 in flight + 0.039 fits in 5.05; the next 0.039 does not.
    await ruled(store, make_job(estimate_usd=Decimal("0.039")))
    error = await refused_by_rules(store, make_job(estimate_usd=Decimal("0.039")))
    assert error.code is ErrorCode.BUDGET_EXHAUSTED
    assert "daily budget of $5.05" in error.message
    assert "$0.011 is left" in error.message  # rounded down, never to $0.00
    assert error.retry_after == 12 * 3600  # T0 is noon; the next day starts at midnight
    await ruled(store, make_job(workspace_id="w2", estimate_usd=Decimal(9)))


async def test_reply_ref_is_set_after_admission_and_kept_by_save_job(store: Store) -> None:
    job = make_job()
    await admit(store, job)
    stale = await store.get_job(job.id)  # read before the adapter posted its message
    assert stale is not None
    await store.set_reply_ref(job.id, {"channel": "C1", "message_ts": "1.000001"})
    await store.save_job(stale.replace(state=JobState.SUBMITTING))
    saved = await store.get_job(job.id)
    assert saved is not None
    assert saved.state is JobState.SUBMITTING
    assert saved.reply_ref == {"channel": "C1", "message_ts": "1.000001"}
    with pytest.raises(BotError) as missing:
        await store.set_reply_ref("no-such-job", {})
    assert missing.value.code is ErrorCode.NOT_FOUND


# settlement, refunds, ledger


async def test_settle_job_applies_once(store: Store) -> None:
    job = make_job(credits=Decimal("3.9"))
    await admit(store, job)
    done = job.replace(state=JobState.DELIVERED, result=JobResult((), Decimal("0.02")))
    entry = LedgerEntry(job.id, "w1", "u1", job.model, Decimal("0.02"), Decimal(2), T0)
    settlement = JobSettlement(Decimal("1.9"), LIMITS, entry)

    assert await store.settle_job(done, settlement) is True
    assert (await store.bucket(KEY, LIMITS, T0)).level == 98
    again = done.replace(updated_at=T0 + timedelta(seconds=1))
    assert await store.settle_job(again, settlement) is False

    saved = await store.get_job(job.id)
    assert saved is not None
    assert saved.credits_settled
    assert saved.updated_at == again.updated_at  # the job itself is still saved
    assert await store.ledger(UsageFilter("w1", since=MONTH_START)) == [entry]
    assert (await store.bucket(KEY, LIMITS, T0)).level == 98

    await store.save_job(saved.replace(credits_settled=False))
    reread = await store.get_job(job.id)
    assert reread is not None
    assert reread.credits_settled  # save_job never touches the settlement flag


async def test_refund_applies_once_as_a_negative_entry(store: Store) -> None:
    job = await charge(store, cost="0.039", at=T0, user="u1")
    level = (await store.bucket(KEY, LIMITS, T0)).level
    charged = LedgerEntry(job.id, "w1", "u1", job.model, Decimal("0.039"), Decimal("3.9"), T0)

    assert await store.refund(charged, bucket=KEY, limits=LIMITS) is True
    assert await store.refund(charged, bucket=KEY, limits=LIMITS) is False

    entries = await store.ledger(UsageFilter("w1", since=T0))
    assert [(e.kind, e.cost_usd, e.credits) for e in entries] == [
        ("charge", Decimal("0.039"), Decimal(0)),
        ("refund", Decimal("-0.039"), Decimal("-3.9")),
    ]
    assert (await store.bucket(KEY, LIMITS, T0)).level == level + Decimal("3.9")


async def test_ledger_filters_by_time_and_user_oldest_first(store: Store) -> None:
    late = await charge(store, cost="0.3", at=T0 + timedelta(hours=2), user="u1")
    early = await charge(store, cost="0.1", at=T0, user="u2")
    middle = await charge(store, cost="0.2", at=T0 + timedelta(hours=1), user="u1")

    def ids(entries: list[LedgerEntry]) -> list[str]:
        return [e.job_id for e in entries]

    assert ids(await store.ledger(UsageFilter("w1", since=T0))) == [early.id, middle.id, late.id]
    assert ids(await store.ledger(UsageFilter("w1", since=T0 + timedelta(hours=1)))) == [
        middle.id,
        late.id,
    ]
    assert ids(await store.ledger(UsageFilter("w1", since=T0, until=T0 + timedelta(hours=2)))) == [
        early.id,
        middle.id,
    ]
    assert ids(await store.ledger(UsageFilter("w1", since=T0, user_id="u1"))) == [
        middle.id,
        late.id,
    ]
    assert await store.ledger(UsageFilter("w2", since=T0)) == []


async def test_buckets_start_full_refill_and_take_back_credits(store: Store) -> None:
    assert (await store.bucket(KEY, LIMITS, T0)).level == 100
    job = await admit(store, make_job(credits=Decimal(30)))
    assert (await store.bucket(KEY, LIMITS, T0)).level == 70
    half_hour = T0 + timedelta(minutes=30)
    assert (await store.bucket(KEY, LIMITS, half_hour)).level == 70 + 25  # 50 an hour
    cancelled = job.replace(state=JobState.CANCELLED)
    assert await store.settle_job(cancelled, JobSettlement(Decimal(500), LIMITS))
    assert (await store.bucket(KEY, LIMITS, T0)).level == 100  # never overfills


# dedupe


async def test_claim_dedupes_keys_until_pruned(store: Store) -> None:
    assert await store.claim("fal:req-1", T0) is True
    assert await store.claim("fal:req-1", T0 + timedelta(seconds=5)) is False
    assert await store.claim("slack:Ev123", T0 + timedelta(hours=3)) is True

    assert await store.prune_dedupe(T0 + timedelta(hours=1)) == 1
    assert await store.claim("fal:req-1", T0 + timedelta(hours=4)) is True
    assert await store.claim("slack:Ev123", T0 + timedelta(hours=4)) is False


async def test_claims_are_single_use_under_concurrent_callers(store: Store) -> None:
    """The region painter's links are single-use through one claim: of many callers at once,
    exactly one wins."""
    won = await asyncio.gather(*(store.claim("paint-try:abc:0", T0) for _ in range(8)))
    assert won.count(True) == 1


# facts the bot keeps about itself


async def test_state_values_are_kept_replaced_and_apart(store: Store) -> None:
    assert await store.state_value("paint:abc") is None
    await store.set_state_value("paint:abc", '{"job": "j1"}')
    await store.set_state_value("paint:def", "other")
    assert await store.state_value("paint:abc") == '{"job": "j1"}'

    await store.set_state_value("paint:abc", '{"job": "j1", "child": "j2"}')
    assert await store.state_value("paint:abc") == '{"job": "j1", "child": "j2"}'
    assert await store.state_value("paint:def") == "other"
    long_value = "é" * 5000  # a link's record: JSON, unicode and all
    await store.set_state_value("paint:long", long_value)
    assert await store.state_value("paint:long") == long_value


# quotas, policy, bans


async def test_quotas_gather_user_role_and_workspace_limits(store: Store) -> None:
    user, admins, artists, default = (
        BucketLimits(Decimal(n), Decimal(n // 2)) for n in (10, 500, 200, 50)
    )
    await store.set_quota("w1", QuotaScope.USER, "u1", user)
    await store.set_quota("w1", QuotaScope.ROLE, "admins", admins)
    await store.set_quota("w1", QuotaScope.ROLE, "artists", artists)
    await store.set_quota("w1", QuotaScope.WORKSPACE, "w1", BucketLimits(Decimal(1), Decimal(1)))
    await store.set_quota("w1", QuotaScope.WORKSPACE, "*", default)  # replaces the default
    await store.set_quota("w2", QuotaScope.USER, "u1", admins)

    quotas = await store.quotas("w1", "u1", ["artists", "viewers", "admins"])
    assert quotas.user == user
    assert quotas.roles == (artists, admins)
    assert quotas.workspace == default

    other = await store.quotas("w1", "u9", [])
    assert (other.user, other.roles, other.workspace) == (None, (), default)

    await store.set_quota("w1", QuotaScope.USER, "u1", None)
    await store.set_quota("w1", QuotaScope.ROLE, "admins", None)
    assert await store.quotas("w1", "u1", ["admins", "artists"]) == Quotas(
        roles=(artists,), workspace=default
    )


async def test_policy_holds_denied_models_and_budget_per_workspace(store: Store) -> None:
    empty = await store.policy("w1")
    assert (empty.denied_models, empty.budget) == (frozenset(), Budget())

    await store.set_model_denied("w1", "veo3", True)
    await store.set_model_denied("w1", "sora-2", True)
    await store.set_model_denied("w1", "veo3", True)
    await store.set_model_denied("w1", "sora-2", False)
    await store.set_budget("w1", Budget(daily_usd=Decimal("2.50"), monthly_usd=None))

    policy = await store.policy("w1")
    assert policy.denied_models == frozenset({"veo3"})
    assert policy.budget == Budget(daily_usd=Decimal("2.50"))
    assert str(policy.budget.daily_usd) == "2.50"
    assert (await store.policy("w2")).denied_models == frozenset()

    await store.set_budget("w1", Budget())
    assert (await store.policy("w1")).budget == Budget()


async def test_bans_are_per_workspace_and_undone(store: Store) -> None:
    await store.set_banned("w1", "u1", True)
    await store.set_banned("w1", "u1", True)
    assert await store.is_banned("w1", "u1")
    assert not await store.is_banned("w2", "u1")
    assert not await store.is_banned("w1", "u2")
    await store.set_banned("w1", "u1", False)
    assert not await store.is_banned("w1", "u1")


# listing jobs


async def test_unfinished_jobs_are_oldest_first_and_skip_finished_ones(store: Store) -> None:
    at = [T0 + timedelta(seconds=s) for s in (2, 0, 1, 1)]
    jobs = [
        make_job(created_at=at[0], user_id="u1"),
        make_job(created_at=at[1], workspace_id="w2"),
        make_job(created_at=at[2], user_id="u2"),
        make_job(created_at=at[3], user_id="u3"),
    ]
    for job in jobs:
        await admit(store, job)
    finished = make_job(created_at=T0 - timedelta(days=1))
    await admit(store, finished)
    for state in (JobState.FAILED, JobState.CANCELLED, JobState.DELIVERED):
        await store.save_job(finished.replace(state=state))
        unfinished = [j.id for j in await store.unfinished_jobs()]
        assert unfinished == [jobs[1].id, jobs[2].id, jobs[3].id, jobs[0].id]


async def test_user_jobs_are_newest_first_and_limited(store: Store) -> None:
    mine = [make_job(created_at=T0 + timedelta(minutes=m)) for m in (1, 3, 2, 3)]
    others = [make_job(user_id="u2"), make_job(workspace_id="w2")]
    for job in mine + others:
        await admit(store, job)

    newest = await store.user_jobs("w1", "u1", limit=3)
    assert [j.id for j in newest] == [mine[3].id, mine[1].id, mine[2].id]
    assert len(await store.user_jobs("w1", "u1", limit=10)) == 4


async def test_jobs_by_prefix_finds_any_users_job_within_one_workspace(store: Store) -> None:
    ids = ["abcd0001" + "0" * 24, "abcd0002" + "0" * 24, "abce0003" + "0" * 24]
    jobs = [
        make_job(id=ids[0], user_id="u1"),
        make_job(id=ids[1], user_id="u2", created_at=T0 + timedelta(minutes=1)),
        make_job(id=ids[2], user_id="u3"),
        make_job(id="abcd0004" + "0" * 24, workspace_id="w2"),
    ]
    for job in jobs:
        await admit(store, job)

    assert [j.id for j in await store.jobs_by_prefix("w1", "abcd", limit=10)] == ids[1::-1]
    assert [j.id for j in await store.jobs_by_prefix("w1", "abcd", limit=1)] == [ids[1]]
    assert [j.id for j in await store.jobs_by_prefix("w1", "abce0003", limit=10)] == [ids[2]]
    assert await store.jobs_by_prefix("w1", "abcd%", limit=10) == []  # no pattern language
    assert await store.jobs_by_prefix("w3", "abcd", limit=10) == []


async def test_the_nsfw_mode_is_kept_per_workspace(store: Store) -> None:
    assert (await store.policy("w1")).nsfw is None
    await store.set_nsfw("w1", NsfwMode.SPOILER)
    await store.set_nsfw("w1", NsfwMode.ALLOW)
    assert (await store.policy("w1")).nsfw is NsfwMode.ALLOW
    assert (await store.policy("w2")).nsfw is None
    await store.set_nsfw("w1", None)
    assert (await store.policy("w1")).nsfw is None


# round trip


async def test_a_job_comes_back_exactly_as_saved(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    job = make_job(
        kind=JobKind.EDIT,
        model="gpt-image-edit",
        endpoint="fal-ai/gpt-image-1.5/edit",
        arguments={
            "prompt": "make it blue ✨",
            "quality": "high",
            "image_urls": ["a", "b"],
            "n": 2,
        },
        estimate_usd=Decimal("0.0262144"),
        credits=Decimal("2.62144"),
        created_at=datetime(2026, 1, 5, 13, 0, 0, 123456, tzinfo=paris),
        reply_ref={"channel": "C1", "ts": "1700000000.000100", "nested": {"k": [1, 2]}},
        input_count=2,
        parent_job_id="parent-1",
        price_base_usd=Decimal("0.0123"),
    )
    job = await admit(store, job, images=(PNG, LINK))
    failed = job.replace(
        state=JobState.FAILED,
        updated_at=datetime(2026, 1, 5, 12, 0, 7, 1, tzinfo=UTC),
        request_id="req-123",
        result=JobResult(
            outputs=(
                Output("https://v3.fal.media/a.png", "image/png", 1024, 768, "a.png", 12345, True),
                Output("https://v3.fal.media/b.mp4", "video/mp4"),
            ),
            cost_usd=Decimal("0.0393216"),
            seed=1234,
            inference_s=12.4,
        ),
        error=BotError(
            ErrorCode.PROVIDER_REJECTED,
            "fal refused the prompt",
            hint="Rephrase it.",
            retry_after=30.0,
            request_id="req-123",
        ),
    )
    await store.save_job(failed)

    got = await store.get_job(job.id)
    assert got is not None
    assert dataclasses.replace(got, error=None) == dataclasses.replace(failed, error=None)
    assert got.error is not None and failed.error is not None
    assert got.error.to_dict() == failed.error.to_dict()
    assert str(got.estimate_usd) == "0.0262144"
    assert str(got.credits) == "2.62144"
    assert got.result is not None
    assert str(got.result.cost_usd) == "0.0393216"
    for moment in (got.created_at, got.updated_at):
        assert moment.utcoffset() == timedelta(0)
    assert got.created_at == datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=UTC)
    assert await store.get_job("no-such-job") is None


async def test_saving_an_unknown_job_is_not_found(store: Store) -> None:
    with pytest.raises(BotError) as caught:
        await store.save_job(make_job())
    assert caught.value.code is ErrorCode.NOT_FOUND


async def test_job_inputs_can_be_dropped(store: Store) -> None:
    job = make_job(input_count=2)
    job = await admit(store, job, images=(LINK, PNG))
    assert await store.job_inputs(job.id) == [LINK, PNG]
    await store.drop_job_inputs(job.id)
    assert await store.job_inputs(job.id) == []
    assert await store.get_job(job.id) == job


# the limits a job settles with


ARTISTS = BucketLimits(Decimal(10), Decimal(1))  # a role: 10 credits, refilling 1 an hour


async def test_a_job_keeps_the_role_limits_it_was_admitted_under(store: Store) -> None:
    await store.set_quota("w1", QuotaScope.ROLE, "artists", ARTISTS)
    job = await ruled(store, make_job(credits=Decimal("0.3")), roles=("artists",))
    assert job.limits == ARTISTS
    saved = await store.get_job(job.id)
    assert saved is not None and saved.limits == ARTISTS

    # Saving the job again (its state, its result) never changes the limits it settles with.
    await store.save_job(job.replace(state=JobState.SUBMITTING, limits=None))
    await store.set_quota("w1", QuotaScope.ROLE, "artists", None)
    saved = await store.get_job(job.id)
    assert saved is not None and saved.limits == ARTISTS
    assert [j.limits for j in await store.unfinished_jobs()] == [ARTISTS]


async def test_settling_with_the_admitted_role_limits_never_fills_past_the_role(
    store: Store,
) -> None:
    await store.set_quota("w1", QuotaScope.ROLE, "artists", ARTISTS)
    job = await ruled(store, make_job(credits=Decimal("0.3")), roles=("artists",))
    assert (await store.bucket(KEY, ARTISTS, T0)).level == Decimal("9.7")
    assert job.limits is not None
    an_hour_later = T0 + timedelta(hours=1)
    done = job.replace(state=JobState.CANCELLED, updated_at=an_hour_later)

    assert await store.settle_job(done, JobSettlement(job.credits, job.limits))
    assert (await store.bucket(KEY, ARTISTS, an_hour_later)).level == 10


async def test_a_refund_into_a_generous_role_bucket_keeps_it(store: Store) -> None:
    patrons = BucketLimits(Decimal(1000), Decimal(0))
    await store.set_quota("w1", QuotaScope.ROLE, "patrons", patrons)
    job = await ruled(store, make_job(credits=Decimal(320)), roles=("patrons",))
    assert job.limits == patrons
    failed = job.replace(state=JobState.FAILED)
    assert await store.settle_job(failed, JobSettlement(job.credits, job.limits))
    assert (await store.bucket(KEY, patrons, T0)).level == 1000
