"""Delivery benchmark: prints figures, asserts nothing. `python bench/delivery.py`.

The time from fal's completion of a job to the start of its result's upload, on each
platform's loopback fake, through the whole stack as `falbot run` builds it (real discord.py and
slack_sdk, SQLite, fal-client on the fal simulator) with the default 1.5 s progress interval:
  - Discord: the simulator completes the request → the fake Discord receives the edit that
    carries the file;
  - Slack: the simulator completes the request → the fake Slack receives
    `files.getUploadURLExternal` (the first call of `files_upload_v2`).
Jobs run one after another (each runs `--run-time` seconds at fal, so progress edits are made
while it runs); p50 and max over `--jobs` jobs. Target: p50 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.discord import point_discord_at
from adapters.fal.simulator import FalSimulator
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord import payloads as p
from tests.fakes.slack import Call
from tests.integration.discord.conftest import Env
from tests.integration.fal.fixtures import running_fal_simulator
from tests.integration.slack.harness import SlackStack, new_fake

INTERVAL = 1.5  # the default FALBOT_PROGRESS_INTERVAL


def completed_at(sim: FalSimulator, before: set[str]) -> float:
    """When the simulator completed the one request submitted since `before` (loop time)."""
    (req,) = [r for r in sim.requests.values() if r.id not in before]
    assert req.completed_at is not None
    return req.completed_at


async def timed_jobs(
    sim: FalSimulator, jobs: int, run_one: Callable[[int], Awaitable[float]]
) -> list[float]:
    """Milliseconds from fal's completion to the upload, for each of `jobs` jobs."""
    gaps: list[float] = []
    for i in range(jobs):
        before = set(sim.requests)
        uploaded = await run_one(i)
        gaps.append((uploaded - completed_at(sim, before)) * 1000)
    return gaps


async def discord(tmp: Path, *, jobs: int, run_time: float) -> list[float]:
    fake = FakeDiscord()
    await fake.start()
    try:
        async with running_fal_simulator() as sim:
            sim.run_time = run_time
            env = Env(fake=fake, sim=sim, db=tmp / "discord.db")
            try:
                await env.start_bot(settings={"FALBOT_PROGRESS_INTERVAL": INTERVAL})

                async def run_one(i: int) -> float:
                    prompt = p.option("prompt", p.STRING, f"bench job {i}")
                    issued = await env.slash(env.alice, "imagine", options=[prompt])
                    upload = await env.fake.wait_for(
                        lambda r: r.method == "PATCH" and issued.token in r.path and bool(r.files),
                        timeout=60,
                    )
                    return upload.at

                return await timed_jobs(sim, jobs, run_one)
            finally:
                await env.close()
    finally:
        await fake.close()
        point_discord_at(api_url=None, gateway_url=None)


async def slack(tmp: Path, *, jobs: int, run_time: float) -> list[float]:
    fake = new_fake()
    await fake.start()
    try:
        async with running_fal_simulator() as sim:
            sim.run_time = run_time
            stack = await SlackStack.open(
                fake, sim, tmp / "slack.db", settings={"FALBOT_PROGRESS_INTERVAL": INTERVAL}
            )
            try:

                async def run_one(i: int) -> float:
                    await stack.command("/imagine", f"bench job {i}")
                    upload: Call = await fake.wait_for(
                        "files.getUploadURLExternal", count=i + 1, timeout=60
                    )
                    return upload.at

                return await timed_jobs(sim, jobs, run_one)
            finally:
                await stack.close()
    finally:
        await fake.close()


def report(platform: str, gaps: list[float]) -> None:
    print(
        f"{platform:8} fal completed → upload call: p50 {statistics.median(gaps):6.1f} ms, "
        f"max {max(gaps):6.1f} ms over {len(gaps)} jobs (target p50 ≤ 100 ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--run-time", type=float, default=2.0, help="seconds at fal per job")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report("Discord", await discord(Path(tmp), jobs=args.jobs, run_time=args.run_time))
        report("Slack", await slack(Path(tmp), jobs=args.jobs, run_time=args.run_time))


if __name__ == "__main__":
    asyncio.run(main())
