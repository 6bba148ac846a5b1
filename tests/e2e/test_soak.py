"""Soak (bounded in time): `falbot run` with 1,024 open files, as a default Linux gives it, serving
Discord and Slack while 2,000 idle connections and 100 slow unsigned webhook bodies are held
against its public port for 20 s. Every job is delivered, `/healthz` answers within 1 s
throughout, the process grows by less than 100 MB, and within 10 s of the sockets' release it is
back to its open-file count from before."""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.fal.simulator import FalSimulator
from tests.e2e.port_support import (
    HealthProbe,
    RawConnection,
    close_all,
    connect,
    connect_many,
    healthz_seconds,
    open_files,
    raise_open_file_limit,
    rss_bytes,
)
from tests.e2e.process import FalbotProcess, free_port
from tests.e2e.support import (
    CHANNEL,
    SIGNING_SECRET,
    TEAM,
    discord_env,
    falbot_env,
    running_discord,
    running_simulator,
    running_slack,
    sync_discord_commands,
    wait_all_final,
)
from tests.e2e.test_webhook_port import head
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord import payloads as p_discord
from tests.fakes.slack import FakeSlack, SignedSender
from tests.fakes.slack import payloads as p

SLACK_USER = "USOAK"
DISCORD_USER = "soaker"
IDLE = 2_000
SLOW_BODIES = 100
HOLD_S = 20.0
JOBS = 30  # half on each platform
WARM_UP = 6
ATTACK_SOURCES = [f"127.0.1.{i}" for i in range(1, 41)]  # 50 idle sockets from each
MB = 1_000_000


@contextlib.contextmanager
def child_open_files(limit: int) -> Iterator[None]:
    """Children started inside get `limit` open files (the soft limit is inherited)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, soft), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def all_final(db: Path, count: int, *, within: float) -> list[dict[str, Any]]:
    """All `count` jobs, once each is final (a command is acknowledged before its job is
    stored, so the first jobs may all be final while others are not stored yet)."""
    async with asyncio.timeout(within):
        while True:
            jobs = await wait_all_final(db, within=within)
            if len(jobs) >= count:
                return jobs
            await asyncio.sleep(0.1)  # the database of another process: nothing to wait on


@pytest.fixture
async def fal_sim() -> AsyncIterator[FalSimulator]:
    async with running_simulator(run_time=0.5) as simulator:
        yield simulator


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_slack((SLACK_USER,)) as fake:
        yield fake


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with running_discord((DISCORD_USER,)) as fake:
        yield fake


async def test_soak_idle_sockets_and_slow_webhook_bodies_while_jobs_run(
    fal_sim: FalSimulator, slack: FakeSlack, discord: FakeDiscord, tmp_path: Path
) -> None:
    raise_open_file_limit(IDLE + SLOW_BODIES + 1_024)
    db = tmp_path / "falbot.db"
    port = free_port()
    env = (
        falbot_env(fal_sim, slack, db, port)
        | discord_env(fal_sim, discord, db, port)
        | {
            "FALBOT_MEDIA_HOSTS": f"{slack.host},{discord.cdn_host}",
            "FALBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "FALBOT_FAL_JWKS_URL": fal_sim.jwks_url,
        }
    )
    await sync_discord_commands(env, tmp_path)
    sender = SignedSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
    proc = FalbotProcess(env, cwd=tmp_path)
    person = discord.people[DISCORD_USER]
    sent = 0

    async def one_job(platform: str) -> None:
        nonlocal sent
        sent += 1
        prompt = f"soak {sent}"
        if platform == "slack":
            form = p.slash_command(
                "/imagine",
                f"{prompt} --model flux-schnell",
                team_id=TEAM,
                user_id=SLACK_USER,
                channel_id=CHANNEL,
                response_url=slack.response_url(),
            )
            assert (await sender.command(form)).status == 200
        else:
            options = [
                p_discord.option("prompt", p_discord.STRING, prompt),
                p_discord.option("model", p_discord.STRING, "flux-schnell"),
            ]
            issued = await discord.send_interaction(
                discord.slash(person, "imagine", options=options)
            )
            await discord.callback(issued, timeout=10)

    healthz: list[tuple[float, float, str]] = []
    probe = HealthProbe(port)
    idle: list[RawConnection] = []
    slow: list[RawConnection] = []
    try:
        with child_open_files(1_024):
            await proc.start()
        # Warm up (connection pools to fal, Slack and Discord), then take the baseline.
        await asyncio.gather(*(one_job(("slack", "discord")[i % 2]) for i in range(WARM_UP)))
        await all_final(db, WARM_UP, within=30)
        await healthz_seconds(port)
        files_before, rss_before = open_files(proc.pid), rss_bytes(proc.pid)

        await probe.start()
        loop = asyncio.get_running_loop()
        attack_started = loop.time()
        idle = await connect_many(port, IDLE, sources=ATTACK_SOURCES)  # as fast as it can
        for i in range(SLOW_BODIES):
            connection = await connect(port, source=ATTACK_SOURCES[i % len(ATTACK_SOURCES)])
            connection.writer.write(head(8 * 1024 * 1024 - 1) + b"{" + b" " * 4095)
            slow.append(connection)
        await asyncio.gather(*(one_job(("slack", "discord")[i % 2]) for i in range(JOBS)))
        jobs = await all_final(db, WARM_UP + JOBS, within=HOLD_S + 30)
        peak_rss = rss_bytes(proc.pid)
        peak_files = open_files(proc.pid)
        await asyncio.sleep(max(0.0, HOLD_S - (loop.time() - attack_started)))  # the hold
        held_for = loop.time() - attack_started
        peak_rss = max(peak_rss, rss_bytes(proc.pid))
        healthz = await probe.stop()

        close_all(idle + slow)  # the release
        released = loop.time()
        files_after = open_files(proc.pid)
        while files_after > files_before + 10 and loop.time() - released < 10:
            await asyncio.sleep(0.1)  # /proc has no event to wait on
            files_after = open_files(proc.pid)
        back_within = loop.time() - released
        await proc.terminate(within=10)
    finally:
        await probe.stop()
        close_all(idle + slow)
        await sender.close()
        await proc.close()

    assert held_for >= HOLD_S
    assert len(jobs) == WARM_UP + JOBS
    assert {job["state"] for job in jobs} == {"delivered"}, [j["state"] for j in jobs]
    assert {job["platform"] for job in jobs} == {"slack", "discord"}
    assert len(healthz) >= 20, healthz
    slowest = sorted(healthz, key=lambda sample: -sample[1])[:5]
    assert all(status == "200" for _, _, status in healthz), slowest
    assert slowest[0][1] < 1.0, [(round(t - attack_started, 1), s) for t, s, _ in slowest]
    assert peak_rss - rss_before < 100 * MB, (rss_before, peak_rss)
    assert peak_files < 1_024, peak_files  # never at the limit: nothing refused for want of files
    assert files_after <= files_before + 10 and back_within <= 10, (files_before, files_after)
    text = "\n".join(proc.raw_lines)
    assert "Too many open files" not in text
    assert 1 <= text.count("HTTP connections at their limit") <= 4  # once per 10 s at most
    print(
        f"soak: healthz max {slowest[0][1]:.3f} s over {len(healthz)} samples; "
        f"RSS {rss_before / MB:.0f} → {peak_rss / MB:.0f} MB; open files {files_before} → "
        f"{peak_files} (peak) → {files_after} after {back_within:.1f} s"
    )
