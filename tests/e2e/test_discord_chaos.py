"""Chaos through Discord: `falbot run` as a real process on SQLite, talking to the fake Discord
(REST, gateway, CDN) and the fal simulator, both in this test's process; killed with SIGKILL at
random moments and restarted, or left running while Discord fails a share of its requests.

The approach is tests/e2e/test_chaos.py's (Slack): unique prompts sent once, kill moments drawn
from a seeded generator among the run's own events (the n-th interaction acked, submit at fal,
completion there, progress edit, result sent), a failing seed can be replayed. What differs is
Discord's: an interaction nobody acknowledges within 3 s is lost (the user sees "interaction
failed"), so only acknowledged interactions must end as jobs; and every delivered job's files
must have reached Discord in a message that names the job.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.fal.simulator import FalSimulator
from tests.e2e.process import FalbotProcess, free_port
from tests.e2e.support import (
    check_books,
    discord_env,
    prompt_of,
    read_db,
    running_discord,
    running_simulator,
    sync_discord_commands,
    wait_all_final,
)
from tests.fakes.discord import FakeDiscord, Issued, Recorded
from tests.fakes.discord import payloads as p

SEED = int(os.environ.get("FALBOT_CHAOS_SEED", "20260105"))
USERS = ("ada", "ben", "cyd", "dee")
KILLS = 5
COMMANDS_PER_LIFE = 11
MIN_JOBS = 50
MOMENT_WITHIN = 10.0
FINAL_WITHIN = 40.0


def _webhook_edit(r: Recorded) -> bool:
    return r.route == "PATCH /webhooks/{app}/{token}/messages/{message}" and r.status == 200


def _result(r: Recorded) -> bool:
    return 200 <= r.status < 300 and bool(r.files)


def _callback(r: Recorded) -> bool:
    return r.route == "POST /interactions/{id}/{token}/callback" and r.status == 200


@dataclass
class Chaos:
    sim: FalSimulator
    fake: FakeDiscord
    env: dict[str, str]
    cwd: Path
    rng: random.Random
    sent: list[tuple[str, Issued]] = field(default_factory=list)  # (prompt, interaction)
    processes: list[FalbotProcess] = field(default_factory=list)

    async def start(self) -> FalbotProcess:
        proc = FalbotProcess(self.env, cwd=self.cwd)
        self.processes.append(proc)
        await proc.start()
        return proc

    async def send(self, n: int) -> Issued:
        """A user's /imagine; it goes to whatever session the gateway has (a dead process's
        too: there it is lost, as on Discord)."""
        person = self.fake.people[USERS[n % len(USERS)]]
        prompt = f"discord chaos job {n} for {person.user['username']}"
        options = [
            p.option("prompt", p.STRING, prompt),
            p.option("model", p.STRING, "flux-schnell"),
        ]
        issued = await self.fake.send_interaction(
            self.fake.slash(person, "imagine", options=options)
        )
        self.sent.append((prompt, issued))
        return issued

    def acked(self) -> set[str]:
        return {prompt for prompt, issued in self.sent if issued.acked is not None}

    def kill_moment(self) -> tuple[str, Callable[[], Awaitable[object]]]:
        """A random event of the run to kill at: its name and how to wait for it."""
        k = self.rng.randint(1, 6)
        submits, done = len(self.sim.submits), self._completed()
        moments: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            (f"interaction acked +{k}", lambda: self._nth(_callback, k)),
            (
                f"submit +{k}",
                lambda: self.sim.wait_for(
                    lambda: len(self.sim.submits) >= submits + k, MOMENT_WITHIN
                ),
            ),
            (
                f"completed at fal +{k}",
                lambda: self.sim.wait_for(lambda: self._completed() >= done + k, MOMENT_WITHIN),
            ),
            (f"progress edit +{k * 3}", lambda: self._nth(_webhook_edit, k * 3)),
            (f"result sent +{k}", lambda: self._nth(_result, k)),
        ]
        return self.rng.choice(moments)

    async def _nth(self, pred: Callable[[Recorded], bool], n: int) -> None:
        """Until the n-th request from now matching `pred` has come."""
        after = self.fake.mark()
        async with asyncio.timeout(MOMENT_WITHIN):
            for _ in range(n):
                rec = await self.fake.wait_for(pred, after=after, timeout=MOMENT_WITHIN)
                after = next(
                    i for i in range(after, len(self.fake.requests)) if self.fake.requests[i] is rec
                )
                after += 1

    def _completed(self) -> int:
        return sum(1 for r in self.sim.requests.values() if r.state == "COMPLETED")


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with running_discord(USERS) as fake:
        yield fake


@pytest.fixture
async def fal_sim() -> AsyncIterator[FalSimulator]:
    async with running_simulator(run_time=0.6, queue_wait=0.1) as simulator:
        yield simulator


async def test_sigkill_at_random_moments_through_discord_loses_nothing_and_bills_once(
    fal_sim: FalSimulator, discord: FakeDiscord, tmp_path: Path
) -> None:
    db = tmp_path / "falbot.db"
    env = discord_env(fal_sim, discord, db, free_port())
    await sync_discord_commands(env, tmp_path)
    chaos = Chaos(fal_sim, discord, env, tmp_path, random.Random(SEED))
    moments: list[str] = []
    try:
        n = 0
        for _ in range(KILLS):
            proc = await chaos.start()
            what, moment = chaos.kill_moment()
            moments.append(what)
            for i in range(COMMANDS_PER_LIFE):
                await chaos.send(n + i)
            n += COMMANDS_PER_LIFE
            try:
                await moment()
            except (TimeoutError, AssertionError):
                moments[-1] += " (not reached: killed at the time-out)"
            await proc.kill()
        final = await chaos.start()
        # The last life takes enough commands that at least MIN_JOBS were acknowledged.
        last = [await chaos.send(n + i) for i in range(max(3, MIN_JOBS + 2 - len(chaos.acked())))]
        await asyncio.gather(*(discord.callback(issued) for issued in last))
        jobs = await wait_all_final(db, within=FINAL_WITHIN)
        await final.terminate(within=10)
    finally:
        for proc in chaos.processes:
            await proc.close()

    jobs, ledger, buckets = read_db(db)
    context = f"seed {SEED}, kills at: {moments}"
    assert len(chaos.processes) == KILLS + 1
    _check_outcome(chaos, jobs, ledger, buckets, context=context)


def _check_outcome(
    chaos: Chaos,
    jobs: list[dict[str, Any]],
    ledger: list[dict[str, Any]],
    buckets: dict[str, Any],
    *,
    context: str,
    min_jobs: int = MIN_JOBS,
) -> None:
    acked = chaos.acked()
    assert len(acked) >= min_jobs, context
    prompts = {prompt_of(j) for j in jobs}
    # Every acknowledged interaction is a job (it is admitted before it is acknowledged);
    # an unacknowledged one may be a job too (its answer came too late), never anything else.
    assert acked <= prompts, (acked - prompts, context)
    assert prompts <= {prompt for prompt, _ in chaos.sent}, context

    # Nothing was submitted to fal twice; everything fal saw belongs to a job.
    at_fal = Counter(str(args.get("prompt")) for _, args in chaos.sim.submits)
    assert at_fal, context
    assert not {prompt: times for prompt, times in at_fal.items() if times > 1}, context
    assert set(at_fal) <= prompts, context

    check_books(jobs, ledger, buckets, context=context)
    states = Counter(j["state"] for j in jobs)
    assert states["delivered"] >= len(jobs) // 2, (states, context)

    # Each user was told on Discord: the result's files in a message naming the job, or the
    # failure saying the credits came back.
    said = [r for r in chaos.fake.requests if 200 <= r.status < 300 and isinstance(r.json, dict)]
    for job in jobs:
        short = job["id"][:8]
        mine = [r for r in said if short in str(r.json.get("content"))]
        if job["state"] == "delivered":
            assert any(r.files and f"job {short}" in r.json["content"] for r in mine), (
                job,
                context,
            )
        else:
            assert any("Your credits were returned." in r.json["content"] for r in mine), (
                job,
                context,
            )


FLAKY = {
    "PATCH /webhooks/{app}/{token}/messages/{message}",
    "POST /webhooks/{app}/{token}",
    "POST /channels/{channel}/messages",
    "PATCH /channels/{channel}/messages/{message}",
}
OUTAGE_JOBS = 12


async def test_discord_failing_a_third_of_the_time_and_dropping_the_gateway_loses_no_result(
    fal_sim: FalSimulator, discord: FakeDiscord, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    in_a_row: Counter[str] = Counter()
    results_tried: set[str] = set()

    def outage(r: Recorded) -> int | None:
        # Interaction callbacks go through: refusing one loses the command itself. Each
        # result's first try fails, any other message a third of the time, and none more
        # than twice in a row: discord.py's own retries (after 1 s, then 3 s) are what the
        # test waits for, not its give-up after five.
        first_result = bool(r.files) and r.path not in results_tried
        if r.files:
            results_tried.add(r.path)
        fails = first_result or rng.random() < 1 / 3
        if r.route not in FLAKY or in_a_row[r.path] >= 2 or not fails:
            in_a_row[r.path] = 0
            return None
        in_a_row[r.path] += 1
        return rng.choice((500, 502, 503, 504))

    db = tmp_path / "falbot.db"
    env = discord_env(fal_sim, discord, db, free_port())
    await sync_discord_commands(env, tmp_path)
    chaos = Chaos(fal_sim, discord, env, tmp_path, rng)
    try:
        proc = await chaos.start()
        discord.outage = outage
        first = [await chaos.send(n) for n in range(OUTAGE_JOBS // 2)]
        await asyncio.gather(*(discord.callback(issued) for issued in first))
        await discord.drop_gateway(code=None)  # and the rest arrive while the bot is away
        rest = [await chaos.send(n) for n in range(OUTAGE_JOBS // 2, OUTAGE_JOBS)]
        await asyncio.gather(*(discord.callback(issued) for issued in rest))
        jobs = await wait_all_final(db, within=FINAL_WITHIN)
        discord.outage = None
        await proc.terminate(within=10)
    finally:
        for started in chaos.processes:
            await started.close()

    failed = Counter(r.route for r in discord.requests if r.status >= 500)
    assert sum(failed.values()) >= 3, failed  # Discord really was failing
    assert failed["PATCH /webhooks/{app}/{token}/messages/{message}"], failed
    assert any(r.files for r in discord.requests if r.status >= 500), "results met 5xx too"
    resumed = discord.recorder.find(lambda r: r.route == "GATEWAY RESUME")
    assert [r.status for r in resumed] == [0]
    assert {event for event, _ in resumed[0].answer} >= {"INTERACTION_CREATE"}
    jobs, ledger, buckets = read_db(db)
    assert len(jobs) == OUTAGE_JOBS
    assert {j["state"] for j in jobs} == {"delivered"}, (jobs, failed)
    context = f"seed {SEED}, 5xx: {failed}"
    _check_outcome(chaos, jobs, ledger, buckets, context=context, min_jobs=OUTAGE_JOBS)
