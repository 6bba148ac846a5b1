"""`falbot run` under a profiler, for bench/cpu_per_job.py --profile and --sample.

SIGUSR1 starts profiling, SIGUSR2 stops it and writes the result to the file
FALBOT_BENCH_PROFILE names, then logs "profile saved". FALBOT_BENCH_PROFILER picks the profiler:
  - `cprofile`: cProfile on the event loop's thread, timed by that thread's CPU clock (waits and
    other threads' turns under the GIL are not charged; its own overhead is, per call);
  - `sample`: a statistical profiler on CPU time: SIGPROF after each millisecond of the
    process's CPU (every thread); the handler charges the CPU used since the previous sample to
    the event loop thread's Python stack (signals that come during one long C call are handled
    once, after it, so the time is weighed, not counted). Time in C code and in the kernel lands
    on the Python line that called it; other threads' CPU lands on wherever the loop thread was
    (mostly waiting in epoll). Written as collapsed stacks with microseconds.
Nothing else differs from `python -m bot.cli run`.
"""

from __future__ import annotations

import cProfile
import gc
import logging
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cli import main

log = logging.getLogger("bench.profile")
EVERY = 0.001  # seconds of CPU between two samples


_db_calls: Counter[str] = Counter()


def _count_database_calls() -> None:
    """Count what goes to aiosqlite's thread (each a round trip), by the function or the SQL's
    first words, for the "profile saved" line."""
    import aiosqlite

    queue_call = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if _counting:
            what = " ".join(args[0].split()[:4]) if args and isinstance(args[0], str) else ""
            _db_calls[what or getattr(fn, "__name__", "?")] += 1
        return await queue_call(self, fn, *args, **kwargs)

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]


_counting = False


def _counting_on(on: bool) -> None:
    global _counting
    _counting = on


def _saved() -> None:
    log.warning(
        "profile saved",
        extra={"falbot": {"event": "profile saved", "database_calls": dict(_db_calls)}},
    )


def install_cprofile(path: str) -> None:
    profiler = cProfile.Profile(time.thread_time)

    def start(_sig: int, _frame: FrameType | None) -> None:
        _counting_on(True)
        profiler.enable()

    def stop(_sig: int, _frame: FrameType | None) -> None:
        profiler.disable()
        _counting_on(False)
        profiler.dump_stats(path)
        _saved()

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)


def _where(frame: FrameType, *, line: bool) -> str:
    code = frame.f_code
    return (
        f"{code.co_qualname} ({code.co_filename}:{frame.f_lineno if line else code.co_firstlineno})"
    )


def install_sampler(path: str) -> None:
    stacks: Counter[str] = Counter()
    last = [0.0]

    def sample(_sig: int, frame: FrameType | None) -> None:
        now = time.process_time()
        used, last[0] = now - last[0], now
        if frame is None:
            return
        names = [_where(frame, line=True)]
        outer = frame.f_back
        while outer is not None:
            names.append(_where(outer, line=False))
            outer = outer.f_back
        stacks[";".join(reversed(names))] += round(used * 1e6)

    collecting = [0.0]

    def collection(phase: str, info: dict[str, int]) -> None:
        # The collector runs in C, where no signal handler can: its time is its own entry.
        now = time.process_time()
        if phase == "start":
            collecting[0] = now
            return
        stacks[f"[garbage collection, generation {info['generation']}]"] += round(
            (now - collecting[0]) * 1e6
        )
        last[0] = max(last[0], collecting[0]) + (now - collecting[0])

    def start(_sig: int, _frame: FrameType | None) -> None:
        _counting_on(True)
        last[0] = time.process_time()
        gc.callbacks.append(collection)
        signal.signal(signal.SIGPROF, sample)
        signal.setitimer(signal.ITIMER_PROF, EVERY, EVERY)

    def stop(_sig: int, _frame: FrameType | None) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        gc.callbacks.remove(collection)
        _counting_on(False)
        with open(path, "w", encoding="utf-8") as out:
            for stack, count in stacks.items():
                out.write(f"{stack} {count}\n")
        _saved()

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)


if __name__ == "__main__":
    _count_database_calls()
    where = os.environ["FALBOT_BENCH_PROFILE"]
    if os.environ.get("FALBOT_BENCH_PROFILER", "cprofile") == "sample":
        install_sampler(where)
    else:
        install_cprofile(where)
    sys.exit(main(["run"]))
