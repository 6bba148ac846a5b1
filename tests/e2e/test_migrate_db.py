"""`falbot migrate-db` as a person runs it: a SQLite database that `falbot run` left with jobs in
every state moves to PostgreSQL, and `falbot run` on PostgreSQL finishes them as it would have
on SQLite; a target that is not empty and every mistake in the command are one clear line.

The SQLite database is made by falbot itself, through the fake Slack and the fal simulator, then
the process is SIGKILLed with a job at every stage: delivered (and refunded by an admin), failed
at fal, cancelled at fal, completed with its upload to Slack held, submitted (held in fal's
queue), running (held in progress), submitting (its submit held unanswered), and two queued
behind them (FALBOT_MAX_CONCURRENCY=3). The quotas, budget, denied model, ban, NSFW mode, a
Slack event's dedupe key and a fact of the bot's own are stored beside them."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from adapters.fal.sim.faults import Fault, HttpFault
from adapters.fal.simulator import FalSimulator
from adapters.sqlite import SqliteStore
from core.nsfw import NsfwMode
from core.quota import BucketLimits, Budget, QuotaScope
from tests.e2e.process import FalbotProcess, clean_environment, free_port
from tests.e2e.support import (
    CAPACITY,
    CHANNEL,
    SIGNING_SECRET,
    TEAM,
    falbot_env,
    prompt_of,
    read_db,
    running_slack,
)
from tests.fakes.slack import FakeSlack, SignedSender
from tests.fakes.slack import payloads as p
from tests.integration.postgres.database import fresh_database

ANNA, BEN, CAT, BOSS = "UANNA", "UBEN", "UCAT", "UBOSS"
FINAL = ("delivered", "failed", "cancelled")
# Each prompt, the state the job is left in on SQLite, and the state it must end in.
EXPECTED = {
    "delivered job": ("delivered", "delivered"),
    "failed job": ("failed", "failed"),
    "completed job": ("completed", "delivered"),
    "cancelled job": ("cancelled", "cancelled"),
    "submitted job": ("submitted", "delivered"),
    "running job": ("running", "delivered"),
    "submitting job": ("submitting", "failed"),
    "queued job 1": ("queued", "delivered"),
    "queued job 2": ("queued", "delivered"),
}


async def migrate_db(*args: str, cwd: Path) -> tuple[int, str, str]:
    """`falbot migrate-db ARGS` as a child process: its exit status, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "migrate-db",
        *args,
        cwd=cwd,
        env=clean_environment({}),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class Run:
    """One `falbot run` on SQLite driven through Slack to leave a job at every stage."""

    def __init__(self, slack: FakeSlack, sim: FalSimulator, db: Path, port: int) -> None:
        self.slack = slack
        self.sim = sim
        self.db = db
        self.sender = SignedSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)

    async def command(self, user: str, name: str, text: str) -> None:
        form = p.slash_command(
            name,
            text,
            team_id=TEAM,
            user_id=user,
            channel_id=CHANNEL,
            response_url=self.slack.response_url(),
        )
        assert (await self.sender.command(form)).status == 200

    async def imagine(self, user: str, prompt: str, *, state: str) -> dict[str, Any]:
        await self.command(user, "/imagine", f"{prompt} --model flux-schnell")
        return await self.job(prompt, state)

    async def job(self, prompt: str, state: str) -> dict[str, Any]:
        """The job of `prompt` once it is in `state`. The database belongs to the child, so
        there is no event to wait on here: it is read every 50 ms, for 15 s at most."""
        async with asyncio.timeout(15):
            while True:
                jobs, _, _ = await asyncio.to_thread(read_db, self.db)
                for job in jobs:
                    if prompt_of(job) == prompt and job["state"] == state:
                        return job
                await asyncio.sleep(0.05)

    async def refunded(self, job_id: str) -> None:
        async with asyncio.timeout(15):
            while True:
                _, ledger, _ = await asyncio.to_thread(read_db, self.db)
                if any(r["job_id"] == job_id and r["kind"] == "refund" for r in ledger):
                    return
                await asyncio.sleep(0.05)

    async def leave_a_job_at_every_stage(self) -> asyncio.Event:
        """Returns the gate holding the completed job's upload to Slack."""
        delivered = await self.imagine(ANNA, "delivered job", state="delivered")
        await self.command(BOSS, "/falbot", f"admin refund {delivered['id'][:8]}")
        await self.refunded(delivered["id"])
        self.sim.fail_next(Fault.server_error())
        await self.imagine(BEN, "failed job", state="failed")
        upload = self.slack.hold("files.getUploadURLExternal")
        await self.imagine(CAT, "completed job", state="completed")
        self.sim.hold_queue = True  # submitted jobs stay in fal's queue
        cancelled = await self.imagine(ANNA, "cancelled job", state="submitted")
        await self.command(ANNA, "/falbot", f"cancel {cancelled['id'][:8]}")
        await self.job("cancelled job", "cancelled")
        await self.imagine(BEN, "submitted job", state="submitted")
        self.sim.hold = True  # a running job stays running
        running = await self.imagine(CAT, "running job", state="submitted")
        self.sim.admit(running["request_id"])
        await self.job("running job", "running")
        self.sim.inject("submit", HttpFault.slow(600))  # fal never answers this submit
        await self.imagine(ANNA, "submitting job", state="submitting")
        await self.imagine(BEN, "queued job 1", state="queued")  # the 3 slots are taken
        await self.imagine(CAT, "queued job 2", state="queued")
        return upload


async def seed_rules(db: Path) -> None:
    """What admins and the platforms leave in the database beside the jobs."""
    async with await SqliteStore.open(db) as store:
        await store.set_quota(TEAM, QuotaScope.USER, ANNA, BucketLimits(CAPACITY, Decimal(0)))
        await store.set_budget(TEAM, Budget(Decimal(100), Decimal("1000.50")))
        await store.set_model_denied(TEAM, "veo3", True)
        await store.set_banned(TEAM, "UBANNED", True)
        await store.set_nsfw(TEAM, NsfwMode.SPOILER)
        assert await store.claim(f"slack:event:{TEAM}:Ev0MOVED", datetime.now(UTC))
        await store.set_state_value("moved", "yes")


def sqlite_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name <> 'schema_version'"
            )
        ]
        counts = {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    conn.close()
    return counts


async def pg_rows(dsn: str, sql: str) -> list[dict[str, Any]]:
    db = await asyncpg.connect(dsn)
    try:
        return [dict(r) for r in await db.fetch(sql)]
    finally:
        await db.close()


async def wait_final_on(dsn: str, *, within: float) -> list[dict[str, Any]]:
    """Until every job on PostgreSQL has ended (read every 100 ms: another process's data)."""
    async with asyncio.timeout(within):
        while True:
            jobs = await pg_rows(dsn, "SELECT * FROM jobs")
            if all(j["state"] in FINAL for j in jobs):
                return jobs
            await asyncio.sleep(0.1)


async def test_a_database_with_jobs_in_every_state_moves_to_postgresql_and_finishes_there(
    fal_sim: FalSimulator, tmp_path: Path
) -> None:
    db = tmp_path / "data" / "falbot.db"
    await seed_rules(db)
    async with running_slack((ANNA, BEN, CAT), admins=(BOSS,)) as slack, fresh_database() as dsn:
        port = free_port()
        env = falbot_env(fal_sim, slack, db, port) | {"FALBOT_MAX_CONCURRENCY": "3"}
        run = Run(slack, fal_sim, db, port)
        first = FalbotProcess(env, cwd=tmp_path)
        try:
            await first.start()
            upload = await run.leave_a_job_at_every_stage()
            await first.kill()
        finally:
            await first.close()
            await run.sender.close()
        before, ledger_before, _ = read_db(db)
        left = {prompt_of(j): j["state"] for j in before}
        assert left == {prompt: states[0] for prompt, states in EXPECTED.items()}
        counts = sqlite_counts(db)

        code, out, err = await migrate_db(
            "--from", "sqlite:///data/falbot.db", "--to", dsn, cwd=tmp_path
        )
        assert (code, err) == (0, ""), out + err
        assert "row counts of all 11 tables match" in out, out
        for table, count in counts.items():
            assert (await pg_rows(dsn, f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"] == count
        sums = await pg_rows(
            dsn, "SELECT SUM(cost_usd) AS cost, SUM(credits) AS credits FROM ledger"
        )
        assert sums[0]["cost"] == Decimal(sum(r["cost_micros"] for r in ledger_before)) / 1_000_000
        assert sums[0]["credits"] == sum(Decimal(r["credits"]) for r in ledger_before)

        # fal lets the held requests go, Slack the held upload; falbot starts on PostgreSQL.
        fal_sim.hold_queue = False
        fal_sim.hold = False
        fal_sim.admit()
        fal_sim.release()
        upload.set()
        second = FalbotProcess(env | {"FALBOT_DATABASE": dsn}, cwd=tmp_path)
        try:
            await second.start()
            after = await wait_final_on(dsn, within=60)
            await second.terminate(within=15)
        finally:
            await second.close()
        ledger = await pg_rows(dsn, "SELECT * FROM ledger ORDER BY id")
        buckets = await pg_rows(dsn, "SELECT user_id, level FROM buckets")
        rules = {
            table: await pg_rows(dsn, f"SELECT * FROM {table}")
            for table in ("quotas", "budgets", "denied_models", "bans", "workspace_nsfw")
        }
        facts = await pg_rows(dsn, "SELECT key, value FROM bot_state")
        seen = await pg_rows(dsn, "SELECT key FROM dedupe")

    jobs = {prompt_of(j): j for j in after}
    assert {prompt: j["state"] for prompt, j in jobs.items()} == {
        prompt: states[1] for prompt, states in EXPECTED.items()
    }
    # Resumed by their request ids at fal, never submitted again; the one whose submit may
    # have reached fal without an id saved was failed, not resent.
    old = {prompt_of(j): j for j in before}
    for prompt in ("submitted job", "running job", "completed job"):
        assert jobs[prompt]["request_id"] == old[prompt]["request_id"]
    submits = Counter(arguments.get("prompt") for _, arguments in fal_sim.submits)
    assert max(submits.values()) == 1, submits
    assert set(submits) | {"submitting job"} == set(EXPECTED), submits  # its submit was held
    stuck = jobs["submitting job"]
    assert stuck["request_id"] is None and stuck["credits_settled"]
    assert "stopped while sending this job to fal" in json.loads(stuck["error"])["message"]

    # Every result reached its Slack thread; the failed one was told its credits came back.
    messages = slack.messages[CHANNEL]
    for prompt, (_, end) in EXPECTED.items():
        short = jobs[prompt]["id"][:8]
        said = [m for m in messages if short in json.dumps(m)]
        if end == "delivered":
            assert any(str(m.get("text", "")).startswith("Done") for m in said), prompt
    told = json.dumps([m for m in messages if stuck["id"][:8] in json.dumps(m)])
    assert "Your credits were returned." in told

    # The books: one charge per delivered job at its own cost, the refund kept; each bucket
    # is its capacity less what its user was charged, plus what was refunded.
    charges = {r["job_id"]: r for r in ledger if r["kind"] == "charge"}
    delivered = [j for j in after if j["state"] == "delivered"]
    assert set(charges) == {j["id"] for j in delivered}
    for job in delivered:
        assert charges[job["id"]]["cost_usd"] == Decimal(json.loads(job["result"])["cost_usd"])
    refunds = [r for r in ledger if r["kind"] == "refund"]
    assert [r["job_id"] for r in refunds] == [jobs["delivered job"]["id"]]
    for user in (ANNA, BEN, CAT):
        spent = sum((r["credits"] for r in ledger if r["user_id"] == user), Decimal(0))
        level = next(b["level"] for b in buckets if b["user_id"] == user)
        assert level == CAPACITY - spent, user
    assert {table: len(rows) for table, rows in rules.items()} == dict.fromkeys(rules, 1)
    assert rules["budgets"][0]["monthly_usd"] == Decimal("1000.50")
    assert {"key": "moved", "value": "yes"} in facts
    assert {"key": f"slack:event:{TEAM}:Ev0MOVED"} in seen


async def test_every_mistake_is_one_clear_line_and_changes_nothing(tmp_path: Path) -> None:
    async with await SqliteStore.open(tmp_path / "data" / "falbot.db") as store:
        await store.set_banned(TEAM, "UBANNED", True)
    (tmp_path / "notes.txt").write_text("not a database\n")
    good = "sqlite:///data/falbot.db"
    secret = "Sup3r-Secret-pw"
    closed = f"postgresql://falbot:{secret}@127.0.0.1:{free_port()}/falbot"
    async with fresh_database() as dsn, fresh_database() as used:
        async with await SqliteStore.open(tmp_path / "other.db") as other:
            await other.set_banned(TEAM, "UOTHER", True)
        code, _, err = await migrate_db("--from", "sqlite:///other.db", "--to", used, cwd=tmp_path)
        assert code == 0, err
        nowhere = dsn.rsplit("/", 1)[0] + "/falbot_no_such_database"
        cases = {
            ("sqlite:///data/missing.db", dsn): (1, "data/missing.db does not exist: give --from"),
            ("sqlite:///notes.txt", dsn): (1, "notes.txt is not a SQLite database"),
            ("sqlite:///data", dsn): (1, "data is a folder"),
            ("mysql://db/falbot", dsn): (2, "--from must name falbot's SQLite file"),
            (good, "mysql://db/falbot"): (2, "--to must be a PostgreSQL URL"),
            (good, "postgresql://127.0.0.1:5432/"): (2, "--to: names no database"),
            (good, closed): (1, "(connection refused): check the host and port in --to"),
            (good, nowhere): (
                1,
                "has no database falbot_no_such_database: create it first",
            ),
            (good, used): (
                1,
                "is not empty (bans has 1 row): migrate-db copies only into an empty",
            ),
        }
        answers = await asyncio.gather(
            *(migrate_db("--from", src, "--to", dst, cwd=tmp_path) for src, dst in cases)
        )
        left = await pg_rows(used, "SELECT user_id FROM bans")
        untouched = await pg_rows(
            dsn, "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'"
        )
    for (args, (want_code, says)), (code, out, err) in zip(cases.items(), answers, strict=True):
        assert code == want_code, (args, out, err)
        assert err.startswith("falbot migrate-db: ") and says in err, (args, err)
        assert err.count("\n") == 1 and "Traceback" not in err and out == "", (args, err)
        assert secret not in err
    assert left == [{"user_id": "UOTHER"}]  # the database that was not empty kept its one row
    assert untouched == [{"n": 0}]  # mistakes never reached the empty database: no schema made
    assert not (tmp_path / "data" / "missing.db").exists()
    log = (tmp_path / "data" / "migrate-db.log").read_text()
    assert (secret not in log and "connection refused" not in log) or secret not in log
