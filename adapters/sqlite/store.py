"""The `Store` port on one aiosqlite connection: WAL, one short transaction per method."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from adapters.sqlite.codec import (
    dumps,
    from_micros,
    from_us,
    image_from_row,
    job_from_row,
    job_values,
    to_micros,
    to_us,
)
from adapters.sqlite.migrations import migrate
from core.errors import BotError, ErrorCode
from core.jobs import InputImage, Job
from core.nsfw import NsfwMode
from core.policy import check_policy
from core.ports import JobSettlement, QuotaRow, UsageFilter, WorkspacePolicy
from core.quota import (
    Admission,
    BucketKey,
    BucketLimits,
    BucketState,
    Budget,
    BudgetCheck,
    LedgerEntry,
    Quotas,
    QuotaScope,
    give,
    refill,
    resolve,
    take,
)
from core.refusals import bucket_refusal, check_budget, check_in_flight
from core.usage import budget_check

log = logging.getLogger(__name__)

_JOB_COLUMNS = (
    "id",
    "platform",
    "workspace_id",
    "user_id",
    "model",
    "kind",
    "endpoint",
    "arguments",
    "estimate_usd",
    "estimate_micros",
    "credits",
    "state",
    "final",
    "created_us",
    "updated_us",
    "reply_ref",
    "input_count",
    "request_id",
    "result",
    "error",
    "parent_job_id",
    "price_base_usd",
)  # every column but credits_settled, which only settle_job changes, and the limits below
# The bucket limits a job was admitted under: written once, at admission, for its settlement.
_ADMITTED_COLUMNS = (*_JOB_COLUMNS, "limit_capacity", "limit_refill_per_hour")
_INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join(_ADMITTED_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _ADMITTED_COLUMNS)})"
)
# save_job leaves reply_ref alone: only set_reply_ref changes it after admission, so a job saved
# from a copy read before the adapter named its message never loses that name.
_UPDATE_JOB = (
    "UPDATE jobs SET "
    + ", ".join(f"{c} = :{c}" for c in _JOB_COLUMNS if c not in ("id", "reply_ref"))
    + " WHERE id = :id"
)
_LEDGER_COLUMNS = "job_id, kind, workspace_id, user_id, model, cost_micros, credits, at_us"
_INSERT_LEDGER = (
    f"INSERT INTO ledger ({_LEDGER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (job_id, kind) DO NOTHING"
)
_SCOPE_ORDER = "CASE scope WHEN 'user' THEN 0 WHEN 'role' THEN 1 ELSE 2 END"
# The quota rows that may apply to user `:user` of workspace `:ws` with the JSON list `:roles`.
_USER_QUOTAS = (
    "SELECT scope, target_id, capacity, refill_per_hour FROM quotas WHERE workspace_id = :ws "
    "AND (scope = 'workspace' OR (scope = 'user' AND target_id = :user) "
    "OR (scope = 'role' AND target_id IN (SELECT value FROM json_each(:roles))))"
)
# SQLite checkpoints the WAL itself inside the COMMIT that takes it past 1,000 pages, and
# fsyncs there: milliseconds in whichever transaction is unlucky (it was admission's p99). So
# the store checkpoints on a second connection, in the background, every `checkpoint_every`
# write transactions; the writer's own checkpoint stays as a backstop, far later.
CHECKPOINT_EVERY = 100
_BACKSTOP_PAGES = 10_000


class SqliteStore:
    """Every method is one transaction on the one connection, serialised by an asyncio lock.
    A second connection only checkpoints the WAL, in a task the store owns."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        path: Path,
        *,
        checkpointer: aiosqlite.Connection | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        self._db: aiosqlite.Connection | None = db
        self._lock = asyncio.Lock()
        self.path = path
        self._checkpointer = checkpointer
        self._checkpoint_every = checkpoint_every
        self._writes = 0
        self._wake = asyncio.Event()
        self._checkpointed = asyncio.Event()  # set after each background checkpoint (tests)
        self._checkpoints: asyncio.Task[None] | None = None
        if checkpointer is not None:
            self._checkpoints = asyncio.create_task(
                self._checkpoint_loop(), name=f"checkpoints-{path.name}"
            )

    @classmethod
    async def open(
        cls, path: str | Path, *, checkpoint_every: int = CHECKPOINT_EVERY
    ) -> SqliteStore:
        """Open (creating it and its folder when missing) and migrate the database at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        checkpointer: aiosqlite.Connection | None = None
        try:
            db.row_factory = sqlite3.Row
            mode = await db.execute_fetchall("PRAGMA journal_mode = WAL")
            wal = str(next(iter(mode))[0]).lower() == "wal"
            if not wal:
                log.warning("SQLite refused WAL mode for %s", path)
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            version = await migrate(db, now=datetime.now(UTC))
            if wal:
                await db.execute(f"PRAGMA wal_autocheckpoint = {_BACKSTOP_PAGES}")
                checkpointer = await aiosqlite.connect(path, isolation_level=None)
        except BaseException:
            if checkpointer is not None:
                await checkpointer.close()
            await db.close()
            raise
        log.info("opened %s at schema version %d", path, version)
        return cls(db, path, checkpointer=checkpointer, checkpoint_every=checkpoint_every)

    async def close(self) -> None:
        """Close the connections (SQLite checkpoints the WAL). Safe to call twice."""
        task, self._checkpoints = self._checkpoints, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            await checkpointer.close()
        db, self._db = self._db, None
        if db is not None:
            async with self._lock:
                await db.close()  # the last connection: it checkpoints and removes the WAL

    async def checkpoint(self) -> tuple[int, int]:
        """Copy what the WAL holds into the database without waiting for (or blocking) the
        writer; the WAL's pages and how many of them are now in the database."""
        if self._checkpointer is None:
            raise ValueError("the store is closed or not in WAL mode")
        rows = await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        _busy, pages, copied = next(iter(rows))
        return int(pages), int(copied)

    async def _checkpoint_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.checkpoint()
            except sqlite3.Error:
                log.warning("background checkpoint of %s failed", self.path, exc_info=True)
            self._checkpointed.set()
            self._checkpointed = asyncio.Event()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def _tx(self, *, write: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """One transaction; rolled back on any exception, cancellation included."""
        if self._db is None:
            raise ValueError("the store is closed")
        db = self._db
        async with self._lock:
            try:
                # Inside the try: a cancelled BEGIN has still been queued on the connection's
                # thread, and the ROLLBACK queued after it must undo it.
                await db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield db
            except BaseException:
                await db.rollback()
                raise
            await db.commit()
        if write:
            self._writes += 1
            if self._writes % self._checkpoint_every == 0:
                self._wake.set()

    # jobs

    async def admit(self, job: Job, *, images: Sequence[InputImage], admission: Admission) -> Job:
        async with self._tx() as db:
            state = await _admission_state(db, job, admission)
            limits, budget = admission.limits, admission.budget
            if (rules := admission.rules) is not None:
                check_policy(rules.model, denied=state.denied, banned=state.banned)
                limits = resolve(state.quotas, admission.limits)
                budget = budget_check(state.budget, admission.now)
            check_in_flight(state.live, admission.max_in_flight)
            if budget is not None:
                await _check_budget(db, job, budget, now=admission.now)
            taken = take(state.bucket, limits, job.credits, admission.now)
            if not taken.ok:
                raise bucket_refusal(taken, amount=job.credits, limits=limits)
            if state.id_taken:
                raise BotError(ErrorCode.INTERNAL, f"job {job.short_id} exists already")
            job = job.replace(limits=limits, credits_settled=False)
            await db.execute(_INSERT_JOB, job_values(job))
            if images:
                await db.executemany(
                    "INSERT INTO job_inputs (job_id, idx, content_type, data, url, width, height) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (job.id, i, im.content_type, im.data, im.url, im.width, im.height)
                        for i, im in enumerate(images)
                    ],
                )
            await _save_bucket(db, admission.bucket, taken.state)
        return job

    async def get_job(self, job_id: str) -> Job | None:
        async with self._tx(write=False) as db:
            rows = list(await db.execute_fetchall("SELECT * FROM jobs WHERE id = ?", (job_id,)))
        return job_from_row(rows[0]) if rows else None

    async def save_job(self, job: Job) -> None:
        async with self._tx() as db:
            await _update_job(db, job)

    async def set_reply_ref(self, job_id: str, reply_ref: Mapping[str, Any]) -> None:
        async with self._tx() as db:
            cursor = await db.execute(
                "UPDATE jobs SET reply_ref = ? WHERE id = ?", (dumps(reply_ref), job_id)
            )
            if cursor.rowcount == 0:
                raise BotError(ErrorCode.NOT_FOUND, f"There is no job {job_id[:8]}.")

    async def settle_job(self, job: Job, settlement: JobSettlement) -> bool:
        async with self._tx() as db:
            await _update_job(db, job)
            if await _scalar(db, "SELECT credits_settled FROM jobs WHERE id = ?", (job.id,)):
                return False
            key = BucketKey(job.workspace_id, job.user_id)
            state = await _load_bucket(db, key)
            given = give(state, settlement.limits, settlement.credits_delta, job.updated_at)
            await _save_bucket(db, key, given)
            if settlement.ledger is not None:
                await db.execute(_INSERT_LEDGER, _ledger_params(settlement.ledger))
            await db.execute("UPDATE jobs SET credits_settled = 1 WHERE id = ?", (job.id,))
            return True

    async def job_inputs(self, job_id: str) -> list[InputImage]:
        async with self._tx(write=False) as db:
            rows = await db.execute_fetchall(
                "SELECT * FROM job_inputs WHERE job_id = ? ORDER BY idx", (job_id,)
            )
        return [image_from_row(r) for r in rows]

    async def drop_job_inputs(self, job_id: str) -> None:
        async with self._tx() as db:
            await db.execute("DELETE FROM job_inputs WHERE job_id = ?", (job_id,))

    async def unfinished_jobs(self) -> list[Job]:
        return await self._jobs("SELECT * FROM jobs WHERE final = 0 ORDER BY created_us, rowid", ())

    async def user_jobs(self, workspace_id: str, user_id: str, *, limit: int) -> list[Job]:
        return await self._jobs(
            "SELECT * FROM jobs WHERE workspace_id = ? AND user_id = ? "
            "ORDER BY created_us DESC, rowid DESC LIMIT ?",
            (workspace_id, user_id, limit),
        )

    async def jobs_by_prefix(self, workspace_id: str, prefix: str, *, limit: int) -> list[Job]:
        return await self._jobs(
            "SELECT * FROM jobs WHERE workspace_id = ? AND substr(id, 1, ?) = ? "
            "ORDER BY created_us DESC, rowid DESC LIMIT ?",
            (workspace_id, len(prefix), prefix, limit),
        )

    async def _jobs(self, sql: str, params: tuple[Any, ...]) -> list[Job]:
        async with self._tx(write=False) as db:
            rows = await db.execute_fetchall(sql, params)
        return [job_from_row(r) for r in rows]

    # buckets

    async def bucket(self, key: BucketKey, limits: BucketLimits, now: datetime) -> BucketState:
        async with self._tx(write=False) as db:
            state = await _load_bucket(db, key)
        return refill(state, limits, now)

    async def give_credits(
        self, key: BucketKey, amount: Decimal, limits: BucketLimits, now: datetime
    ) -> BucketState:
        async with self._tx() as db:
            state = give(await _load_bucket(db, key), limits, amount, now)
            await _save_bucket(db, key, state)
        return state

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
            return await _read_quotas(db, workspace_id, user_id, roles)

    async def quota_rows(self, workspace_id: str) -> list[QuotaRow]:
        async with self._tx(write=False) as db:
            rows = await db.execute_fetchall(
                f"SELECT * FROM quotas WHERE workspace_id = ? ORDER BY {_SCOPE_ORDER}, target_id",
                (workspace_id,),
            )
        return [QuotaRow(QuotaScope(r["scope"]), r["target_id"], _limits(r)) for r in rows]

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
        async with self._tx(write=False) as db:
            models = await db.execute_fetchall(
                "SELECT model FROM denied_models WHERE workspace_id = ?", (workspace_id,)
            )
            budgets = list(
                await db.execute_fetchall(
                    "SELECT daily_usd, monthly_usd FROM budgets WHERE workspace_id = ?",
                    (workspace_id,),
                )
            )
            nsfw = list(
                await db.execute_fetchall(
                    "SELECT mode FROM workspace_nsfw WHERE workspace_id = ?", (workspace_id,)
                )
            )
        budget = _budget(*budgets[0]) if budgets else Budget()
        mode = NsfwMode(nsfw[0]["mode"]) if nsfw else None
        return WorkspacePolicy(frozenset(r["model"] for r in models), budget, mode)

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
                await _scalar(
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
            cursor = await db.execute(_INSERT_LEDGER, _ledger_params(refund))
            if cursor.rowcount == 0:
                return False
            state = give(await _load_bucket(db, bucket), limits, abs(entry.credits), entry.at)
            await _save_bucket(db, bucket, state)
            return True

    async def claim(self, key: str, now: datetime) -> bool:
        async with self._tx() as db:
            cursor = await db.execute(
                "INSERT INTO dedupe (key, seen_us) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (key, to_us(now)),
            )
            return cursor.rowcount == 1

    async def prune_dedupe(self, older_than: datetime) -> int:
        """Forget dedupe keys first seen before `older_than`; return how many."""
        async with self._tx() as db:
            cursor = await db.execute("DELETE FROM dedupe WHERE seen_us < ?", (to_us(older_than),))
            return cursor.rowcount

    async def state_value(self, key: str) -> str | None:
        """A fact the bot keeps about itself, or None."""
        async with self._tx(write=False) as db:
            value = await _scalar(db, "SELECT value FROM bot_state WHERE key = ?", (key,))
            return None if value is None else str(value)

    async def set_state_value(self, key: str, value: str) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


async def _scalar(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> Any:
    rows = list(await db.execute_fetchall(sql, params))
    return rows[0][0] if rows else None


@dataclass(frozen=True)
class _AdmissionState:
    denied: bool  # the rules' model, in the job's workspace
    banned: bool
    quotas: Quotas  # for the user and the rules' roles
    budget: Budget
    live: int  # the user's unfinished jobs
    bucket: BucketState | None
    id_taken: bool


# Everything admission reads, in one statement: each round trip to the connection's thread
# costs more than the lookups themselves, and on a busy machine each is a chance to wait.
_ADMISSION_STATE = f"""SELECT
    EXISTS (SELECT 1 FROM denied_models WHERE workspace_id = :ws AND model = :model),
    EXISTS (SELECT 1 FROM bans WHERE workspace_id = :ws AND user_id = :user),
    (SELECT json_group_array(json_array(scope, target_id, capacity, refill_per_hour))
        FROM ({_USER_QUOTAS})),
    (SELECT daily_usd FROM budgets WHERE workspace_id = :ws),
    (SELECT monthly_usd FROM budgets WHERE workspace_id = :ws),
    (SELECT COUNT(*) FROM jobs WHERE workspace_id = :ws AND user_id = :user AND final = 0),
    (SELECT level FROM buckets WHERE workspace_id = :bucket_ws AND user_id = :bucket_user),
    (SELECT updated_us FROM buckets WHERE workspace_id = :bucket_ws AND user_id = :bucket_user),
    EXISTS (SELECT 1 FROM jobs WHERE id = :id)"""


async def _admission_state(
    db: aiosqlite.Connection, job: Job, admission: Admission
) -> _AdmissionState:
    rules = admission.rules
    roles = rules.roles if rules else ()
    rows = await db.execute_fetchall(
        _ADMISSION_STATE,
        {
            "ws": job.workspace_id,
            "user": job.user_id,
            "model": rules.model if rules else None,
            "roles": json.dumps(list(roles)),
            "bucket_ws": admission.bucket.workspace_id,
            "bucket_user": admission.bucket.user_id,
            "id": job.id,
        },
    )
    denied, banned, quotas, daily, monthly, live, level, updated_us, id_taken = next(iter(rows))
    return _AdmissionState(
        denied=bool(denied),
        banned=bool(banned),
        quotas=_quotas(json.loads(quotas), job.user_id, roles),
        budget=_budget(daily, monthly),
        live=int(live),
        bucket=None if level is None else BucketState(Decimal(level), from_us(updated_us)),
        id_taken=bool(id_taken),
    )


async def _read_quotas(
    db: aiosqlite.Connection, workspace_id: str, user_id: str, roles: Sequence[str]
) -> Quotas:
    rows = await db.execute_fetchall(
        _USER_QUOTAS, {"ws": workspace_id, "user": user_id, "roles": json.dumps(list(roles))}
    )
    return _quotas([tuple(r) for r in rows], user_id, roles)


def _quotas(rows: Sequence[Sequence[str]], user_id: str, roles: Sequence[str]) -> Quotas:
    """Quotas from (scope, target id, capacity, refill per hour) rows of `_USER_QUOTAS`."""
    found = {(scope, target): BucketLimits(Decimal(c), Decimal(r)) for scope, target, c, r in rows}
    workspace = [lim for (scope, _), lim in found.items() if scope == QuotaScope.WORKSPACE]
    return Quotas(
        user=found.get((QuotaScope.USER.value, user_id)),
        roles=tuple(found[("role", r)] for r in dict.fromkeys(roles) if ("role", r) in found),
        workspace=workspace[0] if workspace else None,
    )


async def _update_job(db: aiosqlite.Connection, job: Job) -> None:
    cursor = await db.execute(_UPDATE_JOB, job_values(job))
    if cursor.rowcount == 0:
        raise BotError(ErrorCode.NOT_FOUND, f"There is no job {job.short_id}.")


async def _load_bucket(db: aiosqlite.Connection, key: BucketKey) -> BucketState | None:
    rows = list(
        await db.execute_fetchall(
            "SELECT level, updated_us FROM buckets WHERE workspace_id = ? AND user_id = ?",
            (key.workspace_id, key.user_id),
        )
    )
    if not rows:
        return None
    return BucketState(Decimal(rows[0]["level"]), from_us(rows[0]["updated_us"]))


async def _save_bucket(db: aiosqlite.Connection, key: BucketKey, state: BucketState) -> None:
    await db.execute(
        "INSERT INTO buckets (workspace_id, user_id, level, updated_us) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (workspace_id, user_id) DO UPDATE SET "
        "level = excluded.level, updated_us = excluded.updated_us",
        (key.workspace_id, key.user_id, str(state.level), to_us(state.updated_at)),
    )


async def _check_budget(
    db: aiosqlite.Connection, job: Job, budget: BudgetCheck, *, now: datetime
) -> None:
    """Refuse when the ledger since the day's (month's) start, plus the estimates of the
    workspace's unsettled jobs, plus this job, passes the daily (monthly) budget."""
    day_us, month_us = to_us(budget.day_start), to_us(budget.month_start)
    rows = list(
        await db.execute_fetchall(
            "SELECT"
            " COALESCE(SUM(CASE WHEN at_us >= :day THEN cost_micros END), 0),"
            " COALESCE(SUM(CASE WHEN at_us >= :month THEN cost_micros END), 0),"
            " (SELECT COALESCE(SUM(estimate_micros), 0) FROM jobs"
            "  WHERE workspace_id = :ws AND final = 0 AND credits_settled = 0)"
            " FROM ledger WHERE workspace_id = :ws AND at_us >= MIN(:day, :month)",
            {"ws": job.workspace_id, "day": day_us, "month": month_us},
        )
    )
    spent_day, spent_month, pending = rows[0]
    check_budget(
        budget,
        spent_day=from_micros(spent_day),
        spent_month=from_micros(spent_month),
        pending=from_micros(pending),
        estimate=job.estimate_usd,
        now=now,
    )


def _ledger_params(entry: LedgerEntry) -> tuple[Any, ...]:
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


def _budget(daily: str | None, monthly: str | None) -> Budget:
    return Budget(
        daily_usd=None if daily is None else Decimal(daily),
        monthly_usd=None if monthly is None else Decimal(monthly),
    )


def _limits(row: sqlite3.Row) -> BucketLimits:
    return BucketLimits(Decimal(row["capacity"]), Decimal(row["refill_per_hour"]))
