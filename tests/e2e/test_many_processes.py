"""Three `falbot run` processes on one PostgreSQL database share the line and the fal slots:
the slots are counted across them, one user's backlog holds back nobody, and a process killed
with SIGKILL loses nothing: the others take its jobs over once its lease runs out, nothing is
sent to fal twice or delivered twice, and the books balance.

Real processes, real discord.py (against the fake Discord), real fal-client (against the
simulator), a database of their own per test (dropped at the end). Every wait is on an event
(a log line, a request at a fake, a row in the database) with a time-out; the kill moments of
the chaos test are drawn from a seeded generator (`FALBOT_CHAOS_SEED` replays a failure).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster import (
    Cluster,
    Life,
    check_told,
    prompts_of,
    result_sends,
    submitted_prompts,
)
from tests.e2e.support import check_books, prompt_of, running_simulator
from tests.fakes.discord import FakeDiscord
from tests.integration.postgres.database import fresh_database

SEED = int(os.environ.get("FALBOT_CHAOS_SEED", "20261130"))
LEASE = 2.0  # FALBOT_LEASE_SECONDS: the least falbot takes, so takeovers come fast
USERS = ("ada", "ben", "cyd", "dee", "eve")
Moment = Callable[[], Awaitable[Any]]
# Three process starts and 100 jobs take a while on a busy machine (the chaos test nine starts).
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    """Three shards, one per process; each process identifies its own at once."""
    fake = FakeDiscord(shards=3, max_concurrency=16)
    for user in USERS:
        fake.add_person(user)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def dsn() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


def command(user: str, n: int, slot: int) -> tuple[str, str, int]:
    """`user`'s n-th /imagine: who sends it, its prompt (unique, naming the user) and the slot
    whose shard's guild it is sent in."""
    return user, f"{user}'s job {n}", slot


def user_of(prompt: str) -> str:
    return prompt.split("'", maxsplit=1)[0]


async def test_three_processes_share_five_slots_and_one_users_fifty_jobs_hold_back_nobody(
    discord: FakeDiscord, dsn: str, tmp_path: Path
) -> None:
    """FALBOT_MAX_CONCURRENCY=5 across three processes, 100 jobs: ada's 50, then ben's 25 and
    cyd's 25, each user in a guild on another process's shard (ada's jobs admitted by the
    first process, ben's by the second, cyd's by the third). fal holds its requests in
    progress until all 100 jobs are admitted, so the order is the line's alone. Ada's first
    five jobs find the five slots free and go to fal at once: they never wait. Her other 45
    wait, and so do ben's and cyd's 50. "Ada's third job that had to wait" is her eighth job
    to reach fal: ben's first and cyd's first must reach fal before it. (Round-robin serves
    them ahead of ada, just served; claims made side by side in different processes may reach
    fal in another order than they were made, hence her third, not her first.)"""
    async with (
        running_simulator(run_time=0.2) as sim,
        # Nothing is killed here: a long lease, so no stall of a busy machine looks like a death.
        Cluster(sim=sim, fake=discord, dsn=dsn, cwd=tmp_path, slots=5, lease=15) as c,
    ):
        sim.hold = True
        await c.start()
        await c.send_acked(command("ada", n, 0) for n in range(50))
        await sim.wait_for(lambda: len(sim.submits) == 5, within=20)
        await c.send_acked(
            command(user, n, slot) for n in range(25) for slot, user in ((1, "ben"), (2, "cyd"))
        )
        await c.poll(  # all 95 wait in the line (each enters it once its command is answered)
            "SELECT state, owner IS NULL AS waiting, count(*) AS n FROM jobs "
            "GROUP BY state, owner IS NULL ORDER BY 1, 2",
            lambda rows: (
                {(r["state"], r["waiting"]): r["n"] for r in rows}
                == {("queued", True): 95, ("running", False): 5}
            ),
            within=20,
        )
        assert len(sim.submits) == 5 and sim.in_flight == 5

        sim.hold = False
        sim.release()
        await c.wait_all_final(within=120)
        jobs, ledger, buckets = await c.books()

    order = [user_of(str(arguments["prompt"])) for _, arguments in sim.submits]
    assert order[:5] == ["ada"] * 5
    adas_third_that_waited = [i for i, user in enumerate(order) if user == "ada"][5 + 2]
    assert order.index("ben") < adas_third_that_waited, order[:12]
    assert order.index("cyd") < adas_third_that_waited, order[:12]

    assert sim.peak_in_flight == 5  # never more than five at fal, across the three
    assert len(jobs) == 100 and {j["state"] for j in jobs} == {"delivered"}
    assert submitted_prompts(sim) == Counter({prompt_of(j): 1 for j in jobs})
    for job in jobs:  # one result message each, sent once
        assert result_sends(discord, job["id"][:8]) == 1, prompt_of(job)
    check_told(discord, jobs, context="no kills")
    check_books(jobs, ledger, buckets, context="no kills")
    # Each process admitted one user's commands, and the line was shared: each of the three
    # claimed jobs from it.
    admitted = {life.name: len(life.events("job_queued")) for life in c.lives}
    assert admitted == {"falbot-1": 50, "falbot-2": 25, "falbot-3": 25}, admitted
    claimed = Counter(job["owner"] for job in jobs)
    assert set(claimed) == set(admitted), claimed


KILLS = 6
COMMANDS_PER_ROUND = 15
MIN_JOBS = 100
MOMENT_WITHIN = 5.0
TAKEN_WITHIN = LEASE + 15.0  # generous: the lease-plus-two-seconds bound is the next test's


@dataclass
class Kill:
    victim: str
    moment: str
    held: dict[str, str]  # its unfinished jobs at the kill: id → state
    before_restart: set[str]  # the processes running when it came back


def kill_moment(c: Cluster, victim: Life, rng: random.Random) -> tuple[str, Moment]:
    """A random event of the run to SIGKILL `victim` at: its name and how to wait for it."""
    k = rng.randint(1, 4)
    submits, mark = len(c.sim.submits), c.fake.mark()

    def its(event: str) -> Moment:
        seen = len(victim.events(event))
        return lambda: victim.proc.wait_for_line(
            lambda line: line.get("event") == event, within=MOMENT_WITHIN, count=seen + k
        )

    async def nth_result() -> None:
        after = mark
        for _ in range(k):
            rec = await c.fake.wait_for(lambda r: bool(r.files), after=after, timeout=MOMENT_WITHIN)
            after = c.fake.requests.index(rec) + 1

    async def instant() -> None:
        # A moment no event marks: whatever the processes are doing then (seeded, replayable).
        await asyncio.sleep(delay)

    delay = round(rng.uniform(0.0, 2.0), 2)
    moments: list[tuple[str, Moment]] = [
        (f"its job #{k} from now sent to fal", its("job_started")),
        (f"its job #{k} from now done at fal", its("job_succeeded")),
        (
            f"submit #{k} from now at fal",
            lambda: c.sim.wait_for(lambda: len(c.sim.submits) >= submits + k, MOMENT_WITHIN),
        ),
        (f"result #{k} from now sent to Discord", nth_result),
        (f"its command #{k} from now admitted", its("job_queued")),
        (f"{delay} s after the round's commands", instant),
    ]
    return rng.choice(moments)


async def test_sigkilled_processes_jobs_are_taken_over_by_the_others_and_nothing_is_lost(
    discord: FakeDiscord, dsn: str, tmp_path: Path
) -> None:
    """Three processes, five users, at least 100 jobs; six times a random process is SIGKILLed
    at a random moment. Each time the test waits until every job the dead process owned is
    taken over by another (its lease ran out) before it starts it again, under a new name:
    its jobs are carried on by the others, not by its restart."""
    rng = random.Random(SEED)
    kills: list[Kill] = []
    async with (
        running_simulator(run_time=0.4, queue_wait=0.05) as sim,
        Cluster(sim=sim, fake=discord, dsn=dsn, cwd=tmp_path, slots=6, lease=LEASE) as c,
    ):
        await c.start()
        n = 0
        for _ in range(KILLS):
            victim = rng.choice(c.live)
            what, moment = kill_moment(c, victim, rng)
            for i in range(n, n + COMMANDS_PER_ROUND):
                user, prompt, slot = command(USERS[i % len(USERS)], i, rng.randrange(3))
                await c.send(user, prompt, slot=slot)
            n += COMMANDS_PER_ROUND
            try:
                await moment()
            except (TimeoutError, AssertionError):
                what += " (not reached: killed at the time-out)"
            held = await c.kill(victim)
            await c.poll(
                "SELECT id, owner FROM jobs WHERE id = ANY($1::text[])",
                lambda rows, dead=victim.name: all(row["owner"] != dead for row in rows),
                args=[list(held)],
                within=TAKEN_WITHIN,
            )
            kills.append(Kill(victim.name, what, held, {life.name for life in c.live}))
            await c.start(victim.slot)
        last = max(3, MIN_JOBS + 2 - len(c.acked()))
        await c.send_acked(command(USERS[i % len(USERS)], i, i % 3) for i in range(n, n + last))
        await c.wait_all_final(within=120)
        await c.stop()  # SIGTERM: each drains and lets go of its jobs
        jobs, ledger, buckets = await c.books()

    context = f"seed {SEED}, kills: {[(k.victim, k.moment, len(k.held)) for k in kills]}"
    assert len(c.lives) == 3 + KILLS
    acked, prompts = c.acked(), set(prompts_of(jobs))
    assert len(acked) >= MIN_JOBS, context
    # Every acknowledged command is a job (admitted before it is answered); an unanswered one
    # may be a job too (its answer came too late, or its process died first).
    assert acked <= prompts, (acked - prompts, context)
    assert prompts <= {prompt for prompt, _ in c.sent}, context
    assert {job["state"] for job in jobs} <= {"delivered", "failed"}, context

    at_fal = submitted_prompts(sim)
    assert not {prompt: times for prompt, times in at_fal.items() if times > 1}, context
    assert set(at_fal) <= prompts, context
    # The six slots held across kills; only a submit caught by a kill (its job failed, fal
    # ran it anyway, as fal would) adds to them.
    orphans = sum(1 for job in jobs if job["state"] == "failed" and prompt_of(job) in at_fal)
    assert sim.peak_in_flight <= 6 + orphans, (sim.peak_in_flight, orphans, context)
    check_books(jobs, ledger, buckets, context=context)
    check_told(discord, jobs, context=context)
    states = Counter(job["state"] for job in jobs)
    assert states["delivered"] >= len(jobs) * 3 // 4, (states, context)
    # The one way a kill may fail a job: caught between its submit and fal's request id.
    failed = [json.loads(job["error"]) for job in jobs if job["state"] == "failed"]
    assert all("stopped while sending this job" in error["message"] for error in failed), failed

    # Takeover, not restart: each job a dead process held was taken over by a process that
    # ran before it came back, and ended under another owner than the dead one.
    by_id = {job["id"]: job for job in jobs}
    for kill in kills:
        for job_id in kill.held:
            takers = {life.name for life in c.lives if life.took_over(job_id[:8])}
            assert takers & kill.before_restart, (job_id, takers, context)
            assert by_id[job_id]["owner"] not in (kill.victim, None), (by_id[job_id], context)
    assert sum(len(kill.held) for kill in kills) >= KILLS, context  # kills caught jobs
    resent = sum(1 for job in jobs if result_sends(discord, job["id"][:8]) > 1)
    print(context, dict(states), f"peak at fal {sim.peak_in_flight}, results re-sent {resent}")


async def test_a_killed_processs_jobs_resume_on_another_within_the_lease_plus_two_seconds(
    discord: FakeDiscord, dsn: str, tmp_path: Path
) -> None:
    """fal holds six jobs in progress, spread over three processes; the one holding most is
    SIGKILLed. From the kill, each of its jobs must be taken over by another process (its log
    says so) and followed at fal again (the simulator is asked about its request) within
    FALBOT_LEASE_SECONDS + 2 s of real time; then all six are delivered, each sent once."""
    async with (
        running_simulator() as sim,
        Cluster(sim=sim, fake=discord, dsn=dsn, cwd=tmp_path, slots=6, lease=LEASE) as c,
    ):
        sim.hold = True
        await c.start()
        await c.send_acked(command(user, n, n % 3) for n, user in enumerate((*USERS, "ada")))
        jobs = await c.poll(
            "SELECT id, owner, request_id FROM jobs",
            lambda rows: len(rows) == 6 and all(row["request_id"] for row in rows),
            within=20,
        )
        await sim.wait_for(lambda: all(r.state == "IN_PROGRESS" for r in sim.requests.values()))
        owners = Counter(job["owner"] for job in jobs)
        victim = next(life for life in c.lives if life.name == owners.most_common(1)[0][0])
        held = {job["id"]: job["request_id"] for job in jobs if job["owner"] == victim.name}
        asked = {rid: sim.http_requests(rid) for rid in held.values()}

        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        await victim.proc.kill()
        took_over: dict[str, tuple[str, float]] = {}
        followed: dict[str, float] = {}
        for job_id, request_id in held.items():
            life, _ = await c.wait_for_line(
                lambda _life, line, short=job_id[:8]: str(line.get("msg", "")).startswith(
                    f"took over job {short}"
                ),
                within=LEASE + 10,
            )
            took_over[job_id] = (life.name, loop.time() - killed_at)
            await sim.wait_for(
                lambda rid=request_id: sim.http_requests(rid) > asked[rid], LEASE + 10
            )
            followed[job_id] = loop.time() - killed_at

        sim.hold = False
        sim.release()
        final = await c.wait_all_final(within=30)

    print(f"{victim.name}'s {len(held)} jobs: taken over {took_over}, followed {followed}")
    for job_id in held:
        assert took_over[job_id][1] <= LEASE + 2, took_over
        assert followed[job_id] <= LEASE + 2, followed
    assert {job["state"] for job in final} == {"delivered"}
    assert len(sim.submits) == 6 and set(submitted_prompts(sim).values()) == {1}
    for job in final:
        if job["id"] in held:
            assert job["owner"] == took_over[job["id"]][0] != victim.name
