"""`falbot migrate-db`'s copy, in process: a SQLite store with something in every table reads
back the same through the `Store` port on PostgreSQL; a target that is not empty, a schema that
cannot take the data and a copy that does not add up change nothing; a target with more columns
and tables than the source (a newer schema) still takes it."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from adapters.postgres import PostgresStore
from adapters.sqlite import SqliteStore
from bot.migrate_db import MigrationFailed, _copy, _migrate, target_where
from core.errors import BotError, ErrorCode
from core.jobs import InputImage, Job, JobResult, JobState, Output
from core.nsfw import NsfwMode
from core.ports import JobSettlement, UsageFilter
from core.quota import BucketKey, BucketLimits, Budget, LedgerEntry, QuotaScope
from tests.fakes.builders import admit, make_job
from tests.fakes.clock import START
from tests.integration.postgres.database import fresh_database

LIMITS = BucketLimits(Decimal(100), Decimal(50))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


async def fill(store: SqliteStore) -> dict[str, str]:
    """Something in every table: jobs in every state (two of them stored at the same instant),
    input images, charges and a refund, quotas of every scope, a budget, a denied model, a ban,
    an NSFW mode, a dedupe key and a fact of the bot's own. Returns job ids by state."""
    ids: dict[str, str] = {}
    at = START
    for n, state in enumerate(JobState):
        same_time = state in (JobState.QUEUED, JobState.SUBMITTING)
        created = START if same_time else START + timedelta(seconds=n)
        workspace, user = ("w2", "u9") if state is JobState.CANCELLED else ("w1", f"u{n % 3}")
        images = (
            (
                InputImage("image/png", data=PNG, width=16, height=16),
                InputImage("image/png", url="https://fal.media/files/in.png", width=8, height=8),
            )
            if state is JobState.RUNNING
            else ()
        )
        job = await admit(
            store,
            make_job(
                workspace_id=workspace,
                user_id=user,
                created_at=created,
                input_count=len(images),
                reply_ref={"channel": "C1", "thread_ts": f"{n}.5", "nested": {"x": [1, 2.5]}},
            ),
            images=images,
        )
        ids[state.value] = job.id
        at = created + timedelta(seconds=1)
        path = {
            JobState.QUEUED: [],
            JobState.SUBMITTING: [JobState.SUBMITTING],
            JobState.SUBMITTED: [JobState.SUBMITTING, JobState.SUBMITTED],
            JobState.RUNNING: [JobState.SUBMITTING, JobState.SUBMITTED, JobState.RUNNING],
            JobState.COMPLETED: [JobState.SUBMITTING, JobState.SUBMITTED, JobState.COMPLETED],
            JobState.DELIVERED: [JobState.SUBMITTING, JobState.SUBMITTED, JobState.COMPLETED],
            JobState.FAILED: [JobState.SUBMITTING],
            JobState.CANCELLED: [],
        }[state]
        for step in path:
            extra = {"request_id": f"req-{n}"} if step is JobState.SUBMITTED else {}
            if step is JobState.COMPLETED:
                output = Output("https://fal.media/files/out.png", "image/png", 1024, 768)
                extra = {
                    "result": JobResult((output,), Decimal("0.0018"), seed=7, inference_s=1.25)
                }
            job = job.moved_to(step, at=at, **extra)
            await store.save_job(job)
        if state in (JobState.COMPLETED, JobState.DELIVERED):
            charge = LedgerEntry(
                job.id, workspace, user, job.model, Decimal("0.0018"), Decimal("0.18"), at
            )
            await store.settle_job(
                job, JobSettlement(job.credits - Decimal("0.18"), LIMITS, charge)
            )
        if state is JobState.DELIVERED:
            job = job.moved_to(JobState.DELIVERED, at=at)
            await store.save_job(job)
            await store.refund(charge, bucket=BucketKey(workspace, user), limits=LIMITS)
        if state in (JobState.FAILED, JobState.CANCELLED):
            error = (
                BotError(ErrorCode.PROVIDER_UNAVAILABLE, "fal failed")
                if state is JobState.FAILED
                else None
            )
            job = job.moved_to(state, at=at, error=error)
            await store.settle_job(job, JobSettlement(job.credits, LIMITS))
    await store.set_quota(
        "w1", QuotaScope.USER, "u1", BucketLimits(Decimal("12.5"), Decimal("0.25"))
    )
    await store.set_quota("w1", QuotaScope.ROLE, "r1", BucketLimits(Decimal(40), Decimal(4)))
    await store.set_quota("w1", QuotaScope.WORKSPACE, "w1", BucketLimits(Decimal(30), Decimal(3)))
    await store.set_budget("w1", Budget(Decimal("1.25"), None))
    await store.set_model_denied("w1", "flux-dev", True)
    await store.set_banned("w1", "u7", True)
    await store.set_nsfw("w1", NsfwMode.SPOILER)
    assert await store.claim("slack:event:T1:Ev1", at)
    await store.set_state_value("discord_commands", "hash-1")
    return ids


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[tuple[Path, dict[str, str]]]:
    path = tmp_path / "data" / "falbot.db"
    async with await SqliteStore.open(path) as store:
        ids = await fill(store)
    yield path, ids


def plain(job: Job | None) -> tuple[Job, dict[str, object] | None]:
    """A job as values that compare (a BotError is an exception: equal only to itself)."""
    assert job is not None
    error = job.error.to_dict() if job.error is not None else None
    return job.replace(error=None), error


async def migrate(path: Path, dsn: str) -> str:
    out = io.StringIO()
    await _migrate(path, dsn, where=target_where(dsn), out=out)
    return out.getvalue()


async def rows_in(dsn: str) -> dict[str, int]:
    db = await asyncpg.connect(dsn)
    try:
        tables = await db.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_name <> 'schema_version'"
        )
        return {
            t["table_name"]: await db.fetchval(f'SELECT COUNT(*) FROM "{t["table_name"]}"')
            for t in tables
        }
    finally:
        await db.close()


async def test_every_table_reads_back_the_same_through_the_store(
    source: tuple[Path, dict[str, str]],
) -> None:
    path, ids = source
    async with fresh_database() as dsn:
        report = await migrate(path, dsn)
        async with (
            await SqliteStore.open(path) as old,
            await PostgresStore.open(dsn, max_size=2) as new,
        ):
            for job_id in ids.values():
                assert plain(await new.get_job(job_id)) == plain(await old.get_job(job_id))
                assert await new.job_inputs(job_id) == await old.job_inputs(job_id)
            # Two jobs were stored at the same instant: the order they were stored in stays.
            assert [j.id for j in await new.unfinished_jobs()] == [
                j.id for j in await old.unfinished_jobs()
            ]
            later = START + timedelta(hours=1)
            for workspace, user in (("w1", "u0"), ("w1", "u1"), ("w1", "u2"), ("w2", "u9")):
                mine = [plain(j) for j in await new.user_jobs(workspace, user, limit=20)]
                assert mine == [plain(j) for j in await old.user_jobs(workspace, user, limit=20)]
                key = BucketKey(workspace, user)
                assert await new.bucket(key, LIMITS, later) == await old.bucket(key, LIMITS, later)
            for workspace in ("w1", "w2"):
                usage = UsageFilter(workspace, START - timedelta(days=1))
                assert await new.ledger(usage) == await old.ledger(usage)
                assert await new.policy(workspace) == await old.policy(workspace)
            assert await new.quotas("w1", "u1", ["r1"]) == await old.quotas("w1", "u1", ["r1"])
            assert await new.is_banned("w1", "u7")
            assert not await new.claim("slack:event:T1:Ev1", later)  # seen before the move
            assert await new.state_value("discord_commands") == "hash-1"

            # New rows come after the copied ones: ids and order go on from where they were.
            job = await admit(new, make_job(created_at=START))
            charge = LedgerEntry(job.id, "w1", "u0", job.model, Decimal(1), Decimal(1), later)
            failed = job.moved_to(JobState.FAILED, at=later)
            assert await new.settle_job(failed, JobSettlement(Decimal(0), LIMITS, charge))
            assert (await new.unfinished_jobs())[-1].id != job.id
            db = await asyncpg.connect(dsn)
            try:
                seqs = await db.fetch("SELECT id, seq FROM jobs ORDER BY seq")
                ledger_ids = [r["id"] for r in await db.fetch("SELECT id FROM ledger ORDER BY id")]
            finally:
                await db.close()
    assert seqs[-1]["id"] == job.id and len({r["seq"] for r in seqs}) == len(seqs)
    assert ledger_ids == list(range(1, len(ledger_ids) + 1))
    assert "jobs 8" in report and "ledger 3" in report and "workspace_nsfw 1" in report
    assert "the row counts of all 11 tables match" in report
    assert "$0.0018 and 0.18 credits" in report  # w1: two charges, one refunded


async def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(
    source: tuple[Path, dict[str, str]],
) -> None:
    path, _ = source
    async with fresh_database() as dsn:
        async with await PostgresStore.open(dsn, max_size=1) as target:
            await target.set_banned("w5", "u5", True)
        with pytest.raises(MigrationFailed) as refused:
            await migrate(path, dsn)
        assert await rows_in(dsn) == {**dict.fromkeys(await rows_in(dsn), 0), "bans": 1}
    message = str(refused.value)
    assert "is not empty (bans has 1 row)" in message
    assert "nothing was changed" in message and "CREATE DATABASE" in message


async def test_rows_that_appear_after_the_first_look_are_still_refused_inside_the_copy(
    source: tuple[Path, dict[str, str]],
) -> None:
    from adapters.postgres.load import Figures, NotEmpty

    async def never(_: Figures) -> None:
        raise AssertionError("verified a copy into a database that was not empty")

    path, _ = source
    async with fresh_database() as dsn:
        async with (
            await SqliteStore.open(path) as old,
            await PostgresStore.open(dsn, max_size=1) as new,
        ):
            assert await new.claim("fal:webhook:r1", START)
            async with old.snapshot() as snapshot:
                with pytest.raises(NotEmpty) as refused:
                    await new.load(snapshot, verify=never)
        assert refused.value.rows == {"dedupe": 1}
        assert (await rows_in(dsn))["jobs"] == 0


async def test_a_newer_schema_with_defaulted_columns_and_new_tables_takes_the_copy(
    source: tuple[Path, dict[str, str]],
) -> None:
    path, ids = source
    async with fresh_database() as dsn:
        await (await PostgresStore.open(dsn, max_size=1)).close()
        db = await asyncpg.connect(dsn)
        try:
            await db.execute(
                "ALTER TABLE jobs ADD COLUMN handler TEXT, ADD COLUMN handled_until TIMESTAMPTZ, "
                "ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT FALSE, "
                "ADD COLUMN attempts INTEGER GENERATED ALWAYS AS (input_count + 1) STORED"
            )
            await db.execute(
                "CREATE TABLE slots (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                "job_id TEXT NOT NULL REFERENCES jobs (id))"
            )
            await migrate(path, dsn)
            extra = await db.fetch("SELECT handler, handled_until, pinned FROM jobs")
            running = await db.fetchval("SELECT attempts FROM jobs WHERE id = $1", ids["running"])
        finally:
            await db.close()
    assert len(extra) == 8 and {tuple(r) for r in extra} == {(None, None, False)}
    assert running == 3  # two input images


async def test_rows_a_newer_migration_seeds_in_a_table_only_postgresql_has_are_left_alone(
    source: tuple[Path, dict[str, str]],
) -> None:
    """The first look refuses any row anywhere, but it comes before the store migrates the
    schema; a migration that seeds a table of its own must not make the copy refuse."""
    path, _ = source
    async with fresh_database() as dsn:
        async with (
            await SqliteStore.open(path) as old,
            await PostgresStore.open(dsn, max_size=1) as new,
        ):
            db = await asyncpg.connect(dsn)
            try:
                await db.execute("CREATE TABLE fal_slots (id INTEGER PRIMARY KEY, free INTEGER)")
                await db.execute("INSERT INTO fal_slots VALUES (1, 10)")
            finally:
                await db.close()
            copied, _ = await _copy(old, new, path=path, where=target_where(dsn))
        assert copied.counts["fal_slots"] == 1 and copied.counts["jobs"] == 8
        assert (await rows_in(dsn))["fal_slots"] == 1


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("ALTER TABLE jobs ADD COLUMN shard INTEGER NOT NULL", "jobs.shard needs a value"),
        ("ALTER TABLE budgets DROP COLUMN monthly_usd", "budgets.monthly_usd has no column"),
        ("DROP TABLE bot_state", "table bot_state has no table to go to"),
    ],
)
async def test_a_schema_that_cannot_take_every_value_is_refused_before_anything_is_written(
    source: tuple[Path, dict[str, str]], change: str, says: str
) -> None:
    path, _ = source
    async with fresh_database() as dsn:
        await (await PostgresStore.open(dsn, max_size=1)).close()
        db = await asyncpg.connect(dsn)
        try:
            await db.execute(change)
        finally:
            await db.close()
        with pytest.raises(MigrationFailed) as refused:
            await migrate(path, dsn)
        assert set((await rows_in(dsn)).values()) == {0}
    assert says in str(refused.value) and "nothing was changed" in str(refused.value)


@pytest.mark.parametrize(
    ("trigger", "says"),
    [
        (  # a micro-dollar more on each of its three rows: the sums catch it
            "NEW.cost_usd := NEW.cost_usd + 0.000001; RETURN NEW;",
            "the ledger of workspace w1 sums to $0.001803 and 0.18 credits instead of "
            "$0.0018 and 0.18 credits",
        ),
        ("RETURN NULL;", "ledger: 0 rows copied of 3"),  # rows lost: the counts catch it
    ],
)
async def test_a_copy_that_does_not_add_up_is_rolled_back(
    source: tuple[Path, dict[str, str]], trigger: str, says: str
) -> None:
    path, _ = source
    async with fresh_database() as dsn:
        await (await PostgresStore.open(dsn, max_size=1)).close()
        db = await asyncpg.connect(dsn)
        try:
            await db.execute(
                f"CREATE FUNCTION spoil() RETURNS trigger AS $$ BEGIN {trigger} END $$ "
                "LANGUAGE plpgsql"
            )
            await db.execute(
                "CREATE TRIGGER spoil BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION spoil()"
            )
        finally:
            await db.close()
        with pytest.raises(MigrationFailed) as refused:
            await migrate(path, dsn)
        assert set((await rows_in(dsn)).values()) == {0}
    assert says in str(refused.value)
    assert "rolled back: nothing was changed" in str(refused.value)
