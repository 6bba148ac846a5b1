"""Admin values from hostile (or careless) admins: amounts are finite, non-negative, within their
limit and exact to four places, or refused with `invalid_input`; targets are plain ids or refused.
A refused admin command changes nothing, and a non-admin is refused whatever they type."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.admin import MAX_CREDITS, AdminService, parse_amount
from core.admin_commands import Ban, SetBudget, SetQuota
from core.engine import Engine, EngineConfig
from core.errors import BotError, ErrorCode
from core.jobs import Actor
from core.model_table import build_catalog
from core.quota import BucketLimits, QuotaScope
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.property.strategies import numbers, tricky_text

amounts = st.one_of(numbers, tricky_text, st.decimals(places=6, min_value=-10, max_value=10**7))
limits = st.sampled_from([Decimal(1), Decimal(100), MAX_CREDITS])


@given(value=amounts, limit=limits)
def test_an_amount_is_exact_finite_and_within_its_limit_or_refused(
    value: Any, limit: Decimal
) -> None:
    try:
        amount = parse_amount(value, name="capacity", limit=limit)
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        assert "capacity" in error.message
        assert len(error.message) < 200  # the typed value is cut, never echoed whole
        return
    assert amount.is_finite()
    assert Decimal(0) <= amount <= limit
    assert amount == amount.quantize(Decimal("0.0001"))
    assert amount.as_tuple().exponent == -4


@given(value=st.decimals(min_value=0, max_value=1000, places=4))
def test_every_plain_amount_in_range_is_taken_as_typed(value: Decimal) -> None:
    assert parse_amount(str(value), name="x", limit=Decimal(1000)) == value


def service() -> tuple[AdminService, MemoryStore]:
    store = MemoryStore()
    clock = FakeClock()
    engine = Engine(
        store=store,
        fal=FakeFal(),
        clock=clock,
        catalog=build_catalog(),
        config=EngineConfig(default_limits=BucketLimits(Decimal(100), Decimal(10))),
    )
    return AdminService(engine=engine, clock=clock), store


@settings(max_examples=200, deadline=None)
@given(
    target=tricky_text,
    capacity=amounts,
    refill=amounts,
    scope=st.sampled_from(list(QuotaScope)),
    admin=st.booleans(),
)
def test_quota_set_applies_a_clean_quota_or_changes_nothing(
    target: str, capacity: Any, refill: Any, scope: QuotaScope, admin: bool
) -> None:
    asyncio.run(_quota_set(target, capacity, refill, scope, admin))


async def _quota_set(
    target: str, capacity: Any, refill: Any, scope: QuotaScope, admin: bool
) -> None:
    service_, store = service()
    actor = Actor("console", "w1", "root", is_admin=admin)
    try:
        await service_.handle(SetQuota(target, capacity, refill, scope), actor=actor)
    except BotError as error:
        assert error.code in (ErrorCode.INVALID_INPUT, ErrorCode.NOT_ALLOWED)
        if not admin:
            assert error.code is ErrorCode.NOT_ALLOWED
        assert store.quota_table == {}
        return
    assert admin
    ((workspace, _, target_id), stored) = next(iter(store.quota_table.items()))
    assert workspace == "w1"
    assert target_id.replace("-", "").replace("_", "").isalnum() and len(target_id) <= 64
    for amount in (stored.capacity, stored.refill_per_hour):
        assert amount.is_finite() and Decimal(0) <= amount <= MAX_CREDITS


@settings(max_examples=100, deadline=None)
@given(daily=st.one_of(st.none(), amounts), monthly=st.one_of(st.none(), amounts))
def test_budget_set_applies_a_clean_budget_or_changes_nothing(daily: Any, monthly: Any) -> None:
    asyncio.run(_budget_set(daily, monthly))


async def _budget_set(daily: Any, monthly: Any) -> None:
    service_, store = service()
    actor = Actor("console", "w1", "root", is_admin=True)
    try:
        await service_.handle(SetBudget(daily, monthly), actor=actor)
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        assert store.budgets == {}
        return
    budget = store.budgets["w1"]
    for amount in (budget.daily_usd, budget.monthly_usd):
        assert amount is None or (amount.is_finite() and amount >= 0)


@settings(max_examples=100, deadline=None)
@given(target=tricky_text)
def test_ban_takes_a_plain_id_or_changes_nothing(target: str) -> None:
    asyncio.run(_ban(target))


async def _ban(target: str) -> None:
    service_, store = service()
    actor = Actor("console", "w1", "root", is_admin=True)
    try:
        await service_.handle(Ban(target, banned=True), actor=actor)
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        assert store.bans == set()
        return
    ((workspace, user),) = store.bans
    assert workspace == "w1" and user != "root"
    assert user and len(user) <= 64 and user.replace("-", "").replace("_", "").isalnum()
