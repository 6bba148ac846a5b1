"""Engine benchmark: prints figures, asserts nothing. `make bench` or `python bench/engine.py`.

Against the fal simulator (in a child process, so the figures are the engine's own) with fal
latency L and C slots:
  1. throughput: jobs/s against the ideal C/L, and engine CPU ms per job;
  2. admission latency p50/p99 with 1,000 jobs already waiting;
  3. fal HTTP requests for one 20 s job (status stream, not polling);
  4. RSS added by 10,000 waiting jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.fal.gateway import FalClientGateway
from adapters.fal.hosts import point_fal_client_at
from adapters.sqlite.store import SqliteStore
from bot.clock import SystemClock
from core.engine import Engine, EngineConfig
from core.jobs import Actor, JobKind, Output
from core.model_table import build_catalog
from core.ports import FalStatus
from core.quota import BucketLimits
from tests.fakes.asking import Ask, submit
from tests.fakes.reply import RecordingReply, RecordingReplyFactory

KEY = "bench-key"


def _simulator_process(conn: Connection, run_time: float) -> None:
    """The simulator in its own process; answers `stats` and `stop` over the pipe."""
    from adapters.fal.simulator import FalSimulator

    async def main() -> None:
        sim = FalSimulator(key=KEY)
        sim.run_time = run_time
        sim.log_lines = ["step"]
        await sim.start()
        conn.send((sim.queue_url, sim.rest_url, sim.cdn_url))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "stats":
                conn.send(
                    {
                        "peak": sim.peak_in_flight,
                        "by_request": {k: dict(v) for k, v in sim.http_by_request.items()},
                    }
                )
            elif command == "stop":
                break
        await sim.close()

    asyncio.run(main())


class Child:
    def __init__(self, run_time: float) -> None:
        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("spawn").Process(
            target=_simulator_process, args=(child, run_time), daemon=True
        )
        self.proc.start()
        queue, rest, cdn = self.conn.recv()
        point_fal_client_at(queue_url=queue, rest_url=rest, cdn_url=cdn)

    def stats(self) -> dict[str, Any]:
        self.conn.send("stats")
        return self.conn.recv()  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.conn.send("stop")
        self.proc.join(10)


def config(concurrency: int, **extra: Any) -> EngineConfig:
    return EngineConfig(
        default_limits=BucketLimits(Decimal(10**9), Decimal(0)),
        max_concurrency=concurrency,
        max_in_flight_per_user=10**6,
        max_waiting=10**6,
        progress_interval=1.5,
        **extra,
    )


async def engine_on(fal: Any, db: Path, concurrency: int) -> tuple[Engine, SqliteStore]:
    store = await SqliteStore.open(db)
    engine = Engine(
        store=store,
        fal=fal,
        clock=SystemClock(),
        catalog=build_catalog(),
        config=config(concurrency),
    )
    engine.add_reply_factory(RecordingReplyFactory())
    await engine.start()
    return engine, store


def job(i: int, users: int = 50) -> Ask:
    return Ask(Actor("bench", "w1", f"u{i % users}"), "flux-schnell", {"prompt": f"bench job {i}"})


async def throughput(tmp: Path, *, latency: float, slots: int, jobs: int) -> None:
    child = Child(latency)
    fal = FalClientGateway(key=KEY)
    engine, store = await engine_on(fal, tmp / "throughput.db", slots)
    try:
        replies = [RecordingReply() for _ in range(jobs)]
        results: list[float] = []
        fetch = fal.result

        async def timed_result(endpoint: str, request_id: str) -> dict[str, Any]:
            data = await fetch(endpoint, request_id)
            results.append(time.perf_counter())
            return data

        fal.result = timed_result  # type: ignore[method-assign]
        cpu0, t0 = time.process_time(), time.perf_counter()
        for i, reply in enumerate(replies):
            await submit(engine, job(i), reply)
        for reply in replies:
            await reply.wait(600)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        ok = sum(r.delivery is not None for r in replies)
        ideal = slots / latency
        rate = ok / wall
        span = max(results) - t0
        print(
            f"throughput through fal: {len(results)} results in {span:.2f} s = "
            f"{len(results) / span:.2f} jobs/s; ideal C/L = {slots}/{latency} = "
            f"{ideal:.2f} jobs/s -> {100 * len(results) / span / ideal:.1f}% of C/L"
        )
        print(
            f"end to end, until the last reply (which waits out its {1.5} s edit throttle): "
            f"{ok} in {wall:.2f} s = {rate:.2f} jobs/s -> {100 * rate / ideal:.1f}% of C/L"
        )
        print(
            f"engine CPU: {1000 * cpu / ok:.2f} ms per job ({cpu:.2f} s for {ok} jobs,"
            f" incl. fetching each PNG from the simulator)"
        )
        print(f"peak jobs at the simulator: {child.stats()['peak']} (C = {slots})")
    finally:
        await engine.stop()
        await store.close()
        await fal.aclose()
        child.stop()


class HeldGateway:
    """Submits never return: the slots fill and everything else waits in line."""

    async def submit(
        self,
        endpoint: str,
        arguments: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        private: bool = False,
    ) -> str:
        await asyncio.Event().wait()
        raise AssertionError

    def watch(self, endpoint: str, request_id: str) -> AsyncIterator[FalStatus]:
        raise NotImplementedError

    async def status(self, endpoint: str, request_id: str) -> FalStatus:
        raise NotImplementedError

    async def result(self, endpoint: str, request_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def read_output(
        self, kind: JobKind, data: Mapping[str, Any]
    ) -> tuple[tuple[Output, ...], int | None]:
        raise NotImplementedError

    async def cancel(self, endpoint: str, request_id: str) -> bool:
        return False

    async def upload(self, data: bytes, content_type: str) -> str:
        raise NotImplementedError

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        raise NotImplementedError


def cpu_ticks() -> list[int] | None:
    """The machine's CPU time so far by kind (Linux `/proc/stat`), or None elsewhere."""
    try:
        return [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None


def steal_note(before: list[int] | None, after: list[int] | None) -> str:
    """How much CPU the host took from this VM meanwhile: a latency tail's usual cause here."""
    if before is None or after is None or len(before) < 8:
        return ""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(spent) or 1
    return f"; host steal {100 * spent[7] / total:.0f}%, busy {100 - 100 * spent[3] / total:.0f}%"


async def admission(tmp: Path, *, waiting: int, samples: int) -> None:
    engine, store = await engine_on(HeldGateway(), tmp / "admission.db", 10)
    try:
        for i in range(waiting):
            await submit(engine, job(i), RecordingReply())
        timings = []
        ticks = cpu_ticks()
        for i in range(samples):
            t0 = time.perf_counter()
            await submit(engine, job(waiting + i), RecordingReply())
            timings.append((time.perf_counter() - t0) * 1000)
        note = steal_note(ticks, cpu_ticks())
        timings.sort()
        p50 = statistics.median(timings)
        p99 = timings[int(len(timings) * 0.99) - 1]
        print(
            f"admission with {engine.waiting - samples} waiting: p50 {p50:.2f} ms, "
            f"p99 {p99:.2f} ms over {samples} submits (SQLite file, WAL{note})"
        )
    finally:
        await engine.stop()
        await store.close()


async def requests_per_job(tmp: Path, *, seconds: float) -> None:
    child = Child(seconds)
    fal = FalClientGateway(key=KEY)
    engine, store = await engine_on(fal, tmp / "requests.db", 1)
    try:
        reply = RecordingReply()
        submitted = await submit(engine, job(0), reply)
        await reply.wait(seconds + 30)
        stored = await store.get_job(submitted.id)
        assert stored is not None and stored.request_id is not None
        counts = child.stats()["by_request"][stored.request_id]
        print(
            f"fal HTTP requests for one {seconds:.0f} s job: {sum(counts.values())} {counts}"
            f" (+1 CDN download of the output)"
        )
    finally:
        await engine.stop()
        await store.close()
        await fal.aclose()
        child.stop()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def memory(tmp: Path, *, waiting: int) -> None:
    engine, store = await engine_on(HeldGateway(), tmp / "memory.db", 10)
    try:
        for i in range(200):  # warm up: imports, caches, the first pages of the database
            await submit(engine, job(i), RecordingReply())
        before = rss_mb()
        for i in range(waiting):
            await submit(engine, job(200 + i), RecordingReply())
        after = rss_mb()
        print(
            f"RSS: {before:.1f} MB -> {after:.1f} MB with {engine.waiting} waiting: "
            f"+{after - before:.1f} MB for {waiting} jobs"
        )
    finally:
        await engine.stop()
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=1.0, help="fal latency L, seconds")
    parser.add_argument("--slots", type=int, default=10, help="C, max_concurrency")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--long-job", type=float, default=20.0)
    parser.add_argument(
        "--only",
        choices=("throughput", "admission", "requests", "memory"),
        action="append",
        help="run just this benchmark (may be given more than once)",
    )
    parser.add_argument("--samples", type=int, default=500, help="admission submits timed")
    args = parser.parse_args()
    chosen = set(args.only or ("throughput", "admission", "requests", "memory"))
    with tempfile.TemporaryDirectory() as tmp:
        if "throughput" in chosen:
            await throughput(Path(tmp), latency=args.latency, slots=args.slots, jobs=args.jobs)
        if "admission" in chosen:  # 10 of the waiting go to the slots
            await admission(Path(tmp), waiting=1010, samples=args.samples)
        if "requests" in chosen:
            await requests_per_job(Path(tmp), seconds=args.long_job)
        if "memory" in chosen:
            await memory(Path(tmp), waiting=10_000)


if __name__ == "__main__":
    asyncio.run(main())
