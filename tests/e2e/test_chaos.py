"""Chaos: `falbot run` as a real process, killed with SIGKILL at random moments, restarted.

falbot serves Slack over HTTP (the loopback fake Slack Web API, slash commands signed with the
signing secret and POSTed to the child's /slack/events) and runs its jobs at the fal simulator.
The simulator and the fake Slack live in this test's process, outside the one that is killed,
so they see every request the child ever made, across all its lives.

Each prompt is unique and sent once (Slack never resends a slash command), so the simulator's
submits, counted by prompt, show whether any job was submitted twice. The moments to kill are
drawn from a seeded random generator among events of the run itself (the n-th submit at fal,
the n-th completion there, the n-th progress edit, the n-th upload to Slack), so every kill
lands while jobs are at every stage, and a failing seed can be replayed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from adapters.fal.simulator import FalSimulator
from tests.e2e.process import FalbotProcess, free_port
from tests.e2e.support import (
    CHANNEL,
    SIGNING_SECRET,
    TEAM,
    check_books,
    falbot_env,
    prompt_of,
    read_db,
    running_simulator,
    running_slack,
    wait_all_final,
)
from tests.fakes.slack import FakeSlack, SignedSender
from tests.fakes.slack import payloads as p

SEED = int(os.environ.get("FALBOT_CHAOS_SEED", "20260105"))
USERS = ("UALICE", "UBOB", "UCARA", "UDAN", "UEVE")
KILLS = 6
COMMANDS_PER_LIFE = 11
FINAL_WITHIN = 30.0
MIN_JOBS = 50


@dataclass
class Sent:
    prompt: str
    user: str
    acked: bool


@dataclass
class Chaos:
    fal_sim: FalSimulator
    slack: FakeSlack
    db: Path
    env: dict[str, str]
    cwd: Path
    rng: random.Random
    url: str
    sent: list[Sent] = field(default_factory=list)
    kills: int = 0
    processes: list[FalbotProcess] = field(default_factory=list)

    async def start(self) -> FalbotProcess:
        proc = FalbotProcess(self.env, cwd=self.cwd)
        self.processes.append(proc)
        await proc.start()
        return proc

    async def send(self, sender: SignedSender, n: int) -> None:
        user = USERS[n % len(USERS)]
        prompt = f"chaos job {n} for {user}"
        form = p.slash_command(
            "/imagine",
            f"{prompt} --model flux-schnell",
            team_id=TEAM,
            user_id=user,
            channel_id=CHANNEL,
            response_url=self.slack.response_url(),
        )
        try:
            answer = await sender.command(form)
            acked = answer.status == 200
        except aiohttp.ClientError:
            acked = False  # the process died under it: Slack would show the user an error
        self.sent.append(Sent(prompt, user, acked))

    def kill_moment(self) -> tuple[str, Callable[[], Awaitable[object]]]:
        """A random event of the run to kill at: its name and how to wait for it."""
        k = self.rng.randint(1, 8)
        submits, done = len(self.fal_sim.submits), self._completed()
        edits = len(self.slack.calls_to("chat.update"))
        uploads = len(self.slack.calls_to("files.completeUploadExternal"))
        moments: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            (
                f"submit +{k}",
                lambda: self.fal_sim.wait_for(lambda: len(self.fal_sim.submits) >= submits + k, 15),
            ),
            (
                f"completed at fal +{k}",
                lambda: self.fal_sim.wait_for(lambda: self._completed() >= done + k, 15),
            ),
            (
                f"progress edit +{k * 3}",
                lambda: self.slack.wait_for("chat.update", count=edits + k * 3, timeout=15),
            ),
            (
                f"upload +{k}",
                lambda: self.slack.wait_for(
                    "files.completeUploadExternal", count=uploads + k, timeout=15
                ),
            ),
        ]
        return self.rng.choice(moments)

    def _completed(self) -> int:
        return sum(1 for r in self.fal_sim.requests.values() if r.state == "COMPLETED")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_slack(USERS) as fake:
        yield fake


@pytest.fixture
async def fal_sim() -> AsyncIterator[FalSimulator]:
    async with running_simulator(run_time=0.6, queue_wait=0.1) as simulator:
        yield simulator


@pytest.mark.parametrize("watching", ["status", "webhooks"])
async def test_sigkill_at_random_moments_loses_nothing_and_bills_nobody_twice(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path, watching: str
) -> None:
    db = tmp_path / "falbot.db"
    port = free_port()
    env = falbot_env(fal_sim, slack, db, port)
    if watching == "webhooks":
        # fal's webhooks to a killed process are lost: the restarted one falls back to status.
        env |= {
            "FALBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "FALBOT_FAL_JWKS_URL": fal_sim.jwks_url,
            "FALBOT_WEBHOOK_WAIT": "2",
        }
    chaos = Chaos(
        fal_sim,
        slack,
        db,
        env,
        tmp_path,
        random.Random(SEED),
        f"http://127.0.0.1:{port}/slack/events",
    )
    sender = SignedSender(chaos.url, SIGNING_SECRET)
    moments: list[str] = []
    try:
        n = 0
        for _ in range(KILLS):
            proc = await chaos.start()
            sends = [chaos.send(sender, n + i) for i in range(COMMANDS_PER_LIFE)]
            n += COMMANDS_PER_LIFE
            what, moment = chaos.kill_moment()
            moments.append(what)
            sending = asyncio.gather(*sends)
            try:
                await moment()
            except (TimeoutError, AssertionError):
                moments[-1] += " (not reached: killed at the time-out)"
            await proc.kill()
            chaos.kills += 1
            await sending  # every send has its answer or its refusal by now
        final = await chaos.start()
        # The last life takes enough commands that at least MIN_JOBS exist, however many acked
        # commands the kills cut off before admission.
        admitted = len((await asyncio.to_thread(read_db, db))[0])
        for i in range(max(COMMANDS_PER_LIFE, MIN_JOBS + 5 - admitted)):
            await chaos.send(sender, n + i)
        jobs = await wait_all_final(db, within=FINAL_WITHIN)
        await final.terminate(within=10)
    finally:
        await sender.close()
        for proc in chaos.processes:
            await proc.close()

    jobs, ledger, buckets = read_db(db)
    context = f"{watching}, seed {SEED}, kills at: {moments}"
    assert chaos.kills >= 5
    if watching == "webhooks":
        taken = [d for d in fal_sim.webhooks.deliveries if d.status == 200]
        assert taken, "jobs ended by fal's webhooks too"
    assert len(jobs) >= MIN_JOBS, context
    # A command acked but cut off before admission has no job: it never reached fal (below)
    # and took no credits (the bucket check below counts only delivered jobs).
    assert {prompt_of(j) for j in jobs} <= {s.prompt for s in chaos.sent if s.acked}

    # Nothing was submitted to fal twice: each prompt is unique and reached fal at most once.
    at_fal = Counter(str(args.get("prompt")) for _, args in fal_sim.submits)
    assert at_fal, context
    twice = {prompt: times for prompt, times in at_fal.items() if times > 1}
    assert not twice, context
    # Everything fal saw belongs to a job falbot knows of.
    assert set(at_fal) <= {prompt_of(j) for j in jobs}, context

    # Every job ended: delivered with its cost in the ledger, or failed with credits returned;
    # each bucket holds its capacity less what delivered jobs cost, nothing more taken.
    check_books(jobs, ledger, buckets, context=context)
    delivered = sum(1 for j in jobs if j["state"] == "delivered")
    assert delivered >= len(jobs) // 2, context

    # Each user was told: every job's own message ends as its result, or as its failure saying
    # the credits came back.
    for job in jobs:
        ref = json.loads(job["reply_ref"])
        message = slack.message(ref["channel"], ref["message_ts"])
        assert message is not None, (job, context)
        text = json.dumps(message)
        assert job["id"][:8] in text, (job["state"], message, context)
        if job["state"] == "delivered":
            assert str(message["text"]).startswith("Done"), (message, context)
        else:
            assert str(message["text"]).startswith("Failed"), (message, context)
            assert "Your credits were returned." in text, (message, context)
