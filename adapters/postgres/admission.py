"""Admission's unit of work: lock the rows the decision is made over, load the state, let core
decide, write its decision in the same transaction.

Read committed, with explicit row locks, in one order everywhere (the workspace's budget row,
then the user's bucket row): two engines admitting for one user, or for one workspace with a
budget, take turns; admissions of other users and other workspaces do not wait for each
other. A bucket never used has no row to lock, so admission inserts one (its level NULL: never
used), and the insert is undone with the rest when nothing is admitted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from adapters.postgres.codec import Connection
from adapters.postgres.connection import PostgresConnection
from adapters.postgres.jobs import insert_job
from adapters.postgres.money import USER_QUOTAS, load_bucket, quotas_from_rows, save_bucket
from core.admission_rules import AdmissionKey, AdmissionState, Admitted, Spending
from core.errors import BotError, ErrorCode
from core.quota import BucketKey, Budget

_LOCK_BUDGET = "SELECT daily_usd, monthly_usd FROM budgets WHERE workspace_id = $1 FOR UPDATE"
_READ_BUDGET = "SELECT daily_usd, monthly_usd FROM budgets WHERE workspace_id = $1"
_BUCKET_ROW = (
    "INSERT INTO buckets (workspace_id, user_id) VALUES ($1, $2) "
    "ON CONFLICT (workspace_id, user_id) DO NOTHING"
)
# The rules and the user's jobs in flight. $1 workspace, $2 user, $3 model.
_RULES = """SELECT
    EXISTS (SELECT 1 FROM denied_models WHERE workspace_id = $1 AND model = $3) AS denied,
    EXISTS (SELECT 1 FROM bans WHERE workspace_id = $1 AND user_id = $2) AS banned,
    (SELECT COUNT(*) FROM jobs WHERE workspace_id = $1 AND user_id = $2 AND NOT final)
        AS in_flight"""
# The workspace's spend: $1 workspace, $2 the day's start, $3 the month's start.
_SPENDING = """SELECT
    COALESCE(SUM(cost_usd) FILTER (WHERE at >= $2), 0) AS day,
    COALESCE(SUM(cost_usd) FILTER (WHERE at >= $3), 0) AS month,
    (SELECT COALESCE(SUM(estimate_usd), 0) FROM jobs
        WHERE workspace_id = $1 AND NOT final AND NOT credits_settled) AS pending
    FROM ledger WHERE workspace_id = $1 AND at >= LEAST($2, $3)"""


async def load_admission_state(db: Connection, key: AdmissionKey, *, lock: bool) -> AdmissionState:
    """`key`'s state; with `lock` (inside a write transaction), the workspace's budget row and
    the user's bucket row are held until the transaction ends."""
    budget_row = await db.fetchrow(_LOCK_BUDGET if lock else _READ_BUDGET, key.workspace_id)
    budget = Budget() if budget_row is None else Budget(*budget_row)
    bucket_key = BucketKey(key.workspace_id, key.user_id)
    if lock:
        await db.execute(_BUCKET_ROW, key.workspace_id, key.user_id)
    bucket = await load_bucket(db, bucket_key, lock=lock)
    rules = await db.fetchrow(_RULES, key.workspace_id, key.user_id, key.model)
    assert rules is not None  # a SELECT without FROM has one row
    quotas = await db.fetch(USER_QUOTAS, key.workspace_id, key.user_id, list(key.roles))
    spending = None
    if budget.daily_usd is not None or budget.monthly_usd is not None:
        spent = await db.fetchrow(_SPENDING, key.workspace_id, key.day_start, key.month_start)
        assert spent is not None  # an aggregate has one row
        spending = Spending(spent["day"], spent["month"], spent["pending"])
    return AdmissionState(
        denied=rules["denied"],
        banned=rules["banned"],
        quotas=quotas_from_rows([tuple(q) for q in quotas], key.user_id, key.roles),
        budget=budget,
        in_flight=int(rules["in_flight"]),
        bucket=bucket,
        spending=spending,
    )


class PostgresAdmission:
    """An open admission: its state, read under the row locks `commit` writes under."""

    def __init__(
        self, db: Connection, state: AdmissionState, *, owner: str, lease: timedelta
    ) -> None:
        self._db = db
        self._owner = owner
        self._lease = lease
        self.state = state
        self.committed = False

    async def commit(self, admitted: Admitted) -> None:
        job = admitted.job
        async with self._db.transaction():  # a savepoint: a refused job id writes nothing
            if not await insert_job(
                self._db, job, images=admitted.images, owner=self._owner, lease=self._lease
            ):
                raise BotError(ErrorCode.INTERNAL, f"job {job.short_id} exists already")
            await save_bucket(self._db, BucketKey(job.workspace_id, job.user_id), admitted.bucket)
        self.committed = True


class AdmissionTables(PostgresConnection):
    @asynccontextmanager
    async def admission(self, key: AdmissionKey) -> AsyncIterator[PostgresAdmission]:
        async with self._connection() as db:
            tx = db.transaction()
            await tx.start()
            try:
                state = await load_admission_state(db, key, lock=True)
                unit = PostgresAdmission(db, state, owner=self.instance, lease=self.lease)
                yield unit
            except BaseException:
                await tx.rollback()
                raise
            if unit.committed:
                await tx.commit()
            else:  # left without a decision: the placeholder bucket row goes too
                await tx.rollback()

    async def admission_state(self, key: AdmissionKey) -> AdmissionState:
        async with self._tx(write=False) as db:
            return await load_admission_state(db, key, lock=False)
