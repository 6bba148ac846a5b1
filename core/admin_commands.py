"""The admin commands, typed, as every adapter hands them to `AdminService.handle`: the
person's own words for amounts and names (core parses and checks them, and says what is wrong
in those words), the rest already read by the adapter."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.quota import QuotaScope

Amount = str | int | Decimal


@dataclass(frozen=True)
class SetQuota:
    target: str  # a user's or role's id (the workspace's own id for the workspace)
    capacity: Amount
    refill_per_hour: Amount
    scope: QuotaScope = QuotaScope.USER


@dataclass(frozen=True)
class ShowQuota:
    user_id: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetBudget:
    daily_usd: Amount | None  # None, or "none"/"off": no limit
    monthly_usd: Amount | None


@dataclass(frozen=True)
class AllowModel:
    model: str
    allowed: bool  # False: deny it


@dataclass(frozen=True)
class SetNsfw:
    mode: str  # withhold, spoiler or allow, as typed


@dataclass(frozen=True)
class Ban:
    user_id: str
    banned: bool  # False: unban


@dataclass(frozen=True)
class Refund:
    job_id: str


@dataclass(frozen=True)
class SetConfirmAbove:
    usd: str  # dollars as typed, or "off": jobs above it show their price first


@dataclass(frozen=True)
class SetPrivateMode:
    allowed: bool  # False: forbid private mode here


# What `AdminService.handle` takes and answers with a sentence. (The workspace's usage is a
# report each surface shows its own way: `AdminService.usage`.)
AdminCommand = (
    SetQuota
    | ShowQuota
    | SetBudget
    | AllowModel
    | SetNsfw
    | Ban
    | Refund
    | SetConfirmAbove
    | SetPrivateMode
)
