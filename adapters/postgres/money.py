"""Money and the workspace's rules: buckets, settlements, the ledger and refunds, quotas,
budgets, denied models, the NSFW mode and bans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from adapters.postgres.codec import Connection, aware, utc
from adapters.postgres.connection import PostgresConnection
from adapters.postgres.jobs import update_job
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

_LEDGER_COLUMNS = "job_id, kind, workspace_id, user_id, model, cost_usd, credits, at"
_INSERT_LEDGER = (
    f"INSERT INTO ledger ({_LEDGER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    "ON CONFLICT (job_id, kind) DO NOTHING"
)
# The quota rows that may apply to user $2 of workspace $1 with the roles $3 (a text array).
USER_QUOTAS = (
    "SELECT scope, target_id, capacity, refill_per_hour FROM quotas WHERE workspace_id = $1 "
    "AND (scope = 'workspace' OR (scope = 'user' AND target_id = $2) "
    "OR (scope = 'role' AND target_id = ANY($3::text[])))"
)


class MoneyTables(PostgresConnection):
    async def settle_job(self, job: Job, settlement: JobSettlement) -> bool:
        async with self._tx() as db:
            await update_job(db, job, owner=self.instance)  # locks the job's row until the end
            if await db.fetchval("SELECT credits_settled FROM jobs WHERE id = $1", job.id):
                return False
            key = BucketKey(job.workspace_id, job.user_id)
            state = await load_bucket(db, key, lock=True)
            given = give(state, settlement.limits, settlement.credits_delta, job.updated_at)
            await save_bucket(db, key, given)
            if settlement.ledger is not None:
                await db.execute(_INSERT_LEDGER, *ledger_params(settlement.ledger))
            await db.execute("UPDATE jobs SET credits_settled = TRUE WHERE id = $1", job.id)
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
        sql = "DELETE FROM quotas WHERE workspace_id = $1 AND scope = $2"
        params: tuple[str, ...] = (workspace_id, scope.value)
        if scope is not QuotaScope.WORKSPACE:
            sql, params = sql + " AND target_id = $3", (*params, target_id)
        async with self._tx() as db:
            await db.execute(sql, *params)
            if limits is not None:
                await db.execute(
                    "INSERT INTO quotas (workspace_id, scope, target_id, capacity, "
                    "refill_per_hour) VALUES ($1, $2, $3, $4, $5)",
                    workspace_id,
                    scope.value,
                    target_id,
                    limits.capacity,
                    limits.refill_per_hour,
                )

    async def quotas(self, workspace_id: str, user_id: str, roles: Sequence[str]) -> Quotas:
        async with self._tx(write=False) as db:
            rows = await db.fetch(USER_QUOTAS, workspace_id, user_id, list(roles))
        return quotas_from_rows([tuple(r) for r in rows], user_id, roles)

    async def set_budget(self, workspace_id: str, budget: Budget) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO budgets (workspace_id, daily_usd, monthly_usd) VALUES ($1, $2, $3) "
                "ON CONFLICT (workspace_id) DO UPDATE SET "
                "daily_usd = excluded.daily_usd, monthly_usd = excluded.monthly_usd",
                workspace_id,
                budget.daily_usd,
                budget.monthly_usd,
            )

    async def set_model_denied(self, workspace_id: str, model: str, denied: bool) -> None:
        sql = (
            "INSERT INTO denied_models (workspace_id, model) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            if denied
            else "DELETE FROM denied_models WHERE workspace_id = $1 AND model = $2"
        )
        async with self._tx() as db:
            await db.execute(sql, workspace_id, model)

    async def policy(self, workspace_id: str) -> WorkspacePolicy:
        async with self._tx(write=False) as db:
            row = await db.fetchrow(
                "SELECT ARRAY(SELECT model FROM denied_models WHERE workspace_id = $1) AS denied, "
                "(SELECT daily_usd FROM budgets WHERE workspace_id = $1) AS daily, "
                "(SELECT monthly_usd FROM budgets WHERE workspace_id = $1) AS monthly, "
                "(SELECT mode FROM workspace_nsfw WHERE workspace_id = $1) AS nsfw",
                workspace_id,
            )
        assert row is not None  # a SELECT without FROM has one row
        mode = None if row["nsfw"] is None else NsfwMode(row["nsfw"])
        return WorkspacePolicy(frozenset(row["denied"]), Budget(row["daily"], row["monthly"]), mode)

    async def set_nsfw(self, workspace_id: str, mode: NsfwMode | None) -> None:
        async with self._tx() as db:
            if mode is None:
                await db.execute("DELETE FROM workspace_nsfw WHERE workspace_id = $1", workspace_id)
                return
            await db.execute(
                "INSERT INTO workspace_nsfw (workspace_id, mode) VALUES ($1, $2) "
                "ON CONFLICT (workspace_id) DO UPDATE SET mode = excluded.mode",
                workspace_id,
                mode.value,
            )

    async def set_banned(self, workspace_id: str, user_id: str, banned: bool) -> None:
        sql = (
            "INSERT INTO bans (workspace_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            if banned
            else "DELETE FROM bans WHERE workspace_id = $1 AND user_id = $2"
        )
        async with self._tx() as db:
            await db.execute(sql, workspace_id, user_id)

    async def is_banned(self, workspace_id: str, user_id: str) -> bool:
        async with self._tx(write=False) as db:
            return bool(
                await db.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM bans WHERE workspace_id = $1 AND user_id = $2)",
                    workspace_id,
                    user_id,
                )
            )

    # ledger

    async def ledger(self, usage: UsageFilter) -> list[LedgerEntry]:
        sql = f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE workspace_id = $1 AND at >= $2"
        params: list[Any] = [usage.workspace_id, aware(usage.since)]
        if usage.until is not None:
            params.append(aware(usage.until))
            sql += f" AND at < ${len(params)}"
        if usage.user_id is not None:
            params.append(usage.user_id)
            sql += f" AND user_id = ${len(params)}"
        async with self._tx(write=False) as db:
            rows = await db.fetch(sql + " ORDER BY at, id", *params)
        return [
            LedgerEntry(
                job_id=r["job_id"],
                workspace_id=r["workspace_id"],
                user_id=r["user_id"],
                model=r["model"],
                cost_usd=r["cost_usd"],
                credits=r["credits"],
                at=utc(r["at"]),
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
            status = await db.execute(_INSERT_LEDGER, *ledger_params(refund))
            if status == "INSERT 0 0":
                return False
            state = await load_bucket(db, bucket, lock=True)
            await save_bucket(db, bucket, give(state, limits, abs(entry.credits), entry.at))
            return True


def quotas_from_rows(rows: Sequence[Sequence[Any]], user_id: str, roles: Sequence[str]) -> Quotas:
    """Quotas from (scope, target id, capacity, refill per hour) rows of `USER_QUOTAS`."""
    found = {(scope, target): BucketLimits(Decimal(c), Decimal(r)) for scope, target, c, r in rows}
    workspace = [lim for (scope, _), lim in found.items() if scope == QuotaScope.WORKSPACE]
    return Quotas(
        user=found.get((QuotaScope.USER.value, user_id)),
        roles=tuple(found[("role", r)] for r in dict.fromkeys(roles) if ("role", r) in found),
        workspace=workspace[0] if workspace else None,
    )


async def load_bucket(db: Connection, key: BucketKey, *, lock: bool = False) -> BucketState | None:
    """The bucket as last saved (None: never used); with `lock`, its row is held until the
    transaction ends."""
    row = await db.fetchrow(
        "SELECT level, updated_at FROM buckets WHERE workspace_id = $1 AND user_id = $2"
        + (" FOR UPDATE" if lock else ""),
        key.workspace_id,
        key.user_id,
    )
    if row is None or row["level"] is None:
        return None
    return BucketState(row["level"], utc(row["updated_at"]))


async def save_bucket(db: Connection, key: BucketKey, state: BucketState) -> None:
    await db.execute(
        "INSERT INTO buckets (workspace_id, user_id, level, updated_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (workspace_id, user_id) DO UPDATE SET "
        "level = excluded.level, updated_at = excluded.updated_at",
        key.workspace_id,
        key.user_id,
        state.level,
        aware(state.updated_at),
    )


def ledger_params(entry: LedgerEntry) -> tuple[Any, ...]:
    return (
        entry.job_id,
        entry.kind,
        entry.workspace_id,
        entry.user_id,
        entry.model,
        entry.cost_usd,
        entry.credits,
        aware(entry.at),
    )
