"""`MemoryStore`: the `Store` port in dicts, for core's unit tests. Same contract as SQLite's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.sqlite.codec import from_micros, to_micros
from core.admission_rules import AdmissionKey, AdmissionState, Admitted, Spending
from core.errors import BotError, ErrorCode
from core.jobs import InputImage, Job
from core.nsfw import NsfwMode
from core.ports import JobSettlement, UsageFilter, WorkspacePolicy
from core.quota import (
    BucketKey,
    BucketLimits,
    BucketState,
    Budget,
    LedgerEntry,
    Quotas,
    QuotaScope,
    give,
    refill,
)


class MemoryStore:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._named_locks: dict[str, asyncio.Lock] = {}
        self.jobs: dict[str, Job] = {}  # in insertion order, the tie-break for equal times
        self.inputs: dict[str, list[InputImage]] = {}
        self.buckets: dict[BucketKey, BucketState] = {}
        self.entries: list[LedgerEntry] = []
        self.quota_table: dict[tuple[str, QuotaScope, str], BucketLimits] = {}
        self.budgets: dict[str, Budget] = {}
        self.denied: set[tuple[str, str]] = set()
        self.bans: set[tuple[str, str]] = set()
        self.seen: dict[str, datetime] = {}
        self.bot_state: dict[str, str] = {}
        self.nsfw: dict[str, NsfwMode] = {}

    # admission

    @asynccontextmanager
    async def admission(self, key: AdmissionKey) -> AsyncIterator[MemoryAdmission]:
        async with self._lock:
            unit = MemoryAdmission(self._admission_state(key), taken=self.jobs.keys())
            yield unit
            if (admitted := unit.admitted) is not None:
                job = _utc(admitted.job)
                self.jobs[job.id] = job
                self.inputs[job.id] = list(admitted.images)
                self.buckets[BucketKey(job.workspace_id, job.user_id)] = admitted.bucket

    async def admission_state(self, key: AdmissionKey) -> AdmissionState:
        return self._admission_state(key)

    def _admission_state(self, key: AdmissionKey) -> AdmissionState:
        ws, user = key.workspace_id, key.user_id
        live = [j for j in self.jobs.values() if not j.state.final and j.workspace_id == ws]
        budget = self.budgets.get(ws, Budget())
        spending = None
        if budget.daily_usd is not None or budget.monthly_usd is not None:
            pending = (j.estimate_usd for j in live if not j.credits_settled)
            spending = Spending(
                self._spent(ws, key.day_start),
                self._spent(ws, key.month_start),
                sum(pending, Decimal(0)),
            )
        return AdmissionState(
            denied=(ws, key.model) in self.denied,
            banned=(ws, user) in self.bans,
            quotas=self._quotas(ws, user, key.roles),
            budget=budget,
            in_flight=sum(1 for j in live if j.user_id == user),
            bucket=self.buckets.get(BucketKey(ws, user)),
            spending=spending,
        )

    def _spent(self, workspace_id: str, since: datetime) -> Decimal:
        return sum(
            (e.cost_usd for e in self.entries if e.workspace_id == workspace_id and e.at >= since),
            Decimal(0),
        )

    async def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    async def save_job(self, job: Job) -> None:
        async with self._lock:
            self._save(job)

    async def set_reply_ref(self, job_id: str, reply_ref: Mapping[str, Any]) -> None:
        async with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise BotError(ErrorCode.NOT_FOUND, f"There is no job {job_id[:8]}.")
            self.jobs[job_id] = job.replace(reply_ref=dict(reply_ref))

    def _save(self, job: Job) -> Job:
        if job.id not in self.jobs:
            raise BotError(ErrorCode.NOT_FOUND, f"There is no job {job.short_id}.")
        stored = self.jobs[job.id]
        # As in SQLite: settle_job alone settles, set_reply_ref alone names the reply, and the
        # limits a job was admitted under stay as admitted.
        saved = _utc(job).replace(
            credits_settled=stored.credits_settled,
            reply_ref=stored.reply_ref,
            limits=stored.limits,
        )
        self.jobs[job.id] = saved
        return saved

    async def settle_job(self, job: Job, settlement: JobSettlement) -> bool:
        async with self._lock:
            saved = self._save(job)
            if saved.credits_settled:
                return False
            key = BucketKey(job.workspace_id, job.user_id)
            self.buckets[key] = give(
                self.buckets.get(key), settlement.limits, settlement.credits_delta, job.updated_at
            )
            if settlement.ledger is not None:
                self._append(settlement.ledger)
            self.jobs[job.id] = saved.replace(credits_settled=True)
            return True

    async def job_inputs(self, job_id: str) -> list[InputImage]:
        return list(self.inputs.get(job_id, []))

    async def drop_job_inputs(self, job_id: str) -> None:
        self.inputs.pop(job_id, None)

    async def unfinished_jobs(self) -> list[Job]:
        return sorted(
            (j for j in self.jobs.values() if not j.state.final), key=lambda j: j.created_at
        )

    async def user_jobs(self, workspace_id: str, user_id: str, *, limit: int) -> list[Job]:
        mine = [
            j for j in self.jobs.values() if (j.workspace_id, j.user_id) == (workspace_id, user_id)
        ]
        mine.reverse()  # newest inserted first among equal times; the sort below is stable
        return sorted(mine, key=lambda j: j.created_at, reverse=True)[:limit]

    async def jobs_by_prefix(self, workspace_id: str, prefix: str, *, limit: int) -> list[Job]:
        found = [
            j
            for j in self.jobs.values()
            if j.workspace_id == workspace_id and j.id.startswith(prefix)
        ]
        found.reverse()
        return sorted(found, key=lambda j: j.created_at, reverse=True)[:limit]

    # buckets

    async def bucket(self, key: BucketKey, limits: BucketLimits, now: datetime) -> BucketState:
        return refill(self.buckets.get(key), limits, now)

    # quotas, budgets, model policy, bans

    async def set_quota(
        self, workspace_id: str, scope: QuotaScope, target_id: str, limits: BucketLimits | None
    ) -> None:
        for key in list(self.quota_table):
            # A workspace has one default, whatever target id it was set under.
            same_target = scope is QuotaScope.WORKSPACE or key[2] == target_id
            if key[:2] == (workspace_id, scope) and same_target:
                del self.quota_table[key]
        if limits is not None:
            self.quota_table[(workspace_id, scope, target_id)] = limits

    async def quotas(self, workspace_id: str, user_id: str, roles: Sequence[str]) -> Quotas:
        return self._quotas(workspace_id, user_id, roles)

    def _quotas(self, workspace_id: str, user_id: str, roles: Sequence[str]) -> Quotas:
        table = self.quota_table
        defaults = [v for (w, s, _), v in table.items() if (w, s) == (workspace_id, "workspace")]
        return Quotas(
            user=table.get((workspace_id, QuotaScope.USER, user_id)),
            roles=tuple(
                table[(workspace_id, QuotaScope.ROLE, r)]
                for r in dict.fromkeys(roles)
                if (workspace_id, QuotaScope.ROLE, r) in table
            ),
            workspace=defaults[0] if defaults else None,
        )

    async def set_budget(self, workspace_id: str, budget: Budget) -> None:
        self.budgets[workspace_id] = budget

    async def set_model_denied(self, workspace_id: str, model: str, denied: bool) -> None:
        (self.denied.add if denied else self.denied.discard)((workspace_id, model))

    async def policy(self, workspace_id: str) -> WorkspacePolicy:
        return WorkspacePolicy(
            frozenset(m for w, m in self.denied if w == workspace_id),
            self.budgets.get(workspace_id, Budget()),
            self.nsfw.get(workspace_id),
        )

    async def set_nsfw(self, workspace_id: str, mode: NsfwMode | None) -> None:
        if mode is None:
            self.nsfw.pop(workspace_id, None)
        else:
            self.nsfw[workspace_id] = mode

    async def set_banned(self, workspace_id: str, user_id: str, banned: bool) -> None:
        (self.bans.add if banned else self.bans.discard)((workspace_id, user_id))

    async def is_banned(self, workspace_id: str, user_id: str) -> bool:
        return (workspace_id, user_id) in self.bans

    # ledger and dedupe

    async def ledger(self, usage: UsageFilter) -> list[LedgerEntry]:
        found = [
            e
            for e in self.entries
            if e.workspace_id == usage.workspace_id
            and e.at >= usage.since
            and (usage.until is None or e.at < usage.until)
            and (usage.user_id is None or e.user_id == usage.user_id)
        ]
        return sorted(found, key=lambda e: e.at)

    def _append(self, entry: LedgerEntry) -> bool:
        """Add a ledger entry unless this job has one of that kind; money to the micro-dollar."""
        if any((e.job_id, e.kind) == (entry.job_id, entry.kind) for e in self.entries):
            return False
        cost = from_micros(to_micros(entry.cost_usd))
        self.entries.append(replace(entry, cost_usd=cost, at=entry.at.astimezone(UTC)))
        return True

    async def refund(self, entry: LedgerEntry, *, bucket: BucketKey, limits: BucketLimits) -> bool:
        async with self._lock:
            negative = replace(
                entry, cost_usd=-abs(entry.cost_usd), credits=-abs(entry.credits), kind="refund"
            )
            if not self._append(negative):
                return False
            self.buckets[bucket] = give(
                self.buckets.get(bucket), limits, abs(entry.credits), entry.at
            )
            return True

    async def claim(self, key: str, now: datetime) -> bool:
        if key in self.seen:
            return False
        self.seen[key] = now
        return True

    async def prune_dedupe(self, older_than: datetime) -> int:
        old = [k for k, at in self.seen.items() if at < older_than]
        for key in old:
            del self.seen[key]
        return len(old)

    async def state_value(self, key: str) -> str | None:
        return self.bot_state.get(key)

    async def set_state_value(self, key: str, value: str) -> None:
        self.bot_state[key] = value

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        async with self._named_locks.setdefault(name, asyncio.Lock()):
            yield


class MemoryAdmission:
    """An open admission: `commit` keeps the decision, the store applies it as the block ends."""

    def __init__(self, state: AdmissionState, *, taken: Collection[str]) -> None:
        self.state = state
        self.admitted: Admitted | None = None
        self._taken = taken

    async def commit(self, admitted: Admitted) -> None:
        if admitted.job.id in self._taken:
            raise BotError(ErrorCode.INTERNAL, f"job {admitted.job.short_id} exists already")
        self.admitted = admitted


def _utc(job: Job) -> Job:
    """Times come back in UTC, as from a database."""
    return job.replace(
        created_at=job.created_at.astimezone(UTC), updated_at=job.updated_at.astimezone(UTC)
    )
