"""Shared-line benchmark on PostgreSQL: prints figures, asserts nothing.
`make bench-shared` or `python bench/shared_line.py`.

It makes a database of its own on `--server` (default: postgres at 127.0.0.1:5432, trust auth)
and drops it at the end. falbot is 1, 2 and 4 engines, each in an OS process of its own with its
own asyncpg pool and instance name, sharing the line and the C = `--slots` fal slots through the
database (`Engine(line_store=…)`, as `falbot run` builds it on PostgreSQL: claims, leases,
LISTEN/NOTIFY). fal is the simulator in a process of its own, every request running
L = `--latency` seconds, reached through fal-client (`--fal sim`), or fal in each engine's own
process (`--fal fake`: a request completes L seconds after its submit; no HTTP, no simulator).
Each process admits its share of `--jobs` jobs from 50 users into the line while no slot is
free anywhere, then every process claims at once (after a first round of 2×C jobs that warms
them up); whichever process claims a job runs it.

  1. throughput through fal: jobs completed at the simulator from its first submit to its last
     completion, against the ideal C/L (and C over the mean time a request really spent there);
  2. claim latency, from a slot freed to the next job submitted, p50/p99, three ways:
     - slot freed in the database (the `free_slot` transaction committed, any process) → the
       submit that used it reaching the simulator;
     - fal completed the request (simulator) → the submit that used its slot reaching the
       simulator (adds noticing the end on the status stream and freeing the slot);
     - each process's own `SharedLine.claim_latencies` (a wake-up → the claim it led to).
     The k-th slot freed is paired with the (C+k)-th submit, in time order: the line never has
     more than C jobs at fal, so the (C+k)-th submit cannot start before the k-th slot is free;
  3. fal requests per job (by route) and database round trips per job, by store method
     (each asyncpg query is one round trip: BEGIN, every statement, COMMIT, and the pool's reset
     query when a connection goes back), with transactions per job from `pg_stat_database`;
  4. admission p50/p99 with `--waiting` jobs waiting in the shared line (fal never answers a
     submit, so the C slots stay taken).

For a closer look: BENCH_DUMP=<file> writes each run's raw times as JSON, BENCH_PROFILE=<prefix>
writes each engine process's CPU profile (cProfile) to <prefix>.<process>.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import cProfile
import inspect
import json
import multiprocessing as mp
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.fal.gateway import FalClientGateway
from adapters.fal.hosts import point_fal_client_at
from adapters.postgres import TABLES, PostgresStore
from bench.engine import HeldGateway, cpu_ticks, steal_note
from bot.clock import SystemClock
from core.config import EngineConfig
from core.engine import Engine
from core.jobs import Actor
from core.model_table import build_catalog
from core.quota import BucketLimits
from tests.fakes.asking import Ask, submit
from tests.fakes.fal import FakeFal
from tests.fakes.reply import RecordingReply, RecordingReplyFactory

KEY = "bench-key"
SERVER = os.environ.get("FALBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
USERS = 50

# ---- counting the database's round trips, by the store method that made them

_method: contextvars.ContextVar[str] = contextvars.ContextVar("method", default="(outside)")


def count_round_trips() -> Counter[str]:
    """From now on in this process, count each asyncpg query (one round trip each; a first
    use of a statement on a connection also prepares it, not counted) by store method."""
    counts: Counter[str] = Counter()
    cls = asyncpg.connection.Connection
    execute, inner, many = cls.execute, cls._execute, cls._executemany

    async def counted_execute(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        if not args:  # the simple protocol; with arguments it goes through `_execute`
            counts[_method.get()] += 1
        return await execute(self, query, *args, **kw)

    async def counted_inner(self: Any, *args: Any, **kw: Any) -> Any:
        counts[_method.get()] += 1
        return await inner(self, *args, **kw)

    async def counted_many(self: Any, *args: Any, **kw: Any) -> Any:
        counts[_method.get()] += 1
        return await many(self, *args, **kw)

    cls.execute = counted_execute  # type: ignore[method-assign]
    cls._execute = counted_inner  # type: ignore[method-assign]
    cls._executemany = counted_many  # type: ignore[method-assign]
    return counts


class _Named:
    """An async context manager (`store.admission(...)`) whose queries count as `name`."""

    def __init__(self, inner: Any, name: str) -> None:
        self._inner, self._name = inner, name

    async def __aenter__(self) -> Any:
        self._token = _method.set(self._name)
        return await self._inner.__aenter__()

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._inner.__aexit__(*exc)
        finally:
            _method.reset(self._token)


def name_store_methods(store: PostgresStore, calls: Counter[str]) -> None:
    """Every public method of `store` counts its calls, and its queries under its name."""
    for name in dir(store):
        attr = getattr(store, name)
        if name.startswith("_") or not callable(attr) or name in ("open", "serve_as"):
            continue
        if inspect.iscoroutinefunction(attr):

            async def method(*args: Any, _f: Any = attr, _n: str = name, **kw: Any) -> Any:
                calls[_n] += 1
                token = _method.set(_n)
                try:
                    return await _f(*args, **kw)
                finally:
                    _method.reset(token)

            setattr(store, name, method)
        elif name == "admission":

            def opened(*args: Any, _f: Any = attr, _n: str = name, **kw: Any) -> _Named:
                calls[_n] += 1
                return _Named(_f(*args, **kw), _n)

            setattr(store, name, opened)


# ---- the processes: the simulator, and the engines


def _simulator_process(conn: Connection, *, run_time: float) -> None:
    from adapters.fal.simulator import FalSimulator

    async def main() -> None:
        sim = FalSimulator(key=KEY)
        sim.run_time = run_time
        sim.log_lines = ["step"]
        await sim.start()
        conn.send((sim.queue_url, sim.rest_url, sim.cdn_url))
        loop = asyncio.get_running_loop()
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            assert command == "stats"
            conn.send(
                {
                    "peak": sim.peak_in_flight,
                    "requests": [
                        (r.id, r.submitted_at, r.completed_at) for r in sim.requests.values()
                    ],
                    "by_request": {k: dict(v) for k, v in sim.http_by_request.items()},
                    "by_route": dict(sim.http_by_route),
                    "cpu": time.process_time(),
                }
            )
        await sim.close()

    asyncio.run(main())


class TimedFal(FakeFal):
    """fal in the engine's own process (`--fal fake`): every request completes `latency`
    seconds after its submit, with no HTTP and no simulator: what is left is falbot's own."""

    def __init__(self, latency: float) -> None:
        super().__init__(auto_finish=False)
        self.latency = latency
        self.times: dict[str, list[float | None]] = {}

    async def submit(self, endpoint: str, arguments: Any, **options: Any) -> str:
        request_id = await super().submit(endpoint, arguments, **options)
        self.times[request_id] = [time.monotonic(), None]
        asyncio.get_running_loop().call_later(self.latency, self._complete, request_id)
        return request_id

    def _complete(self, request_id: str) -> None:
        self.times[request_id][1] = time.monotonic()
        self.finish(request_id)


def _engine_process(
    conn: Connection,
    *,
    dsn: str,
    urls: tuple[str, str, str] | None,
    index: int,
    slots: int,
    latency: float,
) -> None:
    if urls is not None:
        queue, rest, cdn = urls
        point_fal_client_at(queue_url=queue, rest_url=rest, cdn_url=cdn)
    round_trips = count_round_trips()
    calls: Counter[str] = Counter()

    async def main() -> None:
        store = await PostgresStore.open(dsn)
        store.serve_as(f"bench-{index}", lease_seconds=15)
        frees: list[float] = []
        claims: list[float] = []
        attempts: list[Any] = []
        free_slot, claim_next = store.free_slot, store.claim_next

        async def timed_free(job_id: str) -> None:
            await free_slot(job_id)
            frees.append(time.monotonic())  # committed: any process may claim it now

        async def timed_claim(*, limit: int) -> str | None:
            t0 = time.monotonic()
            job_id = await claim_next(limit=limit)
            attempts.append((t0, time.monotonic(), job_id is not None, limit))
            if job_id is not None:
                claims.append(time.monotonic())
            return job_id

        store.free_slot = timed_free  # type: ignore[method-assign]
        store.claim_next = timed_claim  # type: ignore[method-assign]
        name_store_methods(store, calls)
        fal: FalClientGateway | TimedFal = (
            TimedFal(latency) if urls is None else FalClientGateway(key=KEY)
        )
        engine = Engine(
            store=store,
            fal=fal,
            clock=SystemClock(),
            catalog=build_catalog(),
            config=config(slots),
            line_store=store,
        )
        engine.add_reply_factory(RecordingReplyFactory())
        await engine.start()
        line = engine.shared_line
        assert line is not None
        conn.send("ready")
        loop = asyncio.get_running_loop()
        cpu0 = time.process_time()
        trips0: Counter[str] = Counter()
        calls0: Counter[str] = Counter()
        profile = cProfile.Profile(time.process_time) if os.environ.get("BENCH_PROFILE") else None
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            if command[0] == "admit":  # into the line, none claimed yet (no slot anywhere)
                line.limit = 0
                for i in command[1]:
                    await submit(engine, job(i), RecordingReply())
                conn.send("admitted")
            elif command == "warm":
                line.limit = slots
                line.wake()
                conn.send("going")
            elif command == "go":  # the clock starts: every process claims what it can
                cpu0, trips0, calls0 = time.process_time(), Counter(round_trips), Counter(calls)
                for kept in (frees, claims, attempts, line.claim_latencies):
                    kept.clear()
                if isinstance(fal, TimedFal):
                    fal.times.clear()
                line.limit = slots
                line.wake()
                if profile is not None:
                    profile.enable()
                conn.send("going")
            elif command == "stats":
                if profile is not None:
                    profile.disable()
                    profile.dump_stats(f"{os.environ['BENCH_PROFILE']}.{index}")
                conn.send(
                    {
                        "claimed": line.claimed,
                        "claim_latencies": list(line.claim_latencies),
                        "frees": frees,
                        "claims": claims,
                        "attempts": attempts,
                        "round_trips": dict(round_trips - trips0),
                        "calls": dict(calls - calls0),
                        "cpu": time.process_time() - cpu0,
                        "fal": fal_times(fal),
                    }
                )
        await engine.drain(grace=5)
        await store.close()
        if isinstance(fal, FalClientGateway):
            await fal.aclose()
        conn.send("stopped")

    with runner() as loop:  # the event loop `falbot run` serves on
        loop.run(main())


def runner() -> asyncio.Runner:
    """uvloop's event loop where it is installed, as `falbot run` uses (bot/cli.py)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def fal_times(fal: Any) -> list[tuple[str, float, float | None]] | None:
    """(request, submitted, completed) of every request the in-process fal took."""
    if not isinstance(fal, TimedFal):
        return None
    return [(rid, t[0], t[1]) for rid, t in fal.times.items() if t[0] is not None]


def config(slots: int) -> EngineConfig:
    return EngineConfig(
        default_limits=BucketLimits(Decimal(10**9), Decimal(0)),
        max_concurrency=slots,
        max_in_flight_per_user=10**6,
        max_waiting=10**6,
        progress_interval=1.5,
    )


def job(i: int) -> Ask:
    return Ask(Actor("console", "w1", f"u{i % USERS}"), "flux-schnell", {"prompt": f"bench {i}"})


class Child:
    """A spawned process and the pipe to it."""

    def __init__(self, target: Callable[..., None], **kwargs: Any) -> None:
        self.conn, theirs = mp.Pipe()
        self.proc = mp.get_context("spawn").Process(
            target=target, args=(theirs,), kwargs=kwargs, daemon=True
        )
        self.proc.start()

    async def recv(self, within: float = 120) -> Any:
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(None, self.conn.poll, within)
        if not ready:
            raise TimeoutError(f"process {self.proc.pid} did not answer in {within} s")
        return self.conn.recv()

    async def ask(self, command: Any, within: float = 120) -> Any:
        self.conn.send(command)
        return await self.recv(within)

    async def stop(self) -> None:
        if self.proc.is_alive():
            try:
                await self.ask("stop", within=30)
            except (TimeoutError, EOFError, OSError):
                pass
        await asyncio.get_running_loop().run_in_executor(None, self.proc.join, 10)
        if self.proc.is_alive():
            self.proc.kill()


# ---- the database


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


@asynccontextmanager
async def bench_database(server: str) -> AsyncIterator[str]:
    """A database of the benchmark's own, migrated; dropped at the end."""
    name = f"falbot_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            dsn = with_database(server, name)
            store = await PostgresStore.open(dsn, max_size=1)
            await store.close()
            yield dsn
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def empty(dsn: str) -> None:
    db = await asyncpg.connect(dsn)
    try:
        await db.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    finally:
        await db.close()


async def commits(db: asyncpg.Connection[asyncpg.Record]) -> int:
    """Transactions committed in this database so far (one more: this query's own)."""
    await db.execute("SELECT pg_stat_clear_snapshot()")
    value = await db.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    return int(value)


# ---- figures


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ms(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    got = [1000 * v for v in values]
    return (
        f"p50 {statistics.median(got):.1f} ms, p99 {pct(got, 0.99):.1f} ms, max {max(got):.1f} ms"
    )


def gaps(freed: Sequence[float], submits: Sequence[float], slots: int) -> list[float]:
    """The k-th slot freed paired with the (slots + k)-th submit (both in time order)."""
    later = sorted(submits)[slots:]
    return [s - f for f, s in zip(sorted(freed), later, strict=False)]


async def throughput(
    dsn: str, *, fal_kind: str, processes: int, latency: float, slots: int, jobs: int
) -> None:
    await empty(dsn)
    sim = Child(_simulator_process, run_time=latency) if fal_kind == "sim" else None
    workers: list[Child] = []
    watcher = await asyncpg.connect(dsn)
    try:
        urls = None if sim is None else await sim.recv()
        workers = [
            Child(_engine_process, dsn=dsn, urls=urls, index=i, slots=slots, latency=latency)
            for i in range(processes)
        ]
        for worker in workers:
            assert await worker.recv() == "ready"
        # A first round warms every process up (its pool's connections, their prepared
        # statements, the code's first runs), as in a process that has been running a while.
        within = 60 + 3 * latency * jobs / slots  # three times the ideal, and a minute
        await run_jobs(
            workers, watcher, range(jobs, jobs + 2 * slots), measured=False, within=within
        )
        load = os.getloadavg()[0]
        ticks = cpu_ticks()
        commits0 = await commits(watcher)
        warm = {} if sim is None else await sim.ask("stats")
        started = time.monotonic()
        polls = await run_jobs(workers, watcher, range(jobs), measured=True, within=within)
        stats = [await worker.ask("stats") for worker in workers]
        for worker in workers:
            await worker.stop()
        # Less the watcher's own: the read of commits0, the polls and the last look.
        committed = await commits(watcher) - commits0 - polls - 4
        delivered = await watcher.fetchval("SELECT count(*) FROM jobs WHERE state = 'delivered'")
        note = f"load {load:.1f}{steal_note(ticks, cpu_ticks())}"
        if sim is None:
            fal: dict[str, Any] = {"requests": [r for s in stats for r in s["fal"]], "cpu": 0.0}
        else:
            fal = await sim.ask("stats")
            fal["cpu"] -= warm["cpu"]
            fal["cdn_get"] = fal["by_route"].get("cdn_get", 0) - warm["by_route"].get("cdn_get", 0)
            fal["requests"] = [r for r in fal["requests"] if r[1] >= started]
            measured = {r[0] for r in fal["requests"]}
            fal["by_request"] = {k: v for k, v in fal["by_request"].items() if k in measured}
    finally:
        await watcher.close()
        for worker in workers:
            await worker.stop()
        if sim is not None:
            await sim.stop()
    dump({"fal": fal, "stats": stats})
    print(f"--- {processes} process(es), fal = {fal_kind}, C = {slots}, L = {latency} s ({note})")
    flow(fal["requests"], stats, latency=latency, slots=slots)
    print(f"jobs delivered: {delivered} of {jobs + 2 * slots} (with the warm-up round)")
    if sim is not None:
        fal_requests(fal, jobs)
    costs(stats, jobs, committed=committed, sim_cpu=None if sim is None else fal["cpu"])


def dump(figures: dict[str, Any]) -> None:
    """The raw times, for a closer look: to the file named by BENCH_DUMP, if set."""
    if os.environ.get("BENCH_DUMP"):
        Path(os.environ["BENCH_DUMP"]).write_text(json.dumps(figures))


async def run_jobs(
    workers: list[Child],
    watcher: asyncpg.Connection[asyncpg.Record],
    numbers: range,
    *,
    measured: bool,
    within: float,
) -> int:
    """Each process admits its share of `numbers` into the line (no slot free anywhere),
    then every process claims at once; back when all of them are final. How many times the
    database was polled (one transaction each)."""
    before = await watcher.fetchval("SELECT count(*) FROM jobs WHERE final")
    for i, worker in enumerate(workers):
        worker.conn.send(("admit", numbers[i :: len(workers)]))
    for worker in workers:
        assert await worker.recv() == "admitted"
    for worker in workers:
        worker.conn.send("go" if measured else "warm")
    for worker in workers:
        assert await worker.recv() == "going"
    polls = 0
    deadline = time.monotonic() + within
    wanted = before + len(numbers)
    while (final := await watcher.fetchval("SELECT count(*) FROM jobs WHERE final")) < wanted:
        if time.monotonic() > deadline:
            print(f"!!! {wanted - final} jobs did not end within {within:.0f} s")
            break
        polls += 1
        await asyncio.sleep(0.5)
    return polls


def flow(requests: list[Any], stats: list[dict[str, Any]], *, latency: float, slots: int) -> None:
    """Throughput and claim latency, from the times fal saw and each process's line."""
    submits = [r[1] for r in requests]
    done = [(r[1], r[2]) for r in requests if r[2] is not None]
    completions = [c for _, c in done]
    span = max(completions) - min(submits)
    rate = len(done) / span
    mean_l = statistics.fmean(c - s for s, c in done)
    print(
        f"throughput through fal: {len(done)} jobs in {span:.2f} s = {rate:.2f} jobs/s"
        f" -> {100 * rate / (slots / latency):.1f}% of C/L = {slots / latency:.0f}"
        f" ({100 * rate / (slots / mean_l):.1f}% of C over the mean time at fal, {mean_l:.3f} s)"
    )
    events = sorted([(s, 1) for s in submits] + [(c, -1) for c in completions])
    at_fal = peak = 0
    for _, step in events:
        at_fal += step
        peak = max(peak, at_fal)
    print(f"jobs at fal at once: peak {peak} (C = {slots})")
    frees = [t for s in stats for t in s["frees"]]
    claims = [t for s in stats for t in s["claims"]]
    print("claim latency (the k-th slot freed pairs with the (C+k)-th claim and submit):")
    print(f"  slot freed in the DB -> next submit at fal: {ms(gaps(frees, submits, slots))}")
    print(f"    slot freed in the DB -> next claim:       {ms(gaps(frees, claims, slots))}")
    print(f"    claim -> its submit at fal:               {ms(gaps(claims, submits, 0))}")
    print(f"  fal completed -> next submit at fal:        {ms(gaps(completions, submits, slots))}")
    woken = [t for s in stats for t in s["claim_latencies"]]
    print(
        f"  wake-up -> claim (SharedLine.claim_latencies): {ms(woken)};"
        f" claims by process {[s['claimed'] for s in stats]}"
    )


def fal_requests(fal: dict[str, Any], jobs: int) -> None:
    by_route: Counter[str] = Counter()
    for counts in fal["by_request"].values():
        by_route.update(counts)
    routes = ", ".join(f"{k} {v / jobs:.2f}" for k, v in sorted(by_route.items()))
    print(
        f"fal requests per job: {sum(by_route.values()) / jobs:.2f} ({routes})"
        f" + {fal['cdn_get'] / jobs:.2f} CDN download"
    )


def costs(stats: list[dict[str, Any]], jobs: int, *, committed: int, sim_cpu: float | None) -> None:
    trips: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for s in stats:
        trips.update(s["round_trips"])
        calls.update(s["calls"])
    per = ", ".join(
        f"{k} {v / jobs:.1f} ({calls[k] / jobs:.2f} calls)"
        for k, v in trips.most_common()
        if v / jobs >= 0.05
    )
    print(f"DB round trips per job: {sum(trips.values()) / jobs:.1f} [{per}]")
    print(f"DB transactions committed per job (pg_stat_database): {committed / jobs:.1f}")
    cpu = sum(s["cpu"] for s in stats)
    sim = "" if sim_cpu is None else f", simulator {1000 * sim_cpu / jobs:.1f} ms"
    print(f"CPU per job: engines {1000 * cpu / jobs:.1f} ms (all processes){sim}")


def _admission_process(
    conn: Connection, *, dsn: str, slots: int, waiting: int, samples: int
) -> None:
    round_trips = count_round_trips()
    calls: Counter[str] = Counter()

    async def main() -> str:
        store = await PostgresStore.open(dsn)
        store.serve_as("bench-admission", lease_seconds=15)
        name_store_methods(store, calls)
        engine = Engine(
            store=store,
            fal=HeldGateway(),
            clock=SystemClock(),
            catalog=build_catalog(),
            config=config(slots),
            line_store=store,
        )
        engine.add_reply_factory(RecordingReplyFactory())
        await engine.start()
        try:
            for i in range(waiting + slots):
                await submit(engine, job(i), RecordingReply())
            await asyncio.sleep(0.5)  # the last wake-ups' claims are done
            load = os.getloadavg()[0]
            ticks = cpu_ticks()
            trips0, calls0 = Counter(round_trips), Counter(calls)
            profile = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
            if profile is not None:
                profile.enable()
            timings = []
            for i in range(samples):
                t0 = time.perf_counter()
                await submit(engine, job(waiting + slots + i), RecordingReply())
                timings.append(time.perf_counter() - t0)
            if profile is not None:
                profile.disable()
                profile.dump_stats(f"{os.environ['BENCH_PROFILE']}.admission")
            note = steal_note(ticks, cpu_ticks())
            await asyncio.sleep(0.5)  # the claims the last submits woke up
            trips, made = round_trips - trips0, calls - calls0
            _, in_line = await store.waiting_line(limit=1)
        finally:
            await engine.stop()
            await store.close()
        per = ", ".join(
            f"{k} {v / samples:.1f} ({made[k] / samples:.2f} calls)" for k, v in trips.most_common()
        )
        return (
            f"admission with {waiting}+ waiting ({in_line} at the end): {ms(timings)}"
            f" over {samples} submits (load {load:.1f}{note})\n"
            f"DB round trips per admission: {sum(trips.values()) / samples:.1f} [{per}]"
        )

    with runner() as loop:
        conn.send(loop.run(main()))


async def admission(dsn: str, *, slots: int, waiting: int, samples: int) -> None:
    """Admission on PostgreSQL with `waiting` jobs in the line (fal never answers, so the
    `slots` jobs sent to it stay there), in a process of its own."""
    await empty(dsn)
    child = Child(_admission_process, dsn=dsn, slots=slots, waiting=waiting, samples=samples)
    try:
        print(await child.recv(within=600))
    finally:
        await child.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default=SERVER, help="PostgreSQL server (a database URL)")
    parser.add_argument("--latency", type=float, default=1.0, help="fal latency L, seconds")
    parser.add_argument("--slots", type=int, default=20, help="C, FALBOT_MAX_CONCURRENCY")
    parser.add_argument("--jobs", type=int, default=400, help="jobs per throughput run")
    parser.add_argument("--processes", default="1,2,4", help="process counts, comma-separated")
    parser.add_argument("--runs", type=int, default=1, help="throughput runs per process count")
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=500, help="admission submits timed")
    parser.add_argument(
        "--fal",
        choices=("sim", "fake", "both"),
        default="sim",
        help="the fal simulator over HTTP (fal-client), or fal in each engine's process",
    )
    parser.add_argument("--only", choices=("throughput", "admission"), action="append")
    args = parser.parse_args()
    chosen = set(args.only or ("throughput", "admission"))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    async with bench_database(args.server) as dsn:
        if "throughput" in chosen:
            for fal_kind in ("sim", "fake") if args.fal == "both" else (args.fal,):
                for processes in (int(p) for p in args.processes.split(",")):
                    for _ in range(args.runs):
                        await throughput(
                            dsn,
                            fal_kind=fal_kind,
                            processes=processes,
                            latency=args.latency,
                            slots=args.slots,
                            jobs=args.jobs,
                        )
        if "admission" in chosen:
            await admission(dsn, slots=args.slots, waiting=args.waiting, samples=args.samples)


if __name__ == "__main__":
    asyncio.run(main())
