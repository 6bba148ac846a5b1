"""`FALBOT_DATABASE=postgresql://…` runs falbot on PostgreSQL (on the shared line, named in
/healthz and counted in /metrics), and `falbot check` says so without the password."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from adapters.postgres import PostgresStore
from bot.metrics import Metrics
from bot.run import process_facts
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import Env, env  # noqa: F401 (the fixture)
from tests.integration.ops.test_check import check, good
from tests.integration.postgres.database import postgres_store


async def test_a_postgresql_url_runs_falbot_on_postgresql(env: Env) -> None:  # noqa: F811
    async with postgres_store() as emptied:  # this run's database, migrated and empty
        dsn = emptied.dsn
    bot = await env.start_bot(settings={"FALBOT_DATABASE": dsn, "FALBOT_INSTANCE": "replica-a"})
    assert isinstance(bot.app.store, PostgresStore)
    metrics = Metrics()
    metrics.watch_engine(bot.app.engine)

    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "x")])
    await env.final_edit(issued)
    # /healthz names the process and says it holds its jobs and hears the line's wake-ups;
    # /metrics counts what it took from the shared line.
    assert process_facts(bot.app)() == {
        "instance": "replica-a",
        "line": "shared",
        "leases": "held",
        "wake_ups": "listening",
    }
    exposition = metrics.exposition()[0].decode()
    assert "falbot_jobs_claimed_total 1.0" in exposition
    assert "falbot_leases_taken_over_total 0.0" in exposition
    assert "falbot_claim_latency_seconds_count 1.0" in exposition
    assert await bot.app.engine.drain(grace=10)  # the delivery's save comes after the edit
    await env.stop_bot(bot)

    db = await asyncpg.connect(dsn)
    try:
        jobs = await db.fetch("SELECT id, user_id, state FROM jobs")
        charged = await db.fetch("SELECT job_id FROM ledger WHERE kind = 'charge'")
    finally:
        await db.close()
    assert [(job["user_id"], job["state"]) for job in jobs] == [(env.alice.id, "delivered")]
    assert [entry["job_id"] for entry in charged] == [jobs[0]["id"]]


def test_check_reports_a_postgresql_database_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://falbot:pg-Secret-42@db.internal:5433/falbot?sslmode=require"
    code, states, text = check({**good(tmp_path), "FALBOT_DATABASE": url})

    assert code == 0, text
    assert states["FALBOT_DATABASE"].split() == ["ok", "postgresql://db.internal:5433/falbot"]
    assert "pg-Secret-42" not in text and "falbot:" not in text


def test_check_says_what_a_postgresql_url_lacks(tmp_path: Path) -> None:
    cases = {
        "postgresql://db.internal:5432/": "names no database",
        "postgresql:///falbot": "names no host",
        "postgresql://db.internal:port/falbot": "the port is not a number",
    }
    for url, problem in cases.items():
        _, states, _ = check({**good(tmp_path), "FALBOT_DATABASE": url})
        assert states["FALBOT_DATABASE"].startswith("malformed"), url
        assert problem in states["FALBOT_DATABASE"], url
