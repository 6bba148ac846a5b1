"""What only the SQLite store has: a file, a schema with versions, WAL, one connection."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.sqlite import SqliteStore
from adapters.sqlite.codec import job_values
from adapters.sqlite.migrations import LATEST, MIGRATIONS
from core.errors import BotError
from core.jobs import InputImage
from core.ports import JobSettlement, UsageFilter
from core.quota import BucketKey, BucketLimits, Budget, LedgerEntry, QuotaScope
from tests.fakes.builders import admit, make_job
from tests.fakes.clock import START

KEY = BucketKey("w1", "u1")
LIMITS = BucketLimits(Decimal(100), Decimal(50))
PNG = InputImage("image/png", data=b"\x89PNG fake", width=2, height=2)


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A second, plain connection to look at the file from outside the store."""
    with closing(sqlite3.connect(path)) as conn:
        yield conn


def files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def size_of(path: Path) -> int:
    return path.stat().st_size


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dirs" / "falbot.db"


async def test_open_creates_folders_and_records_the_schema_version(db_path: Path) -> None:
    async with await SqliteStore.open(db_path):
        assert "falbot.db" in files(db_path.parent)
    with raw(db_path) as conn:
        versions = conn.execute("SELECT version FROM schema_version").fetchall()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert versions == [(v,) for v in range(1, LATEST + 1)]
    assert {"jobs", "job_inputs", "buckets", "ledger", "quotas", "dedupe"} <= tables


async def test_reopening_does_not_run_migrations_again(db_path: Path) -> None:
    async with await SqliteStore.open(db_path):
        pass
    with raw(db_path) as conn:
        first = conn.execute("SELECT version, applied_us FROM schema_version").fetchall()

    async with await SqliteStore.open(db_path):  # a re-run would fail on CREATE TABLE jobs
        pass
    with raw(db_path) as conn:
        assert conn.execute("SELECT version, applied_us FROM schema_version").fetchall() == first


async def test_a_database_newer_than_the_code_is_refused(db_path: Path) -> None:
    async with await SqliteStore.open(db_path):
        pass
    with raw(db_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (LATEST + 1,))
        conn.commit()
    with pytest.raises(RuntimeError, match="newer than this falbot"):
        await SqliteStore.open(db_path)


async def test_wal_mode_is_on(db_path: Path) -> None:
    async with await SqliteStore.open(db_path):
        with raw(db_path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_the_wal_is_checkpointed_in_the_background_not_inside_a_commit(
    db_path: Path,
) -> None:
    """SQLite's own checkpoint runs inside a COMMIT (and fsyncs there): it was admission's p99.
    The store checkpoints on its second connection every `checkpoint_every` writes instead."""
    async with await SqliteStore.open(db_path, checkpoint_every=20) as store:
        db = store._db
        assert db is not None
        backstop = list(await db.execute_fetchall("PRAGMA wal_autocheckpoint"))
        assert backstop[0][0] == 10_000  # the writer's own checkpoint, only should this fall behind
        pages, copied = await store.checkpoint()
        assert pages == copied  # the migrations, now in the file
        size = size_of(db_path)
        checkpointed = store._checkpointed

        for i in range(19):
            await store.claim(f"key-{i:03d}-" + "x" * 500, START)
        assert size_of(db_path) == size  # the new pages are only in the WAL so far
        assert not checkpointed.is_set()

        await store.claim("the twentieth write", START)
        await asyncio.wait_for(checkpointed.wait(), timeout=10)
        assert size_of(db_path) > size
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM dedupe").fetchone() == (20,)


async def test_everything_survives_close_and_reopen(db_path: Path) -> None:
    job = make_job(input_count=1)
    entry = LedgerEntry(job.id, "w1", "u1", job.model, Decimal("0.039"), Decimal("3.9"), START)
    async with await SqliteStore.open(db_path) as store:
        job = await admit(store, job.replace(price_base_usd=Decimal("0.039")))
        await store.settle_job(job, JobSettlement(Decimal(1), LIMITS, entry))
        await store.set_quota("w1", QuotaScope.USER, "u1", LIMITS)
        await store.set_budget("w1", Budget(daily_usd=Decimal(5)))
        await store.set_banned("w1", "u9", True)
        await store.claim("event-1", START)

    async with await SqliteStore.open(db_path) as store:
        saved = await store.get_job(job.id)
        assert saved == job.replace(credits_settled=True)
        assert await store.ledger(UsageFilter("w1", since=START)) == [entry]
        assert (await store.bucket(KEY, LIMITS, START)).level == Decimal("97.1")
        assert (await store.quotas("w1", "u1", [])).user == LIMITS
        assert (await store.policy("w1")).budget == Budget(daily_usd=Decimal(5))
        assert await store.is_banned("w1", "u9")
        assert not await store.claim("event-1", START)


async def test_close_really_closes(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await store.claim("k", START)
    assert "falbot.db-wal" in files(db_path.parent)

    await store.close()

    # SQLite checkpoints the WAL into the file and removes it when the last connection closes.
    assert files(db_path.parent) == {"falbot.db"}
    with pytest.raises(ValueError, match="closed"):
        await store.claim("k2", START)
    await store.close()  # twice is fine


async def test_naive_datetimes_are_refused(db_path: Path) -> None:
    async with await SqliteStore.open(db_path) as store:
        with pytest.raises(ValueError, match="naive"):
            await store.claim("k", datetime(2026, 1, 5, 12, 0))  # noqa: DTZ001


async def test_ledger_keeps_money_to_the_micro_dollar(db_path: Path) -> None:
    job = make_job()
    entry = LedgerEntry(job.id, "w1", "u1", job.model, Decimal("0.0262144"), Decimal(2), START)
    async with await SqliteStore.open(db_path) as store:
        await admit(store, job)
        await store.settle_job(job, JobSettlement(Decimal(0), LIMITS, entry))
        [stored] = await store.ledger(UsageFilter("w1", since=START))
    assert str(stored.cost_usd) == "0.026214"
    with raw(db_path) as conn:
        assert conn.execute("SELECT cost_micros FROM ledger").fetchall() == [(26214,)]


async def test_a_cancelled_admission_is_all_or_nothing(db_path: Path) -> None:
    """Cancel an admission after each SQL statement of its transaction in turn: each one is
    fully in or fully out, and the connection is never left inside a transaction."""
    loop = asyncio.get_running_loop()
    outcomes: list[bool] = []
    async with await SqliteStore.open(db_path) as store:
        for k in range(1, 11):
            job = make_job(credits=Decimal(1))
            before = (await store.bucket(KEY, LIMITS, START)).level
            task = asyncio.create_task(admit(store, job, images=(PNG,), now=START))
            seen = 0

            def cancel_after_k(sql: str, k: int = k, task: asyncio.Task[None] = task) -> None:
                nonlocal seen  # runs on the connection's thread, once per statement
                seen += 1
                if seen == k:
                    loop.call_soon_threadsafe(task.cancel)

            db = store._db  # the one connection; tracing it is the only way to stop mid-way
            assert db is not None
            await db.set_trace_callback(cancel_after_k)
            try:
                await task
            except asyncio.CancelledError:
                pass
            await db.set_trace_callback(None)  # type: ignore[arg-type]

            admitted = await store.get_job(job.id) is not None
            after = (await store.bucket(KEY, LIMITS, START)).level
            assert after == (before - 1 if admitted else before)
            assert (await store.job_inputs(job.id) == [PNG]) is admitted
            outcomes.append(admitted)
        probe = make_job(credits=Decimal(1))
        await admit(store, probe)
    assert outcomes[0] is False  # cancelled right after BEGIN
    assert outcomes[-1] is True  # cancelled after COMMIT, or never: the admission went through


async def test_a_refused_admission_rolls_back_and_the_store_goes_on(db_path: Path) -> None:
    async with await SqliteStore.open(db_path) as store:
        with pytest.raises(BotError):
            big = make_job(credits=Decimal(1000))
            await admit(store, big)
        job = make_job()
        job = await admit(store, job)
        assert await store.get_job(job.id) == job


async def test_jobs_stored_before_migration_3_come_back_without_admitted_limits(
    db_path: Path,
) -> None:
    db_path.parent.mkdir(parents=True)
    job = make_job()
    old = {
        k: v for k, v in job_values(job).items() if not k.startswith(("limit_", "price_", "nsfw_"))
    }
    with raw(db_path) as conn:  # a database as falbot left it at schema version 2
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_us INT)")
        for version, statements in enumerate(MIGRATIONS[:2], start=1):
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, 0)", (version,))
        columns = ", ".join(old)
        conn.execute(
            f"INSERT INTO jobs ({columns}) VALUES ({', '.join('?' * len(old))})",
            tuple(old.values()),
        )
        conn.commit()

    async with await SqliteStore.open(db_path) as store:
        saved = await store.get_job(job.id)
        assert saved is not None and (saved.limits, saved.price_base_usd) == (None, None)
        assert saved == job
    with raw(db_path) as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone() == (LATEST,)


async def test_nsfw_marks_kept_in_the_reply_ref_before_their_columns_carry_over(
    db_path: Path,
) -> None:
    db_path.parent.mkdir(parents=True)
    marked = make_job(reply_ref={"channel_id": 1, "falbot_nsfw_channel": True})
    flagged = make_job(reply_ref={"falbot_nsfw_input": True})
    plain = make_job(reply_ref={"channel_id": 2})
    with raw(db_path) as conn:  # a database as falbot left it before the NSFW columns
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_us INT)")
        for version, statements in enumerate(MIGRATIONS[:-1], start=1):
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, 0)", (version,))
        for job in (marked, flagged, plain):
            old = {k: v for k, v in job_values(job).items() if not k.startswith("nsfw_")}
            conn.execute(
                f"INSERT INTO jobs ({', '.join(old)}) VALUES ({', '.join('?' * len(old))})",
                tuple(old.values()),
            )
        conn.commit()

    async with await SqliteStore.open(db_path) as store:
        got = [await store.get_job(j.id) for j in (marked, flagged, plain)]
    assert [(j.nsfw_channel, j.nsfw_input) for j in got if j is not None] == [
        (True, False),
        (False, True),
        (False, False),
    ]
