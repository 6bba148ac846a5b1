"""`falbot run` as a real child process: started, watched through its JSON log lines, killed.

The child writes one JSON line per log record to stderr; a reader task keeps every line (so the
pipe never fills) and wakes waiters on each one, so a test waits for "falbot is running" or any
other line as the event it is, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FALBOT = [sys.executable, "-m", "bot.cli", "run"]


def free_port() -> int:
    """A TCP port nothing listens on right now, for a child to bind a moment later (and again
    after each restart).

    Picked below the kernel's ephemeral range: a port the kernel handed out with bind(0) is also
    what it hands to any outgoing connection on the machine, which would then hold it when the
    child binds (or rebinds it after a SIGKILL)."""
    low, _ = _ephemeral_range()
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(10_000, low)
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any falbot, fal, Discord or Slack setting, plus
    `extra`: the child sees exactly what the test gives it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FAL_", "FALBOT_", "DISCORD_", "SLACK_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


class FalbotProcess:
    """One `falbot run` child. `lines` holds every stderr line it wrote, parsed when JSON."""

    def __init__(
        self, env: Mapping[str, str], *, cwd: Path, command: Sequence[str] | None = None
    ) -> None:
        self._env = clean_environment(env)
        self._cwd = cwd
        self._command = list(command or FALBOT)
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self.raw_lines: list[str] = []
        self.lines: list[dict[str, Any]] = []
        self.stdout = ""

    async def start(self, *, ready_within: float = 20.0) -> None:
        """Start the child and return once it logged that it is running."""
        self._proc = await asyncio.create_subprocess_exec(
            *self._command,
            cwd=self._cwd,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read(), name="falbot-stderr")
        await self.wait_for_line(lambda line: line.get("event") == "started", within=ready_within)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def spawned_pid(self) -> int | None:
        """The child's pid once it was spawned (`start` is still waiting for it), else None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    async def wait_for_line(
        self, predicate: Callable[[dict[str, Any]], bool], *, within: float, count: int = 1
    ) -> dict[str, Any]:
        """The `count`-th log line matching `predicate`; fails when the child exits first or
        time is up."""

        def found() -> dict[str, Any] | None:
            matching = [line for line in self.lines if predicate(line)]
            return matching[count - 1] if len(matching) >= count else None

        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(
                    lambda: found() is not None or self._reader is None or self._reader.done()
                )
        except TimeoutError:
            raise AssertionError(f"no such log line within {within} s:\n{self.tail()}") from None
        line = found()
        if line is None:
            raise AssertionError(f"falbot exited ({self.returncode}):\n{self.tail()}")
        return line

    def tail(self, count: int = 30) -> str:
        return "\n".join(self.raw_lines[-count:]) + ("\n" + self.stdout if self.stdout else "")

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when the machine loses power."""
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            self._proc.send_signal(signal.SIGKILL)
        await self._finish()

    async def terminate(self, *, within: float) -> float:
        """SIGTERM, then wait for the exit; returns the seconds it took. Fails past `within`."""
        assert self._proc is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(within):
                await self._finish()
        except TimeoutError:
            await self.kill()
            raise AssertionError(f"falbot did not exit within {within} s of SIGTERM") from None
        return loop.time() - started

    async def close(self) -> None:
        """Kill the child if it still runs and stop reading it (idempotent)."""
        if self._proc is not None and self._proc.returncode is None:
            await self.kill()
        await self._finish()

    async def _finish(self) -> None:
        if self._proc is None:
            return
        out = await self._proc.stdout.read() if self._proc.stdout else b""
        self.stdout += out.decode(errors="replace")
        await self._proc.wait()
        if self._reader is not None:
            await self._reader

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        try:
            while raw := await self._proc.stderr.readline():
                text = raw.decode(errors="replace").rstrip("\n")
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = {"msg": text}
                async with self._changed:
                    self.raw_lines.append(text)
                    self.lines.append(parsed if isinstance(parsed, dict) else {"msg": text})
                    self._changed.notify_all()
        finally:
            async with self._changed:
                self._changed.notify_all()
