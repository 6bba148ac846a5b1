"""CPU per job, end to end: prints figures, asserts nothing. `make bench-cpu` or
`python bench/cpu_per_job.py [--jobs 200] [--runs 3] [--profile]`.

`falbot run` is a child process, started as a deployment starts it, on SQLite, talking to the
fake Discord (REST, gateway, CDN; tests/fakes/discord) and the fal simulator (adapters/fal/sim),
both in this process. Users send `/imagine` through real interactions on the fake gateway at a
steady rate; each job is done when the fake Discord receives the edit that carries its image.
The figure is the child's own CPU time (user + system, every thread and any child process of its
own, read from /proc) from the first measured interaction to the last result, divided by the
number of jobs: the fakes' and the simulator's CPU is not in it. A few warm-up jobs run first
(imports and caches a long-running process has already paid for).

With `--profile` the child runs under cProfile (enabled for the measured jobs only, on the event
loop's thread) and the top functions by cumulative and by own time are printed. The profiler
slows the child several times over: its CPU figure is not the one to report.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import signal
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.fal.simulator import FalSimulator
from tests.e2e.process import FalbotProcess, free_port
from tests.e2e.support import (
    discord_env,
    running_discord,
    running_simulator,
    sync_discord_commands,
)
from tests.fakes.discord import FakeDiscord, Issued, Recorded
from tests.fakes.discord import payloads as p

ROOT = Path(__file__).resolve().parents[1]
USERS = ("ada", "ben", "cyd", "dee", "eve")
TICK = os.sysconf("SC_CLK_TCK")
PROFILED = [sys.executable, str(ROOT / "bench" / "profiled_run.py")]


@dataclass(frozen=True)
class Cpu:
    """CPU seconds of a process: its event loop's thread, its other threads, its children."""

    loop: float
    threads: float
    children: float
    system: float  # of the three, in the kernel (the process's own threads)

    @property
    def total(self) -> float:
        return self.loop + self.threads + self.children

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(
            self.loop - other.loop,
            self.threads - other.threads,
            self.children - other.children,
            self.system - other.system,
        )


def _stat(path: Path) -> list[str]:
    # The fields after the command name, which is in parentheses and may hold spaces.
    return path.read_text().rsplit(")", 1)[1].split()


def _ticks(fields: list[str], *, waited: bool = False) -> int:
    # utime, stime (fields 14, 15), and cutime, cstime (16, 17) of children already waited for.
    used = int(fields[11]) + int(fields[12])
    return used + (int(fields[13]) + int(fields[14]) if waited else 0)


def _descendants(pid: int) -> Iterable[int]:
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            yield int(child)
            yield from _descendants(int(child))


def cpu_of(pid: int) -> Cpu:
    """The process's CPU so far, from /proc (clock ticks, 10 ms)."""
    fields = _stat(Path(f"/proc/{pid}/stat"))
    total = _ticks(fields)  # every thread's, ended ones too
    loop = _ticks(_stat(Path(f"/proc/{pid}/task/{pid}/stat")))
    children = _ticks(fields, waited=True) - total
    for child in set(_descendants(pid)):
        try:
            children += _ticks(_stat(Path(f"/proc/{child}/stat")))
        except OSError:  # it ended just now
            continue
    system = int(fields[12])
    return Cpu(loop / TICK, (total - loop) / TICK, children / TICK, system / TICK)


class Run:
    """Users' /imagine on the fake Discord, and their results."""

    def __init__(self, fake: FakeDiscord, rate: float) -> None:
        self.fake = fake
        self.rate = rate
        self.sent = 0

    async def jobs(self, count: int) -> float:
        """Send `count` /imagine at `rate` per second; wait for each result; the wall time."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        waits: list[asyncio.Task[Recorded]] = []
        for i in range(count):
            issued = await self._imagine()
            waits.append(asyncio.create_task(self._result(issued)))
            await asyncio.sleep(max(0.0, start + (i + 1) / self.rate - loop.time()))
        await asyncio.gather(*waits)
        return loop.time() - start

    async def _imagine(self) -> Issued:
        n = self.sent
        self.sent += 1
        person = self.fake.people[USERS[n % len(USERS)]]
        options = [p.option("prompt", p.STRING, f"a lighthouse at dusk, take {n}")]
        return await self.fake.send_interaction(self.fake.slash(person, "imagine", options))

    async def _result(self, issued: Issued) -> Recorded:
        token = issued.token
        return await self.fake.wait_for(
            lambda r: r.method == "PATCH" and token in r.path and r.status == 200 and bool(r.files),
            timeout=300,
        )


async def one_run(
    tmp: Path,
    sim: FalSimulator,
    *,
    jobs: int,
    warmup: int,
    rate: float,
    profile: Path | None,
    sample: Path | None,
    webhook: bool = False,
) -> tuple[Cpu, float]:
    async with running_discord(USERS) as fake:
        db = tmp / f"falbot-{os.getpid()}-{free_port()}.db"
        port = free_port()
        env = discord_env(sim, fake, db, port)
        if webhook:  # fal calls falbot back (over loopback) instead of being watched
            env["FALBOT_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
            env["FALBOT_FAL_JWKS_URL"] = sim.jwks_url
        env.pop("FALBOT_PROGRESS_INTERVAL")  # the default, 1.5 s
        env["FALBOT_MAX_CONCURRENCY"] = "10"
        env["FALBOT_MAX_JOBS_PER_USER"] = "1000"
        env["FALBOT_QUOTA_CAPACITY"] = "1000000"
        await sync_discord_commands(env, tmp)
        profiled = profile or sample
        if profiled is not None:
            env["FALBOT_BENCH_PROFILE"] = str(profiled)
            env["FALBOT_BENCH_PROFILER"] = "cprofile" if profile is not None else "sample"
        proc = FalbotProcess(env, cwd=tmp, command=PROFILED if profiled is not None else None)
        await proc.start()
        try:
            run = Run(fake, rate)
            try:
                await run.jobs(warmup)
            except TimeoutError:
                said = proc.tail()
                raise SystemExit(f"the warm-up jobs did not finish; falbot said:\n{said}") from None
            if profiled is not None:
                os.kill(proc.pid, signal.SIGUSR1)
            mark, fal_before, logged = fake.mark(), Counter(sim.http_by_route), len(proc.raw_lines)
            before = cpu_of(proc.pid)
            wall = await run.jobs(jobs)
            used = cpu_of(proc.pid) - before
            discord_routes = Counter(r.route for r in fake.requests[mark:])
            print_requests("Discord", discord_routes, jobs)
            print_requests("fal", Counter(sim.http_by_route) - fal_before, jobs)
            print(f"  log lines per job: {(len(proc.raw_lines) - logged) / jobs:.2f}")
            if profiled is not None:
                os.kill(proc.pid, signal.SIGUSR2)
                saved = await proc.wait_for_line(
                    lambda line: line.get("event") == "profile saved", within=30
                )
                calls = Counter(saved.get("database_calls", {}))
                print_requests("aiosqlite", calls, jobs, what="calls (thread round trips)")
            await proc.terminate(within=15)
        finally:
            await proc.close()
        return used, wall


# Where a sampled stack's CPU went: the first part whose marks one of its frames carries.
PARTS = (
    ("garbage collection", ("[garbage collection",)),
    ("logging (JSON lines)", ("logging/__init__", "logging_setup", "job_log.py")),
    ("SQLite (aiosqlite, the store)", ("aiosqlite", "adapters/sqlite")),
    ("fal: submit (fal-client, httpx)", ("FalClientGateway.submit",)),
    ("fal: status stream (httpx)", ("FalClientGateway.watch", "FalClientGateway._stream")),
    ("fal: result (httpx)", ("FalClientGateway.result",)),
    ("fal: output download (httpx)", ("FalClientGateway.download",)),
    (
        "Discord: REST edits and callback (aiohttp)",
        ("discord/webhook", "discord/http.py", "DiscordReply", "aiohttp", "edit_original"),
    ),
    ("Discord: gateway events in", ("discord/gateway.py", "discord/state.py")),
    ("Discord: the command (discord.py, intake)", ("discord/app_commands", "adapters/discord")),
    ("metrics", ("prometheus", "bot/metrics")),
    ("core (engine, line, pricing)", ("/core/",)),
)


def part_of(frames: list[str]) -> str:
    for name, marks in PARTS:
        if any(mark in frame for frame in frames for mark in marks):
            return name
    return "event loop itself and other threads (aiosqlite's)"


def print_requests(where: str, routes: Counter[str], jobs: int, what: str = "requests") -> None:
    each = ", ".join(f"{n / jobs:.2g} {route}" for route, n in routes.most_common())
    print(f"  {where} {what} per job: {sum(routes.values()) / jobs:.2f} ({each})")


def print_samples(path: Path, top: int, ms_per_job: float) -> None:
    """The samples as shares of the measured CPU per job: by the component whose code was
    running (own), and by the falbot or library function somewhere on the stack (inclusive)."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    parts: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        leaf = frames[-1]
        name = component(leaf.rpartition("(")[2].rpartition(":")[0] if "(" in leaf else leaf)
        own[name] = own.get(name, 0) + n
        for frame in set(frames[1:]):
            inclusive[frame] = inclusive.get(frame, 0) + n
        parts[part_of(frames)] = parts.get(part_of(frames), 0) + n
    if not total:
        print("py-spy took no samples")
        return
    scale = ms_per_job / total
    print("\n--- by part of the job, ms/job ---")
    for name, n in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"{n * scale:8.2f}  {name}")
    print(f"\n--- own CPU by component, ms/job (sampled {total / 1e6:.2f} s of CPU) ---")
    for name, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{n * scale:8.2f}  {name}")
    print(f"\n--- inclusive, ms/job: the {top} heaviest functions on the stack ---")
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{n * scale:8.2f}  {frame.replace(str(ROOT) + '/', '')[:150]}")


def component(filename: str) -> str:
    """The package (or falbot's module) a profiled function's file belongs to."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith(str(ROOT)):
        parts = Path(filename).relative_to(ROOT).parts
        return "/".join(parts[:2]) if parts[0] == "adapters" else "/".join(parts[:1]) + "/"
    if filename.startswith("[") or not filename:
        return filename or "?"
    if filename.startswith("<frozen") or filename == "~":
        return "builtins, C calls" if filename == "~" else filename
    return "stdlib " + Path(filename).stem


def print_profile(path: Path, top: int, jobs: int) -> None:
    stats = pstats.Stats(str(path))
    own: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        own[component(filename)] = own.get(component(filename), 0.0) + tottime
    print("\n--- own CPU by component, ms/job (event loop's thread, profiler's overhead in) ---")
    for name, seconds in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{1000 * seconds / jobs:8.2f}  {name}")
    stats.strip_dirs()
    for order in ("cumulative", "tottime"):
        print(f"\n--- top {top} by {order} (event loop's thread only) ---")
        stats.sort_stats(order).print_stats(top)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200, help="measured jobs per run")
    parser.add_argument("--warmup", type=int, default=10, help="jobs before measuring")
    parser.add_argument("--runs", type=int, default=3, help="falbot processes, one after another")
    parser.add_argument(
        "--rate", type=float, default=5.0, help="interactions per second (half of C/L)"
    )
    parser.add_argument("--run-time", type=float, default=1.0, help="seconds at fal per job")
    parser.add_argument(
        "--webhook", action="store_true", help="with FALBOT_PUBLIC_URL: fal's webhooks, no stream"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the measured jobs")
    parser.add_argument("--top", type=int, default=40, help="functions shown with --profile")
    parser.add_argument("--save", type=Path, help="keep the pstats or py-spy file here")
    parser.add_argument(
        "--sample", action="store_true", help="sample the measured jobs' stacks on CPU time"
    )
    args = parser.parse_args()
    runs = 1 if args.profile or args.sample else args.runs
    per_job: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with running_simulator(run_time=args.run_time) as sim:
            for i in range(runs):
                profile = (args.save or Path(tmp) / "falbot.prof") if args.profile else None
                sample = (args.save or Path(tmp) / "falbot.spy") if args.sample else None
                used, wall = await one_run(
                    Path(tmp),
                    sim,
                    jobs=args.jobs,
                    warmup=args.warmup,
                    rate=args.rate,
                    profile=profile,
                    sample=sample,
                    webhook=args.webhook,
                )
                ms = 1000 * used.total / args.jobs
                per_job.append(ms)
                each = 1000 / args.jobs
                print(
                    f"run {i + 1}: {args.jobs} jobs in {wall:.1f} s; falbot CPU "
                    f"{used.total:.2f} s = {ms:.1f} ms/job (event loop {each * used.loop:.1f}, "
                    f"other threads {each * used.threads:.1f}, "
                    f"child processes {each * used.children:.1f}; "
                    f"in the kernel {each * used.system:.1f})",
                    flush=True,
                )
                if profile is not None:
                    print_profile(profile, args.top, args.jobs)
                if sample is not None:
                    print_samples(sample, args.top, ms)
    if len(per_job) > 1:
        print(
            f"CPU per job over {len(per_job)} runs: median {statistics.median(per_job):.1f} ms, "
            f"min {min(per_job):.1f}, max {max(per_job):.1f} (target ≤ 10 ms)"
        )


if __name__ == "__main__":
    asyncio.run(main())
