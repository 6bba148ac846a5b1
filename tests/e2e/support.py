"""What the end-to-end tests of `falbot run` share: its settings for Slack over HTTP or for the
fake Discord, and for the fal simulator; reading its SQLite file from beside the running process;
and the books every chaos run must balance."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.fal.simulator import FalSimulator
from tests.e2e.process import clean_environment
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack

FAL_KEY = "fal-chaos-key-0a1b2c3d4e5f"
BOT_TOKEN = "xoxb-chaos-0000-botsecret"
SIGNING_SECRET = "chaos-signing-secret-5a5a5a5a"
TEAM = "TCHAOS"
CHANNEL = "CCHAOS"
CAPACITY = Decimal(10_000)  # credits each user starts with (no refill)


@asynccontextmanager
async def running_slack(
    users: Iterable[str], *, admins: Iterable[str] = (), bot_token: str = BOT_TOKEN
) -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API with these members (and workspace admins), closed at the end."""
    fake = FakeSlack(bot_token=bot_token, team_id=TEAM)
    for user in users:
        fake.add_user(user)
    for admin in admins:
        fake.add_user(admin, is_admin=True)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@asynccontextmanager
async def running_simulator(
    *, run_time: float = 0.0, queue_wait: float = 0.0, key: str = FAL_KEY
) -> AsyncIterator[FalSimulator]:
    """The fal simulator on loopback in this process (outside the falbot under test)."""
    simulator = FalSimulator(key=key)
    simulator.run_time = run_time
    simulator.queue_wait = queue_wait
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.close()


def falbot_env(sim: FalSimulator, slack: FakeSlack, db: Path, port: int) -> dict[str, str]:
    return _fal_and_store_env(sim, db, port) | {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "FALBOT_SLACK_API_URL": slack.api_url,
        "FALBOT_MEDIA_HOSTS": slack.host,
    }


def _fal_and_store_env(sim: FalSimulator, db: Path, port: int) -> dict[str, str]:
    """Settings every platform shares: the fal simulator, the database and generous quotas."""
    return {
        "FAL_KEY": FAL_KEY,
        "FALBOT_FAL_QUEUE_URL": sim.queue_url,
        "FALBOT_FAL_REST_URL": sim.rest_url,
        "FALBOT_FAL_CDN_URL": sim.cdn_url,
        "FALBOT_DATABASE": f"sqlite:///{db}",
        "FALBOT_HTTP_PORT": str(port),
        "FALBOT_QUOTA_CAPACITY": str(CAPACITY),
        "FALBOT_QUOTA_REFILL_PER_HOUR": "0",
        "FALBOT_MAX_JOBS_PER_USER": "100",
        "FALBOT_MAX_CONCURRENCY": "6",
        "FALBOT_PROGRESS_INTERVAL": "0.2",
    }


def read_db(db: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Decimal]]:
    """Jobs, ledger rows and bucket levels, read-only, beside the running process."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        conn.row_factory = sqlite3.Row
        jobs = [dict(r) for r in conn.execute("SELECT * FROM jobs")]
        ledger = [dict(r) for r in conn.execute("SELECT * FROM ledger")]
        buckets = {
            r["user_id"]: Decimal(r["level"])
            for r in conn.execute("SELECT user_id, level FROM buckets")
        }
    conn.close()
    return jobs, ledger, buckets


def prompt_of(job: dict[str, Any]) -> str:
    return str(json.loads(job["arguments"]).get("prompt", ""))


async def wait_all_final(db: Path, *, within: float) -> list[dict[str, Any]]:
    """Until every job is delivered, failed or cancelled. The database belongs to another
    process, so there is no event to wait on here: it is read every 100 ms."""
    async with asyncio.timeout(within):
        while True:
            jobs = (await asyncio.to_thread(read_db, db))[0]
            if jobs and all(j["state"] in ("delivered", "failed", "cancelled") for j in jobs):
                return jobs
            await asyncio.sleep(0.1)


@asynccontextmanager
async def running_discord(
    users: Iterable[str], *, bot_token: str | None = None
) -> AsyncIterator[FakeDiscord]:
    """The fake Discord (REST, gateway, CDN) with these members, closed at the end."""
    fake = FakeDiscord() if bot_token is None else FakeDiscord(bot_token=bot_token)
    for user in users:
        fake.add_person(user)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


async def sync_discord_commands(env: dict[str, str], cwd: Path) -> None:
    """`falbot sync-commands`, as a deployment registers its commands once."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "sync-commands",
        cwd=cwd,
        env=clean_environment(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out, err[-2000:])


def discord_env(sim: FalSimulator, fake: FakeDiscord, db: Path, port: int) -> dict[str, str]:
    return _fal_and_store_env(sim, db, port) | {
        "DISCORD_TOKEN": fake.bot_token,
        "FALBOT_DISCORD_API_URL": fake.api_url,
        "FALBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
        "FALBOT_MEDIA_HOSTS": fake.cdn_host,
    }


def check_books(
    jobs: Sequence[dict[str, Any]],
    ledger: Sequence[dict[str, Any]],
    buckets: dict[str, Decimal],
    *,
    context: str,
) -> None:
    """Every job ended: delivered with one ledger row of its own cost, or failed with no row
    and its credits back (or, when fal had started it before falbot gave up, with a row of the
    cost it was charged, its `result`); the ledger total is what the charged jobs cost, and each
    bucket holds its capacity less what its jobs were charged."""
    states = Counter(job["state"] for job in jobs)
    assert set(states) <= {"delivered", "failed"}, (states, context)
    rows = {row["job_id"]: row for row in ledger}
    assert len(rows) == len(ledger), "one ledger row per job"
    charged: Counter[str] = Counter()
    cost = Decimal(0)
    for job in jobs:
        assert job["credits_settled"] == 1, (job, context)
        if job["state"] == "failed" and not job["result"]:
            assert job["id"] not in rows, (job, context)
            continue
        job_cost = Decimal(json.loads(job["result"])["cost_usd"])
        assert rows[job["id"]]["cost_micros"] == int(job_cost * 1_000_000), (job, context)
        charged[job["user_id"]] += Decimal(rows[job["id"]]["credits"])
        cost += job_cost
    assert sum(row["cost_micros"] for row in ledger) == int(cost * 1_000_000), context
    for user in {job["user_id"] for job in jobs}:
        assert buckets[user] == CAPACITY - charged[user], (user, context)
