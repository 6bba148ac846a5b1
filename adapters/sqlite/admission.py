"""Admission's unit of work: one statement loads the state, core decides, one transaction writes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import aiosqlite

from adapters.sqlite.codec import from_micros, from_us, to_us
from adapters.sqlite.connection import SqliteConnection
from adapters.sqlite.jobs import insert_job
from adapters.sqlite.money import USER_QUOTAS, budget_from, quotas_from_rows, save_bucket
from core.admission_rules import AdmissionKey, AdmissionState, Admitted, Spending
from core.errors import BotError, ErrorCode
from core.quota import BucketKey, BucketState

# Everything admission reads, in one statement: each round trip to the connection's thread
# costs more than the lookups themselves, and on a busy machine each is a chance to wait. The
# workspace's spend is summed only when its budget limits something.
_ADMISSION_STATE = f"""SELECT
    EXISTS (SELECT 1 FROM denied_models WHERE workspace_id = :ws AND model = :model),
    EXISTS (SELECT 1 FROM bans WHERE workspace_id = :ws AND user_id = :user),
    (SELECT json_group_array(json_array(scope, target_id, capacity, refill_per_hour))
        FROM ({USER_QUOTAS})),
    (SELECT daily_usd FROM budgets WHERE workspace_id = :ws),
    (SELECT monthly_usd FROM budgets WHERE workspace_id = :ws),
    (SELECT COUNT(*) FROM jobs WHERE workspace_id = :ws AND user_id = :user AND final = 0),
    (SELECT level FROM buckets WHERE workspace_id = :ws AND user_id = :user),
    (SELECT updated_us FROM buckets WHERE workspace_id = :ws AND user_id = :user),
    CASE WHEN EXISTS (SELECT 1 FROM budgets WHERE workspace_id = :ws
            AND (daily_usd IS NOT NULL OR monthly_usd IS NOT NULL))
        THEN (SELECT json_array(
            COALESCE(SUM(CASE WHEN at_us >= :day THEN cost_micros END), 0),
            COALESCE(SUM(CASE WHEN at_us >= :month THEN cost_micros END), 0),
            (SELECT COALESCE(SUM(estimate_micros), 0) FROM jobs
                WHERE workspace_id = :ws AND final = 0 AND credits_settled = 0))
            FROM ledger WHERE workspace_id = :ws AND at_us >= MIN(:day, :month))
    END"""


async def load_admission_state(db: aiosqlite.Connection, key: AdmissionKey) -> AdmissionState:
    rows = await db.execute_fetchall(
        _ADMISSION_STATE,
        {
            "ws": key.workspace_id,
            "user": key.user_id,
            "model": key.model,
            "roles": json.dumps(list(key.roles)),
            "day": to_us(key.day_start),
            "month": to_us(key.month_start),
        },
    )
    denied, banned, quotas, daily, monthly, live, level, updated_us, spent = next(iter(rows))
    spending = None
    if spent is not None:
        day, month, pending = json.loads(spent)
        spending = Spending(from_micros(day), from_micros(month), from_micros(pending))
    return AdmissionState(
        denied=bool(denied),
        banned=bool(banned),
        quotas=quotas_from_rows(json.loads(quotas), key.user_id, key.roles),
        budget=budget_from(daily, monthly),
        in_flight=int(live),
        bucket=None if level is None else BucketState(Decimal(level), from_us(updated_us)),
        spending=spending,
    )


class SqliteAdmission:
    """An open admission: its state, read inside the write transaction `commit` writes in."""

    def __init__(self, db: aiosqlite.Connection, state: AdmissionState) -> None:
        self._db = db
        self.state = state

    async def commit(self, admitted: Admitted) -> None:
        job = admitted.job
        if not await insert_job(self._db, job, images=admitted.images):
            raise BotError(ErrorCode.INTERNAL, f"job {job.short_id} exists already")
        await save_bucket(self._db, BucketKey(job.workspace_id, job.user_id), admitted.bucket)


class AdmissionTables(SqliteConnection):
    @asynccontextmanager
    async def admission(self, key: AdmissionKey) -> AsyncIterator[SqliteAdmission]:
        async with self._tx() as db:
            yield SqliteAdmission(db, await load_admission_state(db, key))

    async def admission_state(self, key: AdmissionKey) -> AdmissionState:
        async with self._tx(write=False) as db:
            return await load_admission_state(db, key)
