"""Money and the workspace's rules: buckets, settlements, the ledger and refunds, quotas,
budgets, denied models, the NSFW mode and bans."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiosqlite

from adapters.sqlite.codec import from_micros, from_us, to_micros, to_us
from adapters.sqlite.connection import SqliteConnection, scalar
from adapters.sqlite.jobs import update_job
from core.jobs import Job
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

_LEDGER_COLUMNS = "job_id, kind, workspace_id, user_id, model, cost_micros, credits, at_us"
_INSERT_LEDGER = (
    f"INSERT INTO ledger ({_LEDGER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (job_id, kind) DO NOTHING"
)
# The quota rows that may apply to user `:user` of workspace `:ws` with the JSON list `:roles`.
USER_QUOTAS = (
    "SELECT scope, target_id, capacity, refill_per_hour FROM quotas WHERE workspace_id = :ws "
    "AND (scope = 'workspace' OR (scope = 'user' AND target_id = :user) "
    "OR (scope = 'role' AND target_id IN (SELECT value FROM json_each(:roles))))"
)


# A workspace's rules in one statement (one trip to the connection's thread; read per job).
_POLICY = (
    "SELECT (SELECT json_group_array(model) FROM denied_models WHERE workspace_id = :w), "
    "(SELECT daily_usd FROM budgets WHERE workspace_id = :w), "
    "(SELECT monthly_usd FROM budgets WHERE workspace_id = :w), "
    "(SELECT mode FROM workspace_nsfw WHERE workspace_id = :w)"
)


class MoneyTables(SqliteConnection):
    async def settle_job(self, job: Job, settlement: JobSettlement) -> bool:
        async with self._tx() as db:
            await update_job(db, job)
            if await scalar(db, "SELECT credits_settled FROM jobs WHERE id = ?", (job.id,)):
                return False
            key = BucketKey(job.workspace_id, job.user_id)
            state = await load_bucket(db, key)
            given = give(state, settlement.limits, settlement.credits_delta, job.updated_at)
            await save_bucket(db, key, given)
            if settlement.ledger is not None:
                await db.execute(_INSERT_LEDGER, ledger_params(settlement.ledger))
            await db.execute("UPDATE jobs SET credits_settled = 1 WHERE id = ?", (job.id,))
            return True

    async def bucket(self, key: BucketKey, limits: BucketLimits, now: datetime) -> BucketState:
        async with self._tx(write=False) as db:
            state = await load_bucket(db, key)
        return refill(state, limits, now)

    # quotas, budgets, model policy, bans

    async def set_quota(
        self, workspace_id: str, scope: QuotaScope, target_id: str, limits: BucketLimits | None
    ) -> None:
        # A workspace has one default, whatever target id it was set under.
        sql = "DELETE FROM quotas WHERE workspace_id = ? AND scope = ?"
        params: tuple[str, ...] = (workspace_id, scope.value)
        if scope is not QuotaScope.WORKSPACE:
            sql, params = sql + " AND target_id = ?", (*params, target_id)
        async with self._tx() as db:
            await db.execute(sql, params)
            if limits is not None:
                await db.execute(
                    "INSERT INTO quotas (workspace_id, scope, target_id, capacity, "
                    "refill_per_hour) VALUES (?, ?, ?, ?, ?)",
                    (
                        workspace_id,
                        scope.value,
                        target_id,
                        str(limits.capacity),
                        str(limits.refill_per_hour),
                    ),
                )

    async def quotas(self, workspace_id: str, user_id: str, roles: Sequence[str]) -> Quotas:
        async with self._tx(write=False) as db:
            return await read_quotas(db, workspace_id, user_id, roles)

    async def set_budget(self, workspace_id: str, budget: Budget) -> None:
        daily, monthly = budget.daily_usd, budget.monthly_usd
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO budgets (workspace_id, daily_usd, monthly_usd) VALUES (?, ?, ?) "
                "ON CONFLICT (workspace_id) DO UPDATE SET "
                "daily_usd = excluded.daily_usd, monthly_usd = excluded.monthly_usd",
                (
                    workspace_id,
                    None if daily is None else str(daily),
                    None if monthly is None else str(monthly),
                ),
            )

    async def set_model_denied(self, workspace_id: str, model: str, denied: bool) -> None:
        sql = (
            "INSERT INTO denied_models (workspace_id, model) VALUES (?, ?) ON CONFLICT DO NOTHING"
            if denied
            else "DELETE FROM denied_models WHERE workspace_id = ? AND model = ?"
        )
        async with self._tx() as db:
            await db.execute(sql, (workspace_id, model))

    async def policy(self, workspace_id: str) -> WorkspacePolicy:
        [(denied, daily, monthly, mode)] = await self._rows(_POLICY, {"w": workspace_id})
        return WorkspacePolicy(
            frozenset(json.loads(denied)),
            budget_from(daily, monthly),
            None if mode is None else NsfwMode(mode),
        )

    async def set_nsfw(self, workspace_id: str, mode: NsfwMode | None) -> None:
        async with self._tx() as db:
            if mode is None:
                sql = "DELETE FROM workspace_nsfw WHERE workspace_id = ?"
                await db.execute(sql, (workspace_id,))
                return
            await db.execute(
                "INSERT INTO workspace_nsfw (workspace_id, mode) VALUES (?, ?) "
                "ON CONFLICT (workspace_id) DO UPDATE SET mode = excluded.mode",
                (workspace_id, mode.value),
            )

    async def set_banned(self, workspace_id: str, user_id: str, banned: bool) -> None:
        sql = (
            "INSERT INTO bans (workspace_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING"
            if banned
            else "DELETE FROM bans WHERE workspace_id = ? AND user_id = ?"
        )
        async with self._tx() as db:
            await db.execute(sql, (workspace_id, user_id))

    async def is_banned(self, workspace_id: str, user_id: str) -> bool:
        async with self._tx(write=False) as db:
            return bool(
                await scalar(
                    db,
                    "SELECT COUNT(*) FROM bans WHERE workspace_id = ? AND user_id = ?",
                    (workspace_id, user_id),
                )
            )

    # ledger and dedupe

    async def ledger(self, usage: UsageFilter) -> list[LedgerEntry]:
        sql = f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE workspace_id = ? AND at_us >= ?"
        params: list[Any] = [usage.workspace_id, to_us(usage.since)]
        if usage.until is not None:
            sql += " AND at_us < ?"
            params.append(to_us(usage.until))
        if usage.user_id is not None:
            sql += " AND user_id = ?"
            params.append(usage.user_id)
        async with self._tx(write=False) as db:
            rows = await db.execute_fetchall(sql + " ORDER BY at_us, id", params)
        return [
            LedgerEntry(
                job_id=r["job_id"],
                workspace_id=r["workspace_id"],
                user_id=r["user_id"],
                model=r["model"],
                cost_usd=from_micros(r["cost_micros"]),
                credits=Decimal(r["credits"]),
                at=from_us(r["at_us"]),
                kind=r["kind"],
            )
            for r in rows
        ]

    async def refund(self, entry: LedgerEntry, *, bucket: BucketKey, limits: BucketLimits) -> bool:
        refund = LedgerEntry(
            job_id=entry.job_id,
            workspace_id=entry.workspace_id,
            user_id=entry.user_id,
            model=entry.model,
            cost_usd=-abs(entry.cost_usd),
            credits=-abs(entry.credits),
            at=entry.at,
            kind="refund",
        )
        async with self._tx() as db:
            cursor = await db.execute(_INSERT_LEDGER, ledger_params(refund))
            if cursor.rowcount == 0:
                return False
            state = give(await load_bucket(db, bucket), limits, abs(entry.credits), entry.at)
            await save_bucket(db, bucket, state)
            return True


async def read_quotas(
    db: aiosqlite.Connection, workspace_id: str, user_id: str, roles: Sequence[str]
) -> Quotas:
    rows = await db.execute_fetchall(
        USER_QUOTAS, {"ws": workspace_id, "user": user_id, "roles": json.dumps(list(roles))}
    )
    return quotas_from_rows([tuple(r) for r in rows], user_id, roles)


def quotas_from_rows(rows: Sequence[Sequence[str]], user_id: str, roles: Sequence[str]) -> Quotas:
    """Quotas from (scope, target id, capacity, refill per hour) rows of `USER_QUOTAS`."""
    found = {(scope, target): BucketLimits(Decimal(c), Decimal(r)) for scope, target, c, r in rows}
    workspace = [lim for (scope, _), lim in found.items() if scope == QuotaScope.WORKSPACE]
    return Quotas(
        user=found.get((QuotaScope.USER.value, user_id)),
        roles=tuple(found[("role", r)] for r in dict.fromkeys(roles) if ("role", r) in found),
        workspace=workspace[0] if workspace else None,
    )


async def load_bucket(db: aiosqlite.Connection, key: BucketKey) -> BucketState | None:
    rows = list(
        await db.execute_fetchall(
            "SELECT level, updated_us FROM buckets WHERE workspace_id = ? AND user_id = ?",
            (key.workspace_id, key.user_id),
        )
    )
    if not rows:
        return None
    return BucketState(Decimal(rows[0]["level"]), from_us(rows[0]["updated_us"]))


async def save_bucket(db: aiosqlite.Connection, key: BucketKey, state: BucketState) -> None:
    await db.execute(
        "INSERT INTO buckets (workspace_id, user_id, level, updated_us) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (workspace_id, user_id) DO UPDATE SET "
        "level = excluded.level, updated_us = excluded.updated_us",
        (key.workspace_id, key.user_id, str(state.level), to_us(state.updated_at)),
    )


def ledger_params(entry: LedgerEntry) -> tuple[Any, ...]:
    return (
        entry.job_id,
        entry.kind,
        entry.workspace_id,
        entry.user_id,
        entry.model,
        to_micros(entry.cost_usd),
        str(entry.credits),
        to_us(entry.at),
    )


def budget_from(daily: str | None, monthly: str | None) -> Budget:
    return Budget(
        daily_usd=None if daily is None else Decimal(daily),
        monthly_usd=None if monthly is None else Decimal(monthly),
    )
